"""What erp_daily_summary and erp_remind share: their --company and --dry-run options, and
one line per email (failures to stderr) with exit status 1 when any failed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from approvals.delivery import FAILED
from erpsync import ops


class DailyEmailsCommand(BaseCommand):
    dry_run_help: str
    # How the failure count names the emails, e.g. "reminder emails".
    emails: str

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--company", metavar="SLUG", help="Only this company (its slug, e.g. demo-builders)."
        )
        parser.add_argument("--dry-run", action="store_true", help=self.dry_run_help)

    def company_id(self, options: dict[str, Any]) -> int | None:
        if not options["company"]:
            return None
        try:
            return ops.get_company(options["company"]).pk
        except ops.UnknownCompany as e:
            raise CommandError(str(e)) from None

    def report(self, results: list[Any], line: Callable[[Any], str]) -> None:
        """One line per email; exits 1 when any could not be sent."""
        for result in results:
            if result["status"] == FAILED:
                self.stderr.write(f"{line(result)} ({result['error']})")
            else:
                self.stdout.write(line(result))
        failed = sum(r["status"] == FAILED for r in results)
        if failed:
            raise CommandError(f"{failed} of {len(results)} {self.emails} failed.")
