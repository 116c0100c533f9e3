"""Play the ERP's side in Tryton: the owner pays an invoice, or an accountant cancels it.
Refresh (or the scheduled refresh) then reads it back into erpsync."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from erpsync import ops
from erpsync.adapters import ErpError, adapter_for
from erpsync.adapters.tryton import TrytonAdapter
from erpsync.adapters.tryton.accountant import cancel_invoice, pay_invoice


class Command(BaseCommand):
    help = (
        "erp_tryton pay|cancel ERP_ID --company SLUG [--amount 100.00]: book an owner's payment "
        "against a posted customer invoice in the company's Tryton (default: all that is due), "
        "or cancel the invoice there."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["pay", "cancel"])
        parser.add_argument("erp_id", help="The invoice's ERP id in Tryton, e.g. 12.")
        parser.add_argument("--company", required=True, metavar="SLUG")
        parser.add_argument("--amount", help="pay: the amount (default: all that is due).")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            company = ops.get_company(options["company"])
        except ops.UnknownCompany as e:
            raise CommandError(str(e)) from None
        adapter = adapter_for(company)
        if not isinstance(adapter, TrytonAdapter):
            raise CommandError(f"{company.slug}'s ERP is not Tryton ({company.erp_adapter}).")
        erp_id = options["erp_id"]
        try:
            if options["action"] == "cancel":
                cancel_invoice(adapter, erp_id)
                self.stdout.write(f"Tryton invoice {erp_id}: cancelled.")
                return
            amount = Decimal(options["amount"]) if options["amount"] else None
            paid = pay_invoice(adapter, erp_id, amount)
        except InvalidOperation:
            raise CommandError(f"{options['amount']!r} is not an amount.") from None
        except ErpError as e:
            raise CommandError(e.message) from None
        self.stdout.write(f"Tryton invoice {erp_id}: payment of {paid} booked.")
