"""What an accountant does in Tryton itself: book an owner's payment against a customer invoice,
or cancel one. erpsync never does this to an ERP; `manage.py erp_tryton` and the tests use it to
play the ERP's side from a script, as `erp_sandbox` does for the sandbox. A person does the same
in Tryton's web client (sao, served by `make tryton`'s server): Pay on the invoice."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from erpsync.adapters.base import PermanentErpError

if TYPE_CHECKING:
    from erpsync.adapters.tryton import TrytonAdapter


def _invoice_id(erp_id: str) -> int:
    try:
        return int(erp_id)
    except ValueError:
        raise PermanentErpError(f"{erp_id!r} is not a Tryton invoice id (a number).") from None


def pay_invoice(t: TrytonAdapter, erp_id: str, amount: Decimal | None = None) -> Decimal:
    """Book a customer payment as an accountant would: a posted move crediting the invoice's
    receivable account, added to the invoice's payment lines; when it settles the invoice,
    the lines are reconciled (Tryton then marks the invoice paid)."""
    found = t.search_read(
        "account.invoice",
        [["id", "=", _invoice_id(erp_id)], ["type", "=", "out"]],
        ["account", "party", "amount_to_pay", "lines_to_pay", "company", "state"],
    )
    if found and found[0]["state"] == "paid":
        raise PermanentErpError(f"Tryton invoice {erp_id} is already paid in full.")
    if not found or found[0]["state"] != "posted":
        raise PermanentErpError(f"Tryton holds no posted customer invoice {erp_id}.")
    (invoice,) = found
    due = Decimal(str(invoice["amount_to_pay"]))
    amount = due if amount is None else amount
    if not 0 < amount <= due:
        raise PermanentErpError(f"The payment must be above 0 and at most the {due} still due.")
    today = date.today()
    (cash,) = t.search_read(
        "account.account",
        [
            ["company", "=", invoice["company"]],
            ["type.receivable", "=", False],
            ["type.payable", "=", False],
            ["type.statement", "=", "balance"],
            ["party_required", "=", False],
            ["closed", "!=", True],
        ],
        ["id"],
        limit=1,
    )
    (period,) = t.search_read(
        "account.period",
        [
            ["company", "=", invoice["company"]],
            ["start_date", "<=", today],
            ["end_date", ">=", today],
            ["type", "=", "standard"],
        ],
        ["id"],
        limit=1,
    )
    [move] = t.call(
        "account.move",
        "create",
        [
            {
                "journal": t.journal(),
                "period": period["id"],
                "date": today,
                "description": "Owner payment",
                "lines": [
                    [
                        "create",
                        [
                            {"account": cash["id"], "debit": amount, "credit": Decimal(0)},
                            {
                                "account": invoice["account"],
                                "party": invoice["party"],
                                "debit": Decimal(0),
                                "credit": amount,
                            },
                        ],
                    ]
                ],
            }
        ],
    )
    t.call("account.move", "post", [move])
    [paying] = t.search_read(
        "account.move.line", [["move", "=", move], ["account", "=", invoice["account"]]], ["id"]
    )
    t.call(
        "account.invoice", "write", [invoice["id"]], {"payment_lines": [["add", [paying["id"]]]]}
    )
    if amount == due:
        # Tryton's Reconcile Lines wizard, as from the invoice's lines in the client.
        (paid_by,) = t.search_read(
            "account.invoice", [["id", "=", invoice["id"]]], ["payment_lines"], limit=1
        )
        lines = [*invoice["lines_to_pay"], *paid_by["payment_lines"]]
        t.login()
        context = {
            **t._context,
            "active_model": "account.move.line",
            "active_ids": lines,
            "active_id": lines[0],
        }
        wizard = "wizard.account.move.reconcile_lines"
        session, start, _ = t._post(f"{wizard}.create", [context])
        t._post(f"{wizard}.execute", [session, {}, start, context])
        t._post(f"{wizard}.delete", [session, context])
    return amount


def cancel_invoice(t: TrytonAdapter, erp_id: str) -> None:
    """Cancel the posted customer invoice in Tryton: the company must allow it (Tryton's
    "Cancel Customer Invoice" setting), which is turned on for the moment."""
    company = t.company_id
    t.call("company.company", "write", [company], {"cancel_invoice_out": True})
    try:
        t.call("account.invoice", "cancel", [_invoice_id(erp_id)])
    finally:
        t.call("company.company", "write", [company], {"cancel_invoice_out": False})
