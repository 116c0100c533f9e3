"""Writes to jobs: the first send creates the project's job; the rest is the ERP core's."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from erpsync.services import erp_send, record_edit, require_storable
from jobs.models import Job
from projects.models import Company, Project, ProjectMembership, ToolLevel
from projects.permissions import PROJECT_CREATOR_REQUIRED, can_create_projects

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
