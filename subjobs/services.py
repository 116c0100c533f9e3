"""Writes to sub jobs. Every one checks permission and the ERP lock on the server."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from erpsync.services import (
    assign_fields,
    erp_retrieve,
    erp_send,
    locked_for_edit,
    record_edit,
)
from projects.models import Project
from projects.permissions import SUB_JOB_ADMIN_REQUIRED, can_manage_sub_jobs
from subjobs.models import SubJob, SubJobStatus


def _require_admin(user: Any, project: Project) -> None:
    if not can_manage_sub_jobs(user, project):
        raise PermissionDenied(SUB_JOB_ADMIN_REQUIRED)


def _save(sub_job: SubJob) -> None:
    sub_job.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            sub_job.save()
    except IntegrityError:
        # A concurrent add took the code between our check and our insert.
        raise ValidationError(
            {"code": f"Sub Job ID {sub_job.code!r} is already used in this project."}
        ) from None


@transaction.atomic
def sub_job_create(
    *,
    project: Project,
    user: Any,
    code: str,
    name: str,
    status: str = SubJobStatus.DRAFT,
) -> SubJob:
    _require_admin(user, project)
    sub_job = SubJob(project=project, code=code, name=name, status=status, created_by=user)
    _save(sub_job)
    record_edit(
        item=sub_job,
        user=user,
        changes={"code": ["", sub_job.code], "name": ["", sub_job.name]},
        created=True,
    )
    return sub_job


@transaction.atomic
def sub_job_update(*, sub_job: SubJob, user: Any, **fields: Any) -> SubJob:
    """Change code, name or status; refused while the sub job is with the ERP tool."""
    _require_admin(user, sub_job.project)
    locked = locked_for_edit(sub_job)
    changes = assign_fields(locked, fields, allowed={"code", "name", "status"})
    if changes:
        _save(locked)
        record_edit(item=locked, user=user, changes=changes)
    return locked


def sub_job_approve(*, sub_job: SubJob, user: Any) -> SubJob:
    return sub_job_update(sub_job=sub_job, user=user, status=SubJobStatus.APPROVED)


def sub_job_send_to_erp(*, sub_job: SubJob, user: Any) -> SubJob:
    return erp_send(item=sub_job, user=user)


def sub_job_retrieve_from_erp(*, sub_job: SubJob, user: Any) -> SubJob:
    return erp_retrieve(item=sub_job, user=user)
