"""Queue every failed export for another try, as ops (no approver acts)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from erpsync import ops
from erpsync.services import erp_retry_export_by_ops
from erpsync.states import ErpActionRefused

REASON = "erp_retry_failed by ops"


class Command(BaseCommand):
    help = (
        "Requeue the failed exports (ERP state export_failed) of every company, or one: each "
        "goes back to accepted (Exporting) and its export is queued again; the audit trail "
        f"records it with no actor and the reason {REASON!r}. With --dry-run, only list what "
        "would be retried. Exits 1 when some item could not be requeued."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--company", metavar="SLUG", help="Only this company (default: every company)."
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="List what would be retried; change nothing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            company = ops.get_company(options["company"]) if options["company"] else None
        except ops.UnknownCompany as e:
            raise CommandError(str(e)) from None
        rows = ops.failed_exports(company, now=timezone.now())
        if options["dry_run"]:
            for row in rows:
                self.stdout.write(f"Would retry {self._describe(row)}")
            self.stdout.write(f"Would requeue {len(rows)} failed export(s); nothing changed.")
            return

        refused: list[str] = []
        for row in rows:
            try:
                erp_retry_export_by_ops(item=row.item, reason=REASON)
            except ErpActionRefused as e:
                refused.append(row.title)
                self.stdout.write(f"Skipped {row.company}: {row.title}: {' '.join(e.reasons)}")
            else:
                self.stdout.write(f"Requeued {self._describe(row)}")
        requeued = len(rows) - len(refused)
        self.stdout.write(f"Requeued {requeued} failed export(s).")
        if refused:
            raise CommandError(
                f"{len(refused)} failed export(s) could not be requeued: {', '.join(refused)}"
            )

    @staticmethod
    def _describe(row: ops.ItemRow) -> str:
        return (
            f"{row.company}: {row.title} (project {row.project}, "
            f"tries {row.tries}): {ops.one_line(row.error)}"
        )
