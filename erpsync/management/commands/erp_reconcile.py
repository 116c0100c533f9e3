"""Compare every synced item with what the ERP holds now, and report each difference."""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from erpsync import ops
from erpsync.adapters import ErpError, TransientErpError, adapter_for
from erpsync.services import submitted_snapshot
from erpsync.states import ErpState


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
            company_list = ops.companies(options["company"])
        except ops.UnknownCompany as e:
            raise CommandError(str(e)) from None
        report = [self._company(company) for company in company_list]
        report = [entry for entry in report if entry is not None]
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

    def _company(self, company: Any) -> dict[str, Any] | None:
        entry: dict[str, Any] = {
            "company": company.slug,
            "adapter": company.erp_adapter,
            "checked": 0,
            "drift": [],
            "error": None,
        }
        try:
            adapter = adapter_for(company)
        except ImproperlyConfigured as e:
            entry["error"] = str(e)
            return entry
        reconcile = getattr(adapter, "reconcile", None)
        if not callable(reconcile):
            return None  # this ERP cannot be asked
        for model in ops.item_models():
            items = (
                model.objects.select_related(*model.erp_related)
                .filter(**{model.erp_company_path: company}, erp_state=ErpState.SYNCED)
                .order_by("pk")
            )
            for item in items:
                entry["checked"] += 1
                event = submitted_snapshot(item, item.erp_version)
                snapshot = event.snapshot if event is not None else None
                where = {
                    "kind": model.erp_kind,
                    "id": item.pk,
                    "title": str(item),
                    "erp_id": item.erp_id,
                }
                if snapshot is None:
                    problems = ["No submitted snapshot to compare with."]
                else:
                    try:
                        problems = list(reconcile(model.erp_kind, item.erp_id, snapshot))
                    except TransientErpError as e:
                        entry["error"] = f"The ERP could not be asked: {e.message}"
                        return entry
                    except ErpError as e:
                        problems = [f"The ERP refused the comparison: {e.message}"]
                entry["drift"].extend({**where, "problem": p} for p in problems)
        return entry

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
                    f"{name}: " + self.style.SUCCESS(f"{entry['checked']} synced items, no drift")
                )
                continue
            self.stdout.write(
                f"{name}: "
                + self.style.ERROR(f"{len(entry['drift'])} difference(s)")
                + f" in {entry['checked']} synced items"
            )
            for d in entry["drift"]:
                self.stdout.write(
                    f"  {d['kind']} {d['title']} (ERP id {d['erp_id']}): {d['problem']}"
                )
