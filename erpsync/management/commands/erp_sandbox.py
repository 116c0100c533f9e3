"""Play the ERP's side in the sandbox: the owner pays an invoice, or a record is cancelled or
deleted in the ERP. Refresh (or the scheduled refresh) then reads it back into erpsync."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from erpsync import ops
from erpsync.adapters import ErpStatus
from erpsync.adapters.sandbox import SandboxError, sandbox_pay, sandbox_set_status


class Command(BaseCommand):
    help = (
        "erp_sandbox pay|cancel|delete ERP_ID --company SLUG [--amount 100.00] [--on "
        "2026-05-01] [--reference CHK-1]: change a record in the company's sandbox ERP "
        "(pay defaults to the whole amount still due, today)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["pay", "cancel", "delete"])
        parser.add_argument("erp_id", help="The record's ERP id, e.g. SBX-000012.")
        parser.add_argument("--company", required=True, metavar="SLUG")
        parser.add_argument("--amount", help="pay: the amount (default: all that is due).")
        parser.add_argument("--on", help="pay: the payment date, YYYY-MM-DD (default: today).")
        parser.add_argument("--reference", default="", help="pay: the payment's reference.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            company = ops.get_company(options["company"])
        except ops.UnknownCompany as e:
            raise CommandError(str(e)) from None
        erp_id = options["erp_id"]
        try:
            if options["action"] == "pay":
                amount = Decimal(options["amount"]) if options["amount"] else None
                on = date.fromisoformat(options["on"]) if options["on"] else None
                payment = sandbox_pay(
                    company=company,
                    erp_id=erp_id,
                    amount=amount,
                    on=on,
                    reference=options["reference"],
                )
                self.stdout.write(
                    f"{erp_id}: payment {payment.reference} of {payment.amount} on {payment.on}."
                )
                return
            status = ErpStatus.CANCELLED if options["action"] == "cancel" else ErpStatus.DELETED
            sandbox_set_status(company=company, erp_id=erp_id, status=status)
            self.stdout.write(f"{erp_id}: {status} in the sandbox ERP.")
        except (SandboxError, InvalidOperation, ValueError) as e:
            raise CommandError(str(e) or "Not a valid amount or date.") from None
