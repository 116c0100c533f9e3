"""Capability.FETCH for Tryton: read a synced record back.

An owner invoice is the customer invoice: its state (draft and validated read as draft,
posted, paid, cancelled), `amount_to_pay` (what is still due), and its payment lines (the
move lines the Pay wizard, or a person, booked against it; on a customer invoice a payment is
a credit on the receivable account). Paid in full is the date of the latest payment, else (a
credit note settled it) the date Tryton reconciled it. A sub job or a job is an analytic
account: a sub job's code is what drift is judged on.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from erpsync.adapters.base import ErpPayment, ErpRecord, ErpStatus
from erpsync.adapters.tryton.money import CENT

_STATUS = {
    "draft": ErpStatus.DRAFT,
    "validated": ErpStatus.DRAFT,
    "posted": ErpStatus.POSTED,
    "paid": ErpStatus.PAID,
    "cancelled": ErpStatus.CANCELLED,
}
ZERO = Decimal("0.00")


class TrytonFetch:
    """Mixed into TrytonAdapter; uses its search_read."""

    search_read: Any

    def fetch(self, kind: str, erp_id: str) -> ErpRecord:
        try:
            record_id = int(erp_id)
        except (TypeError, ValueError):
            return ErpRecord(exists=False, status=ErpStatus.DELETED)
        if kind == "owner_invoice":
            return self._fetch_invoice(record_id)
        # A sub job or a job: an analytic account whose code is the sub job's code or the
        # project's number (the snapshot's "code" and "number"). Its name is Tryton's to
        # word ("<code> <name>"), so it is not compared.
        rows = self.search_read(
            "analytic_account.account", [["id", "=", record_id]], ["code"], limit=1
        )
        if not rows:
            return ErpRecord(exists=False, status=ErpStatus.DELETED)
        code = str(rows[0]["code"] or "")
        fields = {"code": code} if kind == "sub_job" else {"number": code} if kind == "job" else {}
        return ErpRecord(exists=True, fields=fields)

    def _fetch_invoice(self, record_id: int) -> ErpRecord:
        fields = ["state", "total_amount", "amount_to_pay", "payment_lines", "reconciled"]
        rows = self.search_read("account.invoice", [["id", "=", record_id]], fields, limit=1)
        if not rows:
            return ErpRecord(exists=False, status=ErpStatus.DELETED)
        row = rows[0]
        status = _STATUS.get(row["state"], ErpStatus.POSTED)
        total = Decimal(str(row["total_amount"] or 0)).quantize(CENT)
        payments: tuple[ErpPayment, ...] = ()
        if row["payment_lines"]:
            lines = self.search_read(
                "account.move.line",
                [["id", "in", row["payment_lines"]]],
                ["date", "debit", "credit"],
            )
            payments = tuple(
                ErpPayment(
                    on=line["date"],
                    amount=(Decimal(str(line["credit"])) - Decimal(str(line["debit"]))).quantize(
                        CENT
                    ),
                    reference=f"Tryton move line {line['id']}",
                )
                for line in lines
            )
        paid = sum((p.amount for p in payments), ZERO)
        due = Decimal(str(row["amount_to_pay"] or 0)).quantize(CENT)
        paid_on = None
        if status == ErpStatus.PAID:
            # Reconciled against something other than payment lines (a credit note, say):
            # Tryton calls it paid in full all the same.
            paid, due = max(paid, total), ZERO
            # The day the last payment came in. Tryton's own reconciliation date is the latest
            # date of the reconciled lines, maturity dates included: an invoice paid today but
            # due next month would read as paid next month.
            reconciled = row.get("reconciled")
            if payments:
                paid_on = max(p.on for p in payments)
            elif isinstance(reconciled, datetime.date):
                paid_on = reconciled
        elif status != ErpStatus.POSTED:
            due = ZERO
        return ErpRecord(
            exists=True,
            status=status,
            fields={"totals.amount_due": str(total)},
            amount_paid=paid,
            amount_due=due,
            paid_on=paid_on,
            payments=payments,
        )
