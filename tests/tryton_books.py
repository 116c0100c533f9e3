"""A person working in the tests' Tryton: a session of its own, and the accountant's payment and
cancellation (erpsync.adapters.tryton.accountant, which `manage.py erp_tryton` runs too)."""

from __future__ import annotations

from decimal import Decimal

from erpsync.adapters.tryton import TrytonAdapter
from erpsync.adapters.tryton.accountant import cancel_invoice, pay_invoice
from tests import factories as f


def tryton(server: dict[str, str]) -> TrytonAdapter:
    """A Tryton session of its own (the admin user), as a person working in Tryton."""
    company = f.CompanyFactory.build(erp_adapter="tryton", erp_settings=server)
    return TrytonAdapter(company=company, settings=server)


def pay_in_tryton(server: dict[str, str], erp_id: str, amount: Decimal | None = None) -> None:
    pay_invoice(tryton(server), erp_id, amount)


def cancel_in_tryton(server: dict[str, str], erp_id: str) -> None:
    cancel_invoice(tryton(server), erp_id)
