"""Compare every synced item with what the ERP holds now, and report each difference."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from erpsync import ops
from erpsync.reconcile import reconcile_companies


class Command(BaseCommand):
    help = (
        "For every company whose ERP adapter can reconcile (it has a reconcile() method, e.g. "
        "tryton), compare each synced item with the ERP: the record exists, is posted, has the "
        "same total or code. Prints each difference; exits 1 when there is drift (or an ERP "
        "could not be asked). Changes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--company", metavar="SLUG", help="Only this company (default: every company)."
        )
        parser.add_argument("--json", action="store_true", help="Print one JSON document.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = reconcile_companies(options["company"])
        except ops.UnknownCompany as e:
            raise CommandError(str(e)) from None
        drift = sum(len(entry["drift"]) for entry in report)
        errors = sum(1 for entry in report if entry["error"])
        if options["json"]:
            self.stdout.write(json.dumps({"companies": report, "drift": drift}, indent=2))
        else:
            self._write(report)
        if drift or errors:
            raise CommandError(
                f"Drift: {drift} difference(s)"
                + (f", {errors} ERP(s) could not be asked" if errors else "")
                + "."
            )

    def _write(self, report: list[dict[str, Any]]) -> None:
        if not report:
            self.stdout.write("No company uses an ERP adapter that can reconcile.")
            return
        for entry in report:
            name = f"{entry['company']} ({entry['adapter']})"
            if entry["error"]:
                self.stdout.write(f"{name}: " + self.style.ERROR(f"FAILED: {entry['error']}"))
                continue
            if not entry["drift"]:
                self.stdout.write(
                    f"{name}: "
                    + self.style.SUCCESS(f"{entry['checked']} synced items, no drift")
                    + self._not_checked(entry)
                )
                continue
            self.stdout.write(
                f"{name}: "
                + self.style.ERROR(f"{len(entry['drift'])} difference(s)")
                + f" in {entry['checked']} synced items"
                + self._not_checked(entry)
            )
            for d in entry["drift"]:
                self.stdout.write(
                    f"  {d['kind']} {d['title']} (ERP id {d['erp_id']}): {d['problem']}"
                )

    @staticmethod
    def _not_checked(entry: dict[str, Any]) -> str:
        n = entry["not_checked"]
        return f" ({n} synced through an earlier ERP adapter, not checked)" if n else ""
