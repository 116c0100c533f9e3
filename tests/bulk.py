"""Many pending items at once, for the query-count tests and the benches."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from erpsync.models import ErpEvent
from erpsync.states import ErpAction, ErpState
from projects.models import Project
from subjobs.models import SubJob


def pending_sub_jobs(project: Project, sender: Any, count: int, *, start: int = 0) -> None:
    """`count` approved sub jobs already sent to ERP, oldest first, in a few INSERTs."""
    now = timezone.now()
    SubJob.objects.bulk_create(
        [
            SubJob(
                project=project,
                code=f"B-{n:07d}",
                name=f"Bulk sub job {n}",
                status="approved",
                erp_state=ErpState.PENDING,
                erp_version=1,
                erp_sent_by=sender,
                erp_sent_at=now - timedelta(minutes=count - n),
                erp_changed_by=sender,
                erp_changed_at=now - timedelta(minutes=count - n),
            )
            for n in range(start, start + count)
        ],
        batch_size=2000,
    )


def send_events(project: Project, sender: Any) -> int:
    """The send audit rows, with their snapshots, of the project's pending sub jobs made by
    pending_sub_jobs (which writes none): an export, or an approver's review, reads the
    snapshot of the version sent. A few INSERTs; returns how many."""
    content_type = ContentType.objects.get_for_model(SubJob)
    already = ErpEvent.objects.filter(content_type=content_type, action=ErpAction.SEND)
    items = (
        SubJob.objects.filter(project=project, erp_state=ErpState.PENDING)
        .exclude(pk__in=already.values("object_id"))
        .select_related("project")
    )
    events = [
        ErpEvent(
            content_type=content_type,
            object_id=item.pk,
            company_id=project.company_id,
            action=ErpAction.SEND,
            from_state=ErpState.NOT_SENT,
            to_state=ErpState.PENDING,
            actor=sender,
            version=item.erp_version,
            snapshot=item.erp_snapshot(),
            created_at=item.erp_sent_at,
        )
        for item in items
    ]
    ErpEvent.objects.bulk_create(events, batch_size=2000)
    return len(events)
