"""Compare every synced item with the ERP, list stray drafts, and report each difference."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from erpsync import ops
from erpsync.reconcile import reconcile_companies


class Command(BaseCommand):
    help = (
        "For every company whose ERP adapter declares the reconcile capability (e.g. tryton), "
        "compare each synced item with the ERP: the record exists, is posted, has the same "
        "total or code. Where the adapter can list its drafts, also list the stray drafts: "
        "unposted ERP records with an erpsync key that no current export explains (an "
        "earlier or rejected version's, a second record of a synced item). Prints each "
        "difference and stray draft; exits 1 when there is either (or an ERP could not be "
        "asked). Changes nothing."
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
        stray = sum(len(entry["stray_drafts"]) for entry in report)
        errors = sum(1 for entry in report if entry["error"])
        if options["json"]:
            self.stdout.write(
                json.dumps({"companies": report, "drift": drift, "stray_drafts": stray}, indent=2)
            )
        else:
            self._write(report)
        if drift or stray or errors:
            raise CommandError(
                f"Drift: {drift} difference(s)"
                + (f", {stray} stray draft(s)" if stray else "")
                + (f", {errors} ERP(s) could not be asked" if errors else "")
                + "."
            )

    def _write(self, report: list[dict[str, Any]]) -> None:
        if not report:
            self.stdout.write("No company uses an ERP adapter that can reconcile.")
            return
        for entry in report:
            name = f"{entry['company']} ({entry['adapter']})"
            drift, stray = entry["drift"], entry["stray_drafts"]
            if entry["error"]:
                self.stdout.write(f"{name}: " + self.style.ERROR(f"FAILED: {entry['error']}"))
            elif not drift and not stray:
                self.stdout.write(
                    f"{name}: "
                    + self.style.SUCCESS(f"{entry['checked']} synced items, no drift")
                    + self._not_checked(entry)
                )
            else:
                found = [f"{len(drift)} difference(s)"]
                if stray:
                    found.append(f"{len(stray)} stray draft(s)")
                self.stdout.write(
                    f"{name}: "
                    + self.style.ERROR(", ".join(found))
                    + f" in {entry['checked']} synced items"
                    + self._not_checked(entry)
                )
            for d in drift:
                self.stdout.write(
                    f"  {d['kind']} {d['title']} (ERP id {d['erp_id']}): {d['problem']}"
                )
            if stray:
                self.stdout.write("  Stray drafts (nothing in erpsync will post or remove them):")
            for s in stray:
                self.stdout.write(
                    f"    ERP id {s['erp_id']} {s['reference']}, {s['description']}: {s['reason']}"
                )

    @staticmethod
    def _not_checked(entry: dict[str, Any]) -> str:
        n = entry["not_checked"]
        return f" ({n} synced through an earlier ERP adapter, not checked)" if n else ""
