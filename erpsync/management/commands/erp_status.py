"""Where every company's ERP items stand: counts per state, who waits, what failed or hangs."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from erpsync import ops
from erpsync.states import ErpState

DEFAULT_STUCK_MINUTES = 15


class Command(BaseCommand):
    help = (
        "Show the ERP sync status per company: for each kind of item the count per ERP state, "
        f"the {ops.WAITING_LIMIT} pending items that have waited longest for an approver, the "
        "failed exports with their error and tries, and the stuck exports (accepted longer "
        "ago than --stuck-minutes and still not synced or failed). Read only."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--company", metavar="SLUG", help="Only this company (default: every company)."
        )
        parser.add_argument(
            "--json",
            action="store_true",
            help="Print one JSON document instead of tables (times in ISO 8601, ages in seconds).",
        )
        parser.add_argument(
            "--stuck-minutes",
            type=int,
            default=DEFAULT_STUCK_MINUTES,
            metavar="N",
            help="An accepted item counts as stuck when it was accepted more than N minutes ago "
            f"(default {DEFAULT_STUCK_MINUTES}).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        stuck_minutes: int = options["stuck_minutes"]
        if stuck_minutes < 1:
            raise CommandError("--stuck-minutes must be at least 1.")
        try:
            company_list = ops.companies(options["company"])
        except ops.UnknownCompany as e:
            raise CommandError(str(e)) from None
        report = ops.status_report(company_list, stuck_minutes=stuck_minutes)
        if options["json"]:
            self.stdout.write(json.dumps(ops.status_as_json(report), indent=2))
            return
        if not report.companies:
            self.stdout.write("No companies.")
            return
        for i, status in enumerate(report.companies):
            if i:
                self.stdout.write("")
            self._write_company(report, status)

    # ----- the human-readable report -------------------------------------------------------

    def _write_company(self, report: ops.StatusReport, status: ops.CompanyStatus) -> None:
        company = status.company
        self.stdout.write(
            self.style.MIGRATE_HEADING(
                f"{company.name} ({company.slug}) - adapter {company.erp_adapter}"
            )
        )
        header = ["Kind", *(state.label for state in ErpState), "Total"]
        rows = [
            [
                report.kinds[kind],
                *(str(counts[state.value]) for state in ErpState),
                str(sum(counts.values())),
            ]
            for kind, counts in status.counts.items()
        ]
        self._table(header, rows, right_from=1)

        self.stdout.write(f"\n  Waiting longest for an approver ({len(status.waiting)} shown):")
        self._table(
            ["Kind", "Item", "Project", "Waiting"],
            [
                [report.kinds[r.kind], r.title, r.project, ops.format_age(r.age_seconds)]
                for r in status.waiting
            ],
            right_from=3,
            empty="none pending",
        )

        self.stdout.write(f"\n  Failed exports ({len(status.failed)}):")
        self._table(
            ["Kind", "Item", "Project", "Tries", "Error"],
            [
                [report.kinds[r.kind], r.title, r.project, str(r.tries), ops.one_line(r.error)]
                for r in status.failed
            ],
            empty="none",
        )

        updates = status.updates
        self.stdout.write(
            f"\n  Ready to Update: {updates.get('pending', 0)} waiting for an approver, "
            f"{updates.get('accepted', 0)} being sent to the ERP, {updates.get('failed', 0)} "
            "failed."
        )

        minutes, stuck = report.stuck_minutes, len(status.stuck)
        if status.connector is not None:
            queue = status.connector
            self.stdout.write(
                f"\n  Pull connector: {queue.waiting} waiting to be claimed, {queue.claimed} "
                "claimed (erpsync never exports these itself)."
            )
            self.stdout.write(
                f"\n  Not taken by the connector, accepted over {minutes} min ago ({stuck}):"
                + (" is the connector running?" if stuck else "")
            )
        else:
            self.stdout.write(f"\n  Stuck exports, accepted over {minutes} min ago ({stuck}):")
        self._table(
            ["Kind", "Item", "Project", "Accepted"],
            [
                [report.kinds[r.kind], r.title, r.project, f"{ops.format_age(r.age_seconds)} ago"]
                for r in status.stuck
            ],
            right_from=3,
            empty="none",
        )

        for label, (count, emails) in (
            ("Unsent emails", status.emails_unsent),
            ("Failed emails (tries used up)", status.emails_failed),
        ):
            self.stdout.write(f"\n  {label} ({count}, oldest {len(emails)} shown):")
            self._table(
                ["Email", "To", "Tries", "Waiting", "Last error"],
                [
                    [
                        e.kind,
                        e.recipient,
                        str(e.tries),
                        ops.format_age(e.age_seconds),
                        ops.one_line(e.error),
                    ]
                    for e in emails
                ],
                empty="none",
            )

    def _table(
        self,
        header: list[str],
        rows: list[list[str]],
        *,
        right_from: int | None = None,
        empty: str = "",
    ) -> None:
        if not rows:
            self.stdout.write(f"    {empty}")
            return
        widths = [max(len(r[c]) for r in [header, *rows]) for c in range(len(header))]

        def line(cells: list[str]) -> str:
            parts = []
            for c, cell in enumerate(cells):
                last = c == len(cells) - 1
                if right_from is not None and c >= right_from:
                    parts.append(cell.rjust(widths[c]))
                else:
                    parts.append(cell if last else cell.ljust(widths[c]))
            return "    " + "  ".join(parts)

        self.stdout.write(line(header))
        for row in rows:
            self.stdout.write(line(row))
