"""Every transition writes its audit row; send and resend carry the versioned snapshot."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from erpsync.models import ErpEvent
from erpsync.selectors import submitted_snapshot
from erpsync.services import (
    erp_accept,
    erp_reject,
    erp_resend,
    erp_retrieve,
    erp_send,
)
from erpsync.states import ErpActionRefused
from invoicing.services import invoice_line_update

pytestmark = pytest.mark.django_db


def test_send_records_who_when_and_the_snapshot(item: Any, admin: Any) -> None:
    sent = erp_send(item=item, user=admin)
    event = ErpEvent.objects.get(action="send")
    assert event.item == sent
    assert event.company == sent.erp_company
    assert (event.actor, event.from_state, event.to_state) == (admin, "not_sent", "pending")
    assert event.version == sent.erp_version == 1
    assert event.snapshot == sent.erp_snapshot()
    assert sent.erp_sent_by == admin and sent.erp_sent_at == sent.erp_changed_at


def test_each_resend_is_a_new_version_with_its_own_snapshot(
    invoice: Any, admin: Any, approver: Any
) -> None:
    invoice = erp_send(item=invoice, user=admin)
    invoice = erp_reject(item=invoice, user=approver, reason="Materials too high")
    line = invoice.lines.first()
    invoice_line_update(line=line, user=admin, materials_stored=Decimal("100.00"))
    invoice = erp_resend(item=invoice, user=admin)

    first, second = submitted_snapshot(invoice, 1), submitted_snapshot(invoice, 2)
    assert first is not None and second is not None
    assert (first.action, second.action) == ("send", "resend")
    assert first.snapshot["lines"][0]["materials_stored"] == "2500.00"
    assert second.snapshot["lines"][0]["materials_stored"] == "100.00"
    assert first.snapshot["totals"] != second.snapshot["totals"]


def test_accept_records_the_version_it_accepted(sub_job: Any, admin: Any, approver: Any) -> None:
    sent = erp_send(item=sub_job, user=admin)
    erp_accept(item=sent, user=approver, expected_version=1)
    assert ErpEvent.objects.get(action="accept").version == 1


def test_accepting_a_version_that_changed_meanwhile_is_refused(
    sub_job: Any, admin: Any, approver: Any
) -> None:
    erp_send(item=sub_job, user=admin)
    erp_retrieve(item=sub_job, user=admin)
    erp_send(item=sub_job, user=admin)  # version 2, while the approver still looks at 1
    with pytest.raises(ErpActionRefused, match="changed since you opened it"):
        erp_accept(item=sub_job, user=approver, expected_version=1)
    sub_job.refresh_from_db()
    assert sub_job.erp_state == "pending"
    assert not ErpEvent.objects.filter(action="accept").exists()


def test_every_transition_row_names_its_actor(sub_job: Any, drive: Any, admin: Any) -> None:
    drive(sub_job, "synced")
    rows = list(ErpEvent.objects.exclude(action="create").order_by("id"))
    assert [(e.action, e.actor_name) for e in rows] == [
        ("send", admin.username),
        ("accept", rows[1].actor.username),
        ("mark_synced", "erpsync"),
    ]
