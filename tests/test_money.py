"""Invoice amounts are Decimal, rounded to the cent once per line."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests import factories as f

pytestmark = pytest.mark.django_db


def test_amount_due_is_work_plus_materials_less_retainage(invoice: Any) -> None:
    invoice.lines.all().delete()
    line = f.InvoiceLineFactory(
        invoice=invoice,
        work_completed_this_period=Decimal("10000.00"),
        materials_stored=Decimal("2500.00"),
        retainage_percent=Decimal("10.00"),
    )
    assert line.retainage_amount == Decimal("1250.00")
    assert line.amount_due == Decimal("11250.00")
    assert invoice.amount_due == Decimal("11250.00")


def test_retainage_rounds_half_up_to_the_cent(invoice: Any) -> None:
    invoice.lines.all().delete()
    line = f.InvoiceLineFactory(
        invoice=invoice,
        work_completed_this_period=Decimal("0.05"),
        materials_stored=Decimal("0.00"),
        retainage_percent=Decimal("50.00"),
    )
    assert line.retainage_amount == Decimal("0.03")
    assert line.amount_due == Decimal("0.02")


def test_totals_are_decimals_and_the_snapshot_carries_strings(invoice: Any) -> None:
    totals = invoice.totals()
    assert all(isinstance(v, Decimal) for v in totals.values())
    assert totals == {
        "scheduled_value": Decimal("200000.00"),
        "work_completed_this_period": Decimal("20000.00"),
        "materials_stored": Decimal("5000.00"),
        "retainage": Decimal("2500.00"),
        "amount_due": Decimal("22500.00"),
    }
    assert invoice.erp_snapshot()["totals"]["amount_due"] == "22500.00"


def test_many_small_lines_sum_exactly(invoice: Any) -> None:
    invoice.lines.all().delete()
    for _ in range(10):
        f.InvoiceLineFactory(
            invoice=invoice,
            work_completed_this_period=Decimal("0.10"),
            materials_stored=Decimal("0.00"),
            retainage_percent=Decimal("0.00"),
        )
    # 0.1 summed ten times as a float is 0.9999999999999999.
    assert invoice.amount_due == Decimal("1.00")
