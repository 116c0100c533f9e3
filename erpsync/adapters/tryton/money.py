"""Amounts as Tryton sends and takes them: Decimal, to the cent."""

from __future__ import annotations

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
