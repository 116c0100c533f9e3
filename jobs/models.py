"""The project as an ERP item: its job. Sub jobs and owner invoices wait for it to be synced."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.urls import reverse

from erpsync.kinds import erp_item_models
from erpsync.models import ErpItem
from erpsync.snapshots import SnapshotFormat
from erpsync.states import EDITABLE_STATES, ErpState
from projects.models import Company, Project
from projects.permissions import SUB_JOB_ADMIN_REQUIRED, can_manage_sub_jobs

JOB_ADMIN_REQUIRED = SUB_JOB_ADMIN_REQUIRED


class Job(ErpItem):
    """A project's job in the ERP, one per project. Created when the project is first sent
    (a project never sent has none), or by the data migration for projects already synced."""

    erp_kind = "job"
    erp_kind_label = "job"
    erp_company_path = "project__company"
    erp_project_path = "project"
    erp_related = ("project__company",)
    erp_sender_permission_message = JOB_ADMIN_REQUIRED

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="erp_job")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(ErpItem.Meta):
        ordering = ["project__number"]

    def __str__(self) -> str:
        return f"job {self.project.number}"

    # ----- ErpItem -------------------------------------------------------------------------

    erp_tab_order = 5  # first: nothing else of a project can be sent before its job
    # The project's name may change once its job is synced (an update request); its number
    # is the job's code in the ERP and stays.
    erp_updatable_fields = ("name",)

    def erp_update_values(self) -> dict[str, str]:
        return {"name": self.project.name}

    def erp_update_apply(self, values: dict[str, str]) -> None:
        project = self.project
        project.name = values["name"]
        project.full_clean(validate_constraints=False)
        project.save(update_fields=["name"])

    erp_search_fields = ("project__number", "project__name")
    erp_sort_field = "project__number"

    @classmethod
    def erp_csv_columns(cls, company: Company) -> list[tuple[str, str]]:
        return [("Project number", "project.number"), ("Project name", "project.name")]

    @classmethod
    def erp_tab_label(cls, company: Company) -> str:
        return "Jobs"

    @property
    def erp_company(self) -> Company:
        return self.project.company

    @property
    def erp_title(self) -> str:
        return f"job {self.project.number}"

    def get_absolute_url(self) -> str:
        return reverse("job_detail", args=[self.project_id])

    def erp_send_preconditions(self) -> list[str]:
        # A project flagged synced by hand (the Django admin, before jobs existed) already has
        # its job in the ERP: sending it again would make a second one.
        if self.project.erp_synced and self.erp_state != ErpState.SYNCED:
            return [f"The project is already synced with the ERP as job {self.project.erp_job_id}."]
        return []

    def erp_unlink_preconditions(self) -> list[str]:
        # The project's other items hang under the job in the ERP (a sub job's account is a
        # child of the job's; an invoice's lines are tagged with it) and their snapshots carry
        # its ERP id: unlinking the job under them would leave them pointing at a voided one.
        held = []
        for model in erp_item_models():
            if model is Job:
                continue
            rows = model.objects.filter(**{model.erp_project_path: self.project_id}).exclude(
                erp_state__in=EDITABLE_STATES
            )
            held += [str(item.erp_title) for item in rows.select_related(*model.erp_related)[:6]]
        if not held:
            return []
        named = ", ".join(held[:5]) + (" and more" if len(held) > 5 else "")
        verb = "is" if len(held) == 1 else "are"
        return [
            f"The project's {named} {verb} with the ERP Integrations tool or synced under this "
            "job: unlink, retrieve or reject them first."
        ]

    def erp_sender_may(self, user: Any) -> bool:
        return can_manage_sub_jobs(user, self.project)

    erp_snapshot_format = SnapshotFormat(
        labels={"number": "Project number", "name": "Project name"}, order=("number", "name")
    )

    @classmethod
    def erp_snapshot_summary(cls, snapshot: dict[str, Any]) -> str:
        return f"{snapshot.get('number', '')} {snapshot.get('name', '')}".strip()

    def erp_snapshot(self) -> dict[str, Any]:
        return {"kind": self.erp_kind, "number": self.project.number, "name": self.project.name}
