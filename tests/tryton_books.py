"""Working in a real Tryton as a person would (the test server of tests/tryton_server.py):
a session of one's own, paying and cancelling a customer invoice. Shared by the refresh and
unlink tests."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from erpsync.adapters.tryton import TrytonAdapter
from tests import factories as f


def tryton(server: dict[str, str]) -> TrytonAdapter:
    """A Tryton session of its own (the admin user), as a person working in Tryton."""
    company = f.CompanyFactory.build(erp_adapter="tryton", erp_settings=server)
    return TrytonAdapter(company=company, settings=server)


def pay_in_tryton(server: dict[str, str], erp_id: str, amount: Decimal | None = None) -> None:
    """Book a customer payment as an accountant would: a posted move crediting the invoice's
    receivable account, added to the invoice's payment lines; when it settles the invoice,
    the lines are reconciled (Tryton then marks the invoice paid)."""
    t = tryton(server)
    (invoice,) = t.search_read(
        "account.invoice",
        [["id", "=", int(erp_id)]],
        ["account", "party", "amount_to_pay", "lines_to_pay", "company"],
    )
    amount = invoice["amount_to_pay"] if amount is None else amount
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
    if amount == invoice["amount_to_pay"]:
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


def cancel_in_tryton(server: dict[str, str], erp_id: str) -> None:
    """Cancel the posted customer invoice in Tryton: the company must allow it (Tryton's
    "Cancel Customer Invoice" setting), which the test turns on for the moment."""
    t = tryton(server)
    company = t.company_id
    t.call("company.company", "write", [company], {"cancel_invoice_out": True})
    try:
        t.call("account.invoice", "cancel", [int(erp_id)])
    finally:
        t.call("company.company", "write", [company], {"cancel_invoice_out": False})
