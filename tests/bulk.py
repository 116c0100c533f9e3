"""Many pending items at once, for the query-count test and bench/queue_page.py."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from erpsync.states import ErpState
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
