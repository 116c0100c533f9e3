"""Helpers of the Ready to Update and Unlink tests: items synced for real
through the company's adapter, and the approvers' URLs and posts."""

from __future__ import annotations

from typing import Any

from django.test import Client
from django.urls import reverse

from erpsync.exports import erp_export
from erpsync.models import UpdateRequest
from erpsync.services import erp_accept, erp_send
from erpsync.update_exports import erp_export_update
from jobs.models import Job
from jobs.services import job_send
from projects.models import Project


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def synced(item: Any, sender: Any, approver: Any) -> Any:
    """Send, accept and export the item to the company's ERP for real (no worker needed)."""
    return exported(erp_send(item=item, user=sender), approver)


def exported(item: Any, approver: Any) -> Any:
    """Accept the sent item and export it for real."""
    item = erp_accept(item=item, user=approver, export=False)
    result = erp_export(model=type(item), item_id=item.pk, try_number=1, requeue=lambda c: None)
    assert result.outcome == "synced", result.detail
    item.refresh_from_db()
    return item


def synced_job(project: Project, sender: Any, approver: Any) -> Job:
    """Send the project as its job (job_send), accept and export it for real."""
    job = erp_accept(item=job_send(project=project, user=sender), user=approver, export=False)
    result = erp_export(model=Job, item_id=job.pk, try_number=1, requeue=lambda c: None)
    assert result.outcome == "synced", result.detail
    job.refresh_from_db()
    return job


def send_update(update: UpdateRequest, try_number: int = 1) -> str:
    requeued: list[float] = []
    result = erp_export_update(request_id=update.pk, try_number=try_number, requeue=requeued.append)
    return result.outcome


def rename_url(sub_job: Any) -> str:
    return reverse("sub_job_rename", args=[sub_job.project_id, sub_job.pk])


def detail_url(sub_job: Any) -> str:
    return reverse("sub_job_detail", args=[sub_job.project_id, sub_job.pk])


def ready_to_update(company: Any, kind: str = "sub_job") -> str:
    return reverse("erp_queue", args=[company.slug, kind, "update"])


def decide_url(update: UpdateRequest, decision: str) -> str:
    return reverse(
        "erp_update_decide", args=[update.company.slug, update.kind, update.pk, decision]
    )


def reviewed(update: UpdateRequest) -> dict[str, str]:
    """What the Accept button posts: the revision of the change the approver reviewed."""
    return {"revision": str(update.revision)}
