"""Writes to sub jobs. Every one checks permission and the ERP lock on the server."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from erpsync.models import UpdateRequest
from erpsync.services import (
    assign_fields,
    erp_retrieve,
    erp_send,
    locked_for_edit,
    record_edit,
    require_model_permission,
)
from erpsync.updates import erp_request_update
from projects.models import Project
from projects.permissions import SUB_JOB_ADMIN_REQUIRED, can_manage_sub_jobs
from subjobs.models import SubJob, SubJobStatus

EDITABLE_FIELDS = {"code", "name", "status"}


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


# The writes themselves, once the caller's permission is checked: validation, lock, audit row.


def _create(*, project: Project, user: Any, code: str, name: str, status: str) -> SubJob:
    sub_job = SubJob(project=project, code=code, name=name, status=status, created_by=user)
    _save(sub_job)
    record_edit(
        item=sub_job,
        user=user,
        changes={"code": ["", sub_job.code], "name": ["", sub_job.name]},
        created=True,
    )
    return sub_job


def _update(
    *, sub_job: SubJob, user: Any, fields: dict[str, Any], seen_event: int | None = None
) -> SubJob:
    locked = locked_for_edit(sub_job, seen_event=seen_event)
    changes = assign_fields(locked, fields, allowed=EDITABLE_FIELDS)
    if changes:
        _save(locked)
        record_edit(item=locked, user=user, changes=changes)
    return locked


# ----- the project's pages ------------------------------------------------------------------


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
    return _create(project=project, user=user, code=code, name=name, status=status)


@transaction.atomic
def sub_job_update(
    *, sub_job: SubJob, user: Any, seen_event: int | None = None, **fields: Any
) -> SubJob:
    """Change code, name or status; refused while the sub job is with the ERP tool, and with
    StaleEdit when `seen_event` shows the form was opened before someone else's change."""
    _require_admin(user, sub_job.project)
    return _update(sub_job=sub_job, user=user, fields=fields, seen_event=seen_event)


def sub_job_request_update(
    *, sub_job: SubJob, user: Any, name: str, code: str | None = None
) -> UpdateRequest | None:
    """Rename a synced sub job: the new name is an update request for the accounting approvers
    (Ready to Update); the sub job stays synced. Its Sub Job ID is its key in the ERP: a
    different one is refused at the field."""
    _require_admin(user, sub_job.project)
    if code is not None and code.strip() != sub_job.code:
        raise ValidationError(
            {"code": "The Sub Job ID of a synced sub job cannot change: it is its key in the ERP."}
        )
    return erp_request_update(item=sub_job, user=user, values={"name": name})


def sub_job_approve(*, sub_job: SubJob, user: Any) -> SubJob:
    return sub_job_update(sub_job=sub_job, user=user, status=SubJobStatus.APPROVED)


def sub_job_send_to_erp(*, sub_job: SubJob, user: Any) -> SubJob:
    return erp_send(item=sub_job, user=user)


def sub_job_retrieve_from_erp(*, sub_job: SubJob, user: Any) -> SubJob:
    return erp_retrieve(item=sub_job, user=user)


# ----- the Django admin: its own permission, the same lock, validation and audit ------------


@transaction.atomic
def sub_job_admin_create(
    *, project: Project, user: Any, code: str, name: str, status: str = SubJobStatus.DRAFT
) -> SubJob:
    require_model_permission(user, "add", SubJob)
    return _create(project=project, user=user, code=code, name=name, status=status)


@transaction.atomic
def sub_job_admin_update(*, sub_job: SubJob, user: Any, **fields: Any) -> SubJob:
    require_model_permission(user, "change", SubJob)
    return _update(sub_job=sub_job, user=user, fields=fields)


@transaction.atomic
def sub_job_admin_delete(*, sub_job: SubJob, user: Any) -> None:
    """Only a sub job never sent to ERP: a sent one's history is kept."""
    require_model_permission(user, "delete", SubJob)
    locked = locked_for_edit(sub_job)
    if locked.erp_version:
        raise ValidationError(
            "A sub job that has been sent to ERP cannot be deleted: its history is kept."
        )
    record_edit(item=locked, user=user, changes={"sub job": [str(locked), "deleted"]})
    locked.delete()
