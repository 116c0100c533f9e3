"""An item's fields can be edited only while it is not_sent, rejected or retrieved."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from erpsync.models import ErpEvent
from erpsync.states import ItemLocked
from invoicing.services import (
    invoice_line_add,
    invoice_line_delete,
    invoice_line_update,
    owner_invoice_delete,
    owner_invoice_update,
)
from subjobs.services import sub_job_approve, sub_job_update

pytestmark = pytest.mark.django_db

EDITABLE = ["not_sent", "rejected", "retrieved"]
LOCKED = {
    "pending": "Sent to ERP at",
    "accepted": "being exported to the ERP",
    "synced": r"Synced with the ERP \(ERP id ERP-42\)",
    "export_failed": "must reject it before it can be edited",
}


@pytest.mark.parametrize("state", EDITABLE)
def test_a_sub_job_can_be_renamed_while_editable(
    sub_job: Any, drive: Any, admin: Any, state: str
) -> None:
    sub_job = drive(sub_job, state)
    renamed = sub_job_update(sub_job=sub_job, user=admin, name="Renamed")
    assert renamed.name == "Renamed"
    event = ErpEvent.objects.latest("id")
    assert event.action == "edit" and event.actor == admin
    assert event.details == {"changes": {"name": [sub_job.name, "Renamed"]}}
    assert event.from_state == event.to_state == state


@pytest.mark.parametrize("state", LOCKED)
def test_a_locked_sub_job_refuses_edits_and_says_why(
    sub_job: Any, drive: Any, admin: Any, state: str
) -> None:
    sub_job = drive(sub_job, state)
    name = sub_job.name
    with pytest.raises(ItemLocked, match=LOCKED[state]):
        sub_job_update(sub_job=sub_job, user=admin, name="Renamed", code="99-999")
    sub_job.refresh_from_db()
    assert (sub_job.name, sub_job.erp_state) == (name, state)
    assert not ErpEvent.objects.filter(action="edit").exists()


def test_the_pending_banner_names_the_sender(sub_job: Any, drive: Any, admin: Any) -> None:
    pending = drive(sub_job, "pending")
    assert pending.erp_lock_reason().endswith(f"by {admin.username}: retrieve it to edit.")
    assert pending.erp_locked


def test_retrieving_unlocks_the_sub_job(sub_job: Any, drive: Any, admin: Any) -> None:
    retrieved = drive(sub_job, "retrieved")
    assert not retrieved.erp_locked
    assert sub_job_approve(sub_job=retrieved, user=admin).status == "approved"


@pytest.mark.parametrize("state", LOCKED)
def test_a_locked_invoice_refuses_every_edit(
    invoice: Any, drive: Any, admin: Any, state: str
) -> None:
    invoice = drive(invoice, state)
    line = invoice.lines.first()
    before = invoice.erp_snapshot()
    attempts = [
        lambda: owner_invoice_update(invoice=invoice, user=admin, number="X-1"),
        lambda: owner_invoice_update(invoice=invoice, user=admin, status="draft"),
        lambda: invoice_line_add(invoice=invoice, user=admin, description="More"),
        lambda: invoice_line_update(line=line, user=admin, materials_stored=Decimal("1")),
        lambda: invoice_line_delete(line=line, user=admin),
        lambda: owner_invoice_delete(invoice=invoice, user=admin),
    ]
    for attempt in attempts:
        with pytest.raises(ItemLocked):
            attempt()
    invoice.refresh_from_db()
    assert invoice.erp_snapshot() == before


def test_a_rejected_invoice_can_be_fixed(invoice: Any, drive: Any, admin: Any) -> None:
    invoice = drive(invoice, "rejected")
    line = invoice.lines.first()
    invoice_line_update(line=line, user=admin, materials_stored=Decimal("0.00"))
    invoice.refresh_from_db()
    assert invoice.lines.get(pk=line.pk).materials_stored == Decimal("0.00")
    event = ErpEvent.objects.latest("id")
    assert event.details == {
        "changes": {"line 1 materials_stored": ["2500.00", "0.00"]},
    }
