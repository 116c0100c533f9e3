"""Amounts (Decimal, to the cent) and dates as Tryton takes them."""

from __future__ import annotations

import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from erpsync.adapters.base import PermanentErpError

CENT = Decimal("0.01")


def money(value: Any, what: str) -> Decimal:
    """`value` as an amount, or a PermanentErpError naming `what` it should have been."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise PermanentErpError(f"The invoice's {what} {value!r} is not an amount.") from None
    if not amount.is_finite():
        raise PermanentErpError(f"The invoice's {what} {value!r} is not an amount.")
    return amount


def payment_date(snapshot: dict[str, Any]) -> datetime.date | None:
    """The billing period's due date, but never in the past: Tryton refuses to post an invoice
    whose payment date has passed, and billing late is ordinary for a contractor."""
    due = (snapshot.get("billing_period") or {}).get("due_date")
    if not due:
        return None
    return max(datetime.date.fromisoformat(due), datetime.date.today())
