"""Celery tasks of the ERP Integrations tool. Event emails need none of their own: they are
outbox rows delivered by erpsync.outbox.send_outbox_email."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from celery import Task, shared_task
from django.conf import settings
from django.utils import timezone

from approvals.delivery import FAILED
from approvals.digest import DigestResult, deliver_daily_summaries
from approvals.reminders import ReminderResult, deliver_reminders

# Retries wait at most this long: below the broker's visibility timeout, so Redis never
# redelivers a task that is only waiting for its retry.
RETRY_MAX_SECONDS = min(600, settings.CELERY_VISIBILITY_TIMEOUT // 2)

DAILY_EMAILS_TASK = {
    "bind": True,
    "acks_late": True,
    "reject_on_worker_lost": True,
    "max_retries": 3,
    "default_retry_delay": RETRY_MAX_SECONDS,
}


def _deliver_or_retry(
    task: Task,
    deliver: Callable[..., list[Any]],
    what: str,
    *,
    company_id: int | None,
    day: str | None,
    dry_run: bool,
) -> list[Any]:
    """From a worker, failed sends are retried later for the same day (what went out is
    skipped); called directly (a management command) it reports them instead."""
    the_day = dt.date.fromisoformat(day) if day else timezone.localdate()
    results = deliver(company_id=company_id, day=the_day, dry_run=dry_run)
    failed = [r for r in results if r["status"] == FAILED]
    if failed and not task.request.called_directly:
        raise task.retry(
            kwargs={"company_id": company_id, "day": the_day.isoformat(), "dry_run": dry_run},
            exc=OSError(f"{len(failed)} {what} failed: {failed[0]['error']}"),
        )
    return results


@shared_task(**DAILY_EMAILS_TASK)
def send_daily_summary(
    self: Task,
    company_id: int | None = None,
    day: str | None = None,
    dry_run: bool = False,
) -> list[DigestResult]:
    """The "ERP Integrations Daily Summary" of one company (or all) for `day` (ISO date,
    default today in TIME_ZONE), once per approver per day; one result per email.
    Retried from a worker, reported by manage.py erp_daily_summary."""
    return _deliver_or_retry(
        self,
        deliver_daily_summaries,
        "daily summary emails",
        company_id=company_id,
        day=day,
        dry_run=dry_run,
    )


@shared_task(**DAILY_EMAILS_TASK)
def send_reminders(
    self: Task,
    company_id: int | None = None,
    day: str | None = None,
    dry_run: bool = False,
) -> list[ReminderResult]:
    """The reminders and escalations of one company (or all) for `day` (ISO date, default
    today in TIME_ZONE), one email per person per company per day; one result per email.
    Retried from a worker, reported by manage.py erp_remind."""
    return _deliver_or_retry(
        self, deliver_reminders, "reminder emails", company_id=company_id, day=day, dry_run=dry_run
    )
