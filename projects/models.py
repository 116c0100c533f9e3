"""Companies, projects, memberships with tool permission levels, and point-of-view dictionaries."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q


class PointOfView(models.TextChoices):
    GENERAL_CONTRACTOR = "general_contractor", "General Contractors (default)"
    OWNER = "owner", "Owners"
    SPECIALTY_CONTRACTOR = "specialty_contractor", "Specialty Contractors"


class ToolLevel(models.IntegerChoices):
    NONE = 0, "None"
    READ_ONLY = 10, "Read Only"
    STANDARD = 20, "Standard"
    ADMIN = 30, "Admin"


class ProjectTool(models.TextChoices):
    ADMIN = "admin", "Admin"
    PRIME_CONTRACTS = "prime_contracts", "Prime Contracts"
    COMMITMENTS = "commitments", "Commitments"


def _validate_adapter_key(value: str) -> None:
    if value not in settings.ERP_ADAPTERS:
        known = ", ".join(sorted(settings.ERP_ADAPTERS))
        raise ValidationError(f"Unknown ERP adapter {value!r}: choose one of {known}.")


def default_adapter() -> str:
    return settings.ERP_DEFAULT_ADAPTER


class Company(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    pov_dictionary = models.CharField(
        "point-of-view dictionary",
        max_length=30,
        choices=PointOfView.choices,
        default=PointOfView.GENERAL_CONTRACTOR,
    )
    erp_adapter = models.CharField(
        "ERP adapter", max_length=40, default=default_adapter, validators=[_validate_adapter_key]
    )
    erp_settings = models.JSONField("ERP adapter settings", default=dict, blank=True)
    # Approval policy (README, Approval policy).
    block_self_approval = models.BooleanField(
        "block self-approval",
        default=True,
        help_text="Nobody may accept an item they sent or last edited.",
    )
    remind_after_days = models.PositiveSmallIntegerField(
        "remind after (business days)",
        default=2,
        help_text="Approvers get a daily reminder of an item that has waited this long.",
    )
    escalate_after_days = models.PositiveSmallIntegerField(
        "escalate after (business days)",
        default=5,
        help_text="The ERP Integrations tool's Admins are told of an item that has waited "
        "this long.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "companies"

    def __str__(self) -> str:
        return self.name


class CompanyMembership(models.Model):
    """A user's record in the company directory, with the ERP Integrations tool settings."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="company_memberships"
    )
    erp_tool_level = models.PositiveSmallIntegerField(
        "ERP Integrations tool", choices=ToolLevel.choices, default=ToolLevel.NONE
    )
    can_push_to_accounting = models.BooleanField(
        "can push to accounting",
        default=False,
        help_text="With Standard or Admin on the ERP Integrations tool, makes the user an "
        "accounting approver.",
    )
    erp_digest_subscribed = models.BooleanField("subscribe to ERP digest emails", default=False)
    # db_default too: code that predates the column (a rolling deploy) still inserts rows.
    can_create_projects = models.BooleanField(
        "can create projects",
        default=False,
        db_default=False,
        help_text="May add projects to the company (Admins of its ERP Integrations tool may too); "
        "the creator becomes the new project's Admin.",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["company", "user"], name="one_membership_per_company")
        ]

    def __str__(self) -> str:
        return f"{self.user} at {self.company}"

    @property
    def is_accounting_approver(self) -> bool:
        return self.can_push_to_accounting and self.erp_tool_level >= ToolLevel.STANDARD

    @property
    def is_erp_tool_admin(self) -> bool:
        """Admin on the company's ERP Integrations tool."""
        return self.erp_tool_level == ToolLevel.ADMIN

    @property
    def creates_projects(self) -> bool:
        return self.can_create_projects or self.is_erp_tool_admin

    def export_kinds(self) -> frozenset[str]:
        """The kinds of item (ErpItem.erp_kind) this member may accept, when an approver.
        Read once per membership object (prefetch `export_rights` for many)."""
        return frozenset(right.kind for right in self.export_rights.all())


class ExportRight(models.Model):
    """An accounting approver's right to accept one kind of item (Procore's "Can Export?" per
    tool). The kinds are ErpItem.erp_kind keys; this app knows none of them by name."""

    membership = models.ForeignKey(
        CompanyMembership, on_delete=models.CASCADE, related_name="export_rights"
    )
    kind = models.CharField(max_length=40)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["membership", "kind"], name="one_export_right_per_kind")
        ]

    def __str__(self) -> str:
        return f"{self.membership}: {self.kind}"


class OutOfOffice(models.Model):
    """An approver away from `starts_on` to `ends_on` (inclusive): `delegate`, who holds the
    same export rights, gets their emails and decides in their stead, named as such."""

    membership = models.ForeignKey(
        CompanyMembership, on_delete=models.CASCADE, related_name="absences"
    )
    starts_on = models.DateField()
    ends_on = models.DateField()
    delegate = models.ForeignKey(
        CompanyMembership, on_delete=models.CASCADE, related_name="stand_ins"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["starts_on", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__gte=F("starts_on")),
                name="absence_ends_after_it_starts",
                violation_error_message="An out-of-office period cannot end before it starts.",
            ),
            models.CheckConstraint(
                condition=~Q(delegate=F("membership")),
                name="absence_delegate_is_someone_else",
                violation_error_message="Choose someone else as the delegate.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.membership} away {self.starts_on} – {self.ends_on}"


class Project(models.Model):
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="projects")
    number = models.CharField(max_length=30)
    name = models.CharField(max_length=200)
    erp_synced = models.BooleanField("synced with ERP", default=False)
    erp_job_id = models.CharField("ERP job id", max_length=100, blank=True)

    class Meta:
        ordering = ["number"]
        constraints = [
            models.UniqueConstraint(
                fields=["company", "number"], name="project_number_per_company"
            ),
            models.CheckConstraint(
                condition=Q(erp_synced=False) | ~Q(erp_job_id=""),
                name="synced_project_has_job_id",
                violation_error_message="A project synced with the ERP needs its ERP job id.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.name}"


class ProjectMembership(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="project_memberships"
    )
    admin_level = models.PositiveSmallIntegerField(
        "Admin tool", choices=ToolLevel.choices, default=ToolLevel.NONE
    )
    prime_contracts_level = models.PositiveSmallIntegerField(
        "Prime Contracts tool", choices=ToolLevel.choices, default=ToolLevel.NONE
    )
    commitments_level = models.PositiveSmallIntegerField(
        "Commitments tool", choices=ToolLevel.choices, default=ToolLevel.NONE
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="one_membership_per_project")
        ]

    def __str__(self) -> str:
        return f"{self.user} on {self.project}"

    def level(self, tool: ProjectTool) -> ToolLevel:
        return ToolLevel(getattr(self, f"{ProjectTool(tool).value}_level"))

    def clean(self) -> None:
        if (
            self.project_id
            and self.user_id
            and not CompanyMembership.objects.filter(
                company_id=self.project.company_id, user_id=self.user_id
            ).exists()
        ):
            raise ValidationError(
                {"user": "Add the user to the project's company before adding them to a project."}
            )
