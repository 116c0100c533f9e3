"""Send (or show) the reminders and escalations of items waiting too long, as beat does."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.utils import timezone

from approvals.management.daily_emails import DailyEmailsCommand
from approvals.overdue import is_business_day
from approvals.tasks import send_reminders


def _day(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--day must be a date like 2026-11-24, got {value!r}.") from None


class Command(DailyEmailsCommand):
    help = (
        "Remind accounting approvers of the items that have waited their company's "
        "remind_after_days business days (Monday to Friday) or more, and tell the ERP "
        "Integrations tool's Admins of those waiting escalate_after_days or more: one email "
        "per person per company per day, so running it twice is safe. Prints one line per "
        "email (recipient, reminder or escalation, the items); exits 1 if any could not be "
        "sent."
    )
    dry_run_help = "Show who would get what, without sending or recording anything."
    emails = "reminder emails"

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--day",
            metavar="YYYY-MM-DD",
            help="Count the business days waited up to this day (default: today).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        day = _day(options["day"]) if options["day"] else timezone.localdate()
        # Called directly (not .delay()): runs here and now, and reports instead of retrying.
        results = send_reminders(
            company_id=self.company_id(options),
            day=day.isoformat(),
            dry_run=options["dry_run"],
        )
        if not results:
            if not is_business_day(day):
                self.stdout.write(
                    f"No reminders on {day:%A} {day.isoformat()}: they count and go "
                    "out on business days (Monday to Friday)."
                )
            else:
                self.stdout.write(
                    "No reminders to send: no item has waited long enough, or nobody can be "
                    "told of it."
                )
        self.report(
            results, lambda r: f"{r['status']}: {r['to']}: {r['kind']}: " + ", ".join(r["items"])
        )
