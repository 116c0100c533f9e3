"""Send the "ERP Integrations Daily Summary" now, the way the daily beat task does."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from approvals.digest import DIGEST_FAILED
from approvals.tasks import send_daily_summary
from erpsync import ops


class Command(BaseCommand):
    help = (
        "Send today's ERP Integrations Daily Summary to every accounting approver subscribed "
        "to ERP digest emails, for each company where an item waits for acceptance or failed "
        "to export. Each approver gets it at most once a day, so running it twice is safe. "
        "Prints one line per email; exits 1 if any could not be sent."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--company", metavar="SLUG", help="Only this company (its slug, e.g. demo-builders)."
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Show what would be sent, without sending or recording anything.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        company_id = None
        if options["company"]:
            try:
                company_id = ops.get_company(options["company"]).pk
            except ops.UnknownCompany as e:
                raise CommandError(str(e)) from None

        # Called directly (not .delay()): runs here and now, and reports instead of retrying.
        results = send_daily_summary(company_id=company_id, dry_run=options["dry_run"])

        for result in results:
            line = f"{result['status']}: {result['to']}: {result['subject']}"
            if result["status"] == DIGEST_FAILED:
                self.stderr.write(f"{line} ({result['error']})")
            else:
                self.stdout.write(line)
        if not results:
            self.stdout.write(
                "No daily summary to send: no item waits or failed to export, "
                "or no approver subscribes to ERP digest emails."
            )
        failed = sum(r["status"] == DIGEST_FAILED for r in results)
        if failed:
            raise CommandError(f"{failed} of {len(results)} daily summary emails failed.")
