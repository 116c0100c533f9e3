"""Send the "ERP Integrations Daily Summary" now, the way the daily beat task does."""

from __future__ import annotations

from typing import Any

from approvals.management.daily_emails import DailyEmailsCommand
from approvals.tasks import send_daily_summary


class Command(DailyEmailsCommand):
    help = (
        "Send today's ERP Integrations Daily Summary to every accounting approver subscribed "
        "to ERP digest emails, for each company where an item waits for acceptance or failed "
        "to export. Each approver gets it at most once a day, so running it twice is safe. "
        "Prints one line per email; exits 1 if any could not be sent."
    )
    dry_run_help = "Show what would be sent, without sending or recording anything."
    emails = "daily summary emails"

    def handle(self, *args: Any, **options: Any) -> None:
        # Called directly (not .delay()): runs here and now, and reports instead of retrying.
        results = send_daily_summary(
            company_id=self.company_id(options), dry_run=options["dry_run"]
        )
        if not results:
            self.stdout.write(
                "No daily summary to send: no item waits or failed to export, "
                "or no approver subscribes to ERP digest emails."
            )
        self.report(results, lambda r: f"{r['status']}: {r['to']}: {r['subject']}")
