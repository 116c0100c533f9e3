from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.urls import reverse

from erpsync.models import ErpItem
from erpsync.snapshots import SnapshotFormat
from projects.models import Company, Project
from projects.permissions import SUB_JOB_ADMIN_REQUIRED, can_manage_sub_jobs

SUB_JOB_CODE_MAX = 30
SUB_JOB_NAME_MAX = 200


class SubJobStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    APPROVED = "approved", "Approved"


class SubJob(ErpItem):
    erp_kind = "sub_job"
    erp_kind_label = "sub job"
    erp_company_path = "project__company"
    erp_project_path = "project"
    erp_related = ("project__company",)
    erp_search_fields = ("code",)
    erp_sender_permission_message = SUB_JOB_ADMIN_REQUIRED

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="sub_jobs")
    code = models.CharField(
        "Sub Job ID",
        max_length=SUB_JOB_CODE_MAX,
        help_text=f"At most {SUB_JOB_CODE_MAX} characters, unique in the project.",
    )
    name = models.CharField(max_length=SUB_JOB_NAME_MAX)
    status = models.CharField(
        max_length=20, choices=SubJobStatus.choices, default=SubJobStatus.DRAFT
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(ErpItem.Meta):
        ordering = ["project", "code"]
        constraints = [
            models.UniqueConstraint(fields=["project", "code"], name="sub_job_code_per_project"),
            models.UniqueConstraint(
                "project", Lower("code"), name="sub_job_code_per_project_any_case"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    def clean(self) -> None:
        self.code = (self.code or "").strip()
        self.name = (self.name or "").strip()
        errors: dict[str, str] = {}
        if not self.code:
            errors["code"] = "Enter a Sub Job ID."
        elif self.project_id:
            # ERPs compare job codes without regard to case: 01-a and 01-A would collide there.
            taken = (
                SubJob.objects.filter(project_id=self.project_id, code__iexact=self.code)
                .exclude(pk=self.pk)
                .values_list("code", flat=True)
                .first()
            )
            if taken == self.code:
                errors["code"] = f"Sub Job ID {self.code!r} is already used in this project."
            elif taken is not None:
                errors["code"] = (
                    f"Sub Job ID {self.code!r} differs only in case from {taken!r}, already "
                    "used in this project."
                )
        if not self.name:
            errors["name"] = "Enter a name."
        if errors:
            raise ValidationError(errors)

    # ----- ErpItem -------------------------------------------------------------------------

    erp_tab_order = 10
    # A synced sub job's name may change (an update request, Ready to Update); its Sub Job ID
    # is its key in the ERP and stays.
    erp_updatable_fields = ("name",)
    erp_search_fields = ("code", "name", "project__number", "project__name")
    erp_sort_field = "code"

    @classmethod
    def erp_csv_columns(cls, company: Company) -> list[tuple[str, str]]:
        return [("Sub Job ID", "code"), ("Name", "name"), ("Status", "get_status_display")]

    @classmethod
    def erp_tab_label(cls, company: Company) -> str:
        return "Sub Jobs"

    @property
    def erp_company(self) -> Company:
        return self.project.company

    @property
    def erp_title(self) -> str:
        return f"sub job {self.code}"

    def get_absolute_url(self) -> str:
        return reverse("sub_job_detail", args=[self.project_id, self.pk])

    def erp_send_preconditions(self) -> list[str]:
        reasons = []
        if self.status != SubJobStatus.APPROVED:
            reasons.append("The sub job is not in the Approved status.")
        if not self.project.erp_synced:
            reasons.append("The project is not synced with the ERP.")
        return reasons

    def erp_sender_may(self, user: Any) -> bool:
        return can_manage_sub_jobs(user, self.project)

    erp_snapshot_format = SnapshotFormat(
        labels={"code": "Sub Job ID", "erp_job_id": "ERP job id"},
        order=("code", "name", "project", "number", "erp_job_id"),
    )

    @classmethod
    def erp_snapshot_summary(cls, snapshot: dict[str, Any]) -> str:
        return f"{snapshot.get('code', '')} {snapshot.get('name', '')}".strip()

    def erp_snapshot(self) -> dict[str, Any]:
        return {
            "kind": self.erp_kind,
            "code": self.code,
            "name": self.name,
            "project": {
                "number": self.project.number,
                "name": self.project.name,
                "erp_job_id": self.project.erp_job_id,
            },
        }
