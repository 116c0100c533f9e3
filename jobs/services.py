"""Writes to jobs: the first send creates the project's job; the rest is the ERP core's."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from erpsync.models import UpdateRequest
from erpsync.services import erp_send, locked_for_edit, record_edit, require_storable
from erpsync.states import ErpState, ItemLocked
from erpsync.updates import erp_request_update
from jobs.models import JOB_ADMIN_REQUIRED, Job
from projects.models import Company, Project, ProjectMembership, ToolLevel
from projects.permissions import PROJECT_CREATOR_REQUIRED, can_create_projects, can_manage_sub_jobs

# The creator runs the new project: Admin on each of its tools, as Procore's project template
# gives whoever creates a project.
CREATOR_LEVELS = {
    "admin_level": ToolLevel.ADMIN,
    "prime_contracts_level": ToolLevel.ADMIN,
    "commitments_level": ToolLevel.ADMIN,
}


def project_create(*, company: Company, user: Any, number: str, name: str) -> Project:
    """Add a project to the company, with its creator as the project's Admin and its job not
    yet sent (the audit trail starts with who created it). A number the company already uses
    is refused at the field."""
    if not can_create_projects(user, company):
        raise PermissionDenied(PROJECT_CREATOR_REQUIRED)
    number, name = number.strip(), name.strip()
    require_storable(number=number, name=name)
    errors = {}
    if not number:
        errors["number"] = "Enter a project number."
    if not name:
        errors["name"] = "Enter a project name."
    if errors:
        raise ValidationError(errors)
    taken = ValidationError({"number": f"Project number {number!r} is already used."})
    if Project.objects.filter(company=company, number__iexact=number).exists():
        raise taken
    try:
        with transaction.atomic():
            project = Project.objects.create(company=company, number=number, name=name)
            ProjectMembership.objects.create(project=project, user=user, **CREATOR_LEVELS)
            job = Job.objects.create(project=project)
            record_edit(
                item=job,
                user=user,
                changes={"number": ["", number], "name": ["", name]},
                created=True,
            )
    except IntegrityError:
        raise taken from None  # a concurrent create took the number between check and insert
    return project


@transaction.atomic
def job_send(*, project: Project, user: Any) -> Job:
    """Send the project to the ERP as its job, creating the job on the first send. A refused
    send (ErpActionRefused) rolls the new job back with it: nothing half-saved."""
    # The project's row serialises two first sends: one creates the job, the other finds it.
    Project.objects.select_for_update().filter(pk=project.pk).first()
    job, _ = Job.objects.get_or_create(project=project)
    return erp_send(item=job, user=user)


def hand_synced_reason(project: Project) -> str:
    """Why a project flagged synced by hand (no job in erpsync) cannot be renamed here."""
    return (
        f"The project was marked synced with the ERP by hand (ERP job {project.erp_job_id}): "
        "erpsync has no job of it to send a new name through, so renaming it here would leave "
        "the ERP behind. Rename it in the ERP first, then ask an administrator to set it here."
    )


@transaction.atomic
def project_rename(*, project: Project, user: Any, name: str) -> UpdateRequest | None:
    """Rename the project (its job's name in the ERP). Once the job is synced the new name is an
    update request for the accounting approvers (Ready to Update) and the job stays synced;
    before it is sent, or while it may be edited (rejected, retrieved), the name just changes
    (with an audit row on the job when it has one); while it waits for approvers or is being
    exported it is locked (ItemLocked with the reason). `projects` sits below the ERP core, so
    a project's rename goes through here."""
    if not can_manage_sub_jobs(user, project):
        raise PermissionDenied(JOB_ADMIN_REQUIRED)
    locked_project = Project.objects.select_for_update().get(pk=project.pk)
    job = Job.objects.select_related("project__company").filter(project=locked_project).first()
    if job is not None and job.erp_state == ErpState.SYNCED:
        return erp_request_update(item=job, user=user, values={"name": name})
    if job is None and locked_project.erp_synced:
        raise ItemLocked(hand_synced_reason(locked_project))
    if job is not None:
        job = locked_for_edit(job)
    old, new = locked_project.name, (name or "").strip()
    if new != old:
        locked_project.name = new
        locked_project.full_clean(validate_constraints=False)
        locked_project.save(update_fields=["name"])
        if job is not None:
            record_edit(item=job, user=user, changes={"name": [old, new]})
    project.name = locked_project.name
    return None
