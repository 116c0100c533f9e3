"""Celery tasks for the ERP Integrations tool's emails. Each loads by id and is idempotent:
a second run (a retry, a redelivery, a second beat) sends nothing already sent.

Queue them after the transition commits, e.g.
`transaction.on_commit(lambda: send_rejection_email.delay(event.pk))`. The emails are built
in approvals.emails; these tasks only load, deliver once and retry on SMTP errors.
"""

from __future__ import annotations

import datetime as dt

from celery import Task, shared_task
from django.conf import settings
from django.utils import timezone

from approvals.emails import (
    DIGEST_FAILED,
    DigestResult,
    deliver_daily_summaries,
    deliver_event_email,
)

# Retries wait at most this long: below the broker's visibility timeout, so Redis never
# redelivers a task that is only waiting for its retry.
RETRY_MAX_SECONDS = min(600, settings.CELERY_VISIBILITY_TIMEOUT // 2)
EVENT_EMAIL_OPTIONS = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    # SMTP and connection errors (smtplib.SMTPException is an OSError): the delivery row
    # was rolled back with the failed send, so the retry sends the email.
    "autoretry_for": (OSError,),
    "retry_backoff": 30,
    "retry_backoff_max": RETRY_MAX_SECONDS,
    "retry_jitter": True,
    "max_retries": 5,
}


@shared_task(**EVENT_EMAIL_OPTIONS)
def send_rejection_email(event_id: int) -> list[str]:
    """A reject event: email the item's last sender and its creator; return the recipients."""
    return deliver_event_email(event_id, "rejection")


@shared_task(**EVENT_EMAIL_OPTIONS)
def send_submission_email(event_id: int) -> list[str]:
    """A send or resend event: email the company's accounting approvers."""
    return deliver_event_email(event_id, "submission")


@shared_task(**EVENT_EMAIL_OPTIONS)
def send_export_failed_email(event_id: int) -> list[str]:
    """A mark_export_failed event: email the approvers the ERP's error."""
    return deliver_event_email(event_id, "export_failed")


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=3,
    default_retry_delay=RETRY_MAX_SECONDS,
)
def send_daily_summary(
    self: Task,
    company_id: int | None = None,
    day: str | None = None,
    dry_run: bool = False,
) -> list[DigestResult]:
    """The "ERP Integrations Daily Summary" of one company (or all) for `day` (ISO date,
    default today in TIME_ZONE), once per approver per day; one result per email.

    From a worker, failed sends are retried later for the same day (what went out is
    skipped); called directly (manage.py erp_daily_summary) it reports them instead.
    """
    the_day = dt.date.fromisoformat(day) if day else timezone.localdate()
    results = deliver_daily_summaries(company_id=company_id, day=the_day, dry_run=dry_run)
    failed = [r for r in results if r["status"] == DIGEST_FAILED]
    if failed and not self.request.called_directly:
        raise self.retry(
            kwargs={"company_id": company_id, "day": the_day.isoformat(), "dry_run": dry_run},
            exc=OSError(f"{len(failed)} daily summary emails failed: {failed[0]['error']}"),
        )
    return results
