"""Every transition of the ERP state machine, and every refused one, on both kinds of item."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from erpsync.models import ErpEvent
from erpsync.selectors import erp_history
from erpsync.services import (
    erp_accept,
    erp_mark_export_failed,
    erp_mark_synced,
    erp_reject,
    erp_resend,
    erp_retrieve,
    erp_retry_export,
    erp_send,
)
from erpsync.states import ErpActionRefused, ErpState, RefusalKind

pytestmark = pytest.mark.django_db

ALLOWED = {
    ("send", "not_sent"): "pending",
    ("send", "retrieved"): "pending",
    ("resend", "rejected"): "pending",
    ("retrieve", "pending"): "retrieved",
    ("accept", "pending"): "accepted",
    ("retrieve", "partially_approved"): "retrieved",
    ("accept", "partially_approved"): "accepted",
    ("reject", "partially_approved"): "rejected",
    ("reject", "pending"): "rejected",
    ("reject", "export_failed"): "rejected",
    ("mark_synced", "accepted"): "synced",
    ("mark_export_failed", "accepted"): "export_failed",
    ("retry_export", "export_failed"): "accepted",
}
ACTIONS = sorted({action for action, _ in ALLOWED})
STATES = [s.value for s in ErpState]


def perform(action: str, item: Any, *, admin: Any, approver: Any) -> Any:
    calls = {
        "send": lambda: erp_send(item=item, user=admin),
        "resend": lambda: erp_resend(item=item, user=admin),
        "retrieve": lambda: erp_retrieve(item=item, user=admin),
        "accept": lambda: erp_accept(item=item, user=approver),
        "reject": lambda: erp_reject(item=item, user=approver, reason="Needs a fix"),
        "mark_synced": lambda: erp_mark_synced(item=item, erp_id="ERP-7"),
        "mark_export_failed": lambda: erp_mark_export_failed(item=item, error="Closed period"),
        "retry_export": lambda: erp_retry_export(item=item, user=approver),
    }
    return calls[action]()


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("action", ACTIONS)
def test_each_action_moves_or_is_refused_by_state(
    item: Any, drive: Any, admin: Any, approver: Any, action: str, state: str
) -> None:
    item = drive(item, state)
    assert item.erp_state == state
    events_before = ErpEvent.objects.count()

    if (action, state) in ALLOWED:
        result = perform(action, item, admin=admin, approver=approver)
        assert result.erp_state == ALLOWED[(action, state)]
        result.refresh_from_db()
        assert result.erp_state == ALLOWED[(action, state)]
        event = ErpEvent.objects.latest("id")
        assert (event.action, event.from_state, event.to_state) == (
            action,
            state,
            ALLOWED[(action, state)],
        )
        assert ErpEvent.objects.count() == events_before + 1
    else:
        with pytest.raises(ErpActionRefused) as refused:
            perform(action, item, admin=admin, approver=approver)
        kinds = {r.kind for r in refused.value.decision.refusals}
        assert RefusalKind.STATE in kinds
        assert refused.value.status_code == 409
        item.refresh_from_db()
        assert item.erp_state == state
        assert ErpEvent.objects.count() == events_before


def test_it_names_who_accepted_when_a_second_accept_comes(
    sub_job: Any, drive: Any, approver: Any
) -> None:
    accepted = drive(sub_job, "accepted")
    with pytest.raises(ErpActionRefused) as refused:
        erp_accept(item=sub_job, user=approver)
    at = accepted.erp_changed_at.strftime("%H:%M")
    assert f"already accepted by {approver.username} at {at}" in str(refused.value)


def test_it_points_to_resend_when_send_is_tried_after_a_rejection(
    sub_job: Any, drive: Any, admin: Any
) -> None:
    drive(sub_job, "rejected")
    with pytest.raises(ErpActionRefused, match="use Resend to ERP"):
        erp_send(item=sub_job, user=admin)


def test_it_rejects_empty_reason(sub_job: Any, drive: Any, approver: Any) -> None:
    drive(sub_job, "pending")
    for blank in ("", "   \n "):
        with pytest.raises(ValidationError) as error:
            erp_reject(item=sub_job, user=approver, reason=blank)
        assert "reason" in error.value.message_dict
    sub_job.refresh_from_db()
    assert sub_job.erp_state == "pending"
    assert not ErpEvent.objects.filter(action="reject").exists()


def test_it_rejects_an_overlong_reason(sub_job: Any, drive: Any, approver: Any) -> None:
    drive(sub_job, "pending")
    with pytest.raises(ValidationError):
        erp_reject(item=sub_job, user=approver, reason="x" * 2001)
    sub_job.refresh_from_db()
    assert sub_job.erp_state == "pending"


def test_it_keeps_the_rejection_reason_across_a_resend(
    sub_job: Any, drive: Any, admin: Any, approver: Any
) -> None:
    drive(sub_job, "pending")
    erp_reject(item=sub_job, user=approver, reason="  Code must be 04-200  ")
    resent = erp_resend(item=sub_job, user=admin)
    assert resent.erp_state == "pending"
    assert resent.erp_rejection_reason == "Code must be 04-200"
    reject_event = ErpEvent.objects.get(action="reject")
    assert reject_event.reason == "Code must be 04-200"
    assert reject_event.actor == approver


def test_a_failed_export_may_be_rejected_without_a_comment(
    sub_job: Any, drive: Any, approver: Any
) -> None:
    drive(sub_job, "export_failed")
    rejected = erp_reject(item=sub_job, user=approver, reason="")
    assert rejected.erp_state == "rejected"
    # The sender still learns why: the ERP's error stands in for the missing comment.
    assert rejected.erp_rejection_reason == "Period closed"


def test_mark_synced_records_the_erp_id_and_clears_the_error(
    sub_job: Any, drive: Any, approver: Any
) -> None:
    drive(sub_job, "export_failed")
    erp_retry_export(item=sub_job, user=approver)
    synced = erp_mark_synced(item=sub_job, erp_id="ERP-99")
    assert (synced.erp_state, synced.erp_id, synced.erp_error) == ("synced", "ERP-99", "")
    assert ErpEvent.objects.latest("id").details == {"erp_id": "ERP-99", "attempts": 1}
    assert synced.erp_export_attempts == 2  # the failed try, then the one that synced


def test_accept_records_who_accepted_and_starts_the_tries_afresh(
    sub_job: Any, drive: Any, approver: Any
) -> None:
    accepted = drive(sub_job, "accepted")
    assert accepted.erp_accepted_by == approver
    assert accepted.erp_accepted_at == accepted.erp_changed_at
    assert accepted.erp_export_attempts == 0


def test_system_transitions_record_no_actor(sub_job: Any, drive: Any) -> None:
    drive(sub_job, "export_failed")
    event = ErpEvent.objects.latest("id")
    assert event.action == "mark_export_failed"
    assert event.actor is None
    assert event.reason == "Period closed"


def test_the_state_cannot_be_assigned_directly(sub_job: Any) -> None:
    with pytest.raises(AttributeError, match="Direct erp_state modification is not allowed"):
        sub_job.erp_state = "synced"


def test_the_full_round_trip_is_in_the_history(sub_job: Any, admin: Any, approver: Any) -> None:
    erp_send(item=sub_job, user=admin)
    erp_retrieve(item=sub_job, user=admin)
    erp_send(item=sub_job, user=admin)
    erp_reject(item=sub_job, user=approver, reason="Fix the name")
    erp_resend(item=sub_job, user=admin)
    erp_accept(item=sub_job, user=approver)
    erp_mark_synced(item=sub_job, erp_id="ERP-1")
    history = [(e.action, e.to_state) for e in erp_history(sub_job) if e.action != "create"]
    assert history == [
        ("send", "pending"),
        ("retrieve", "retrieved"),
        ("send", "pending"),
        ("reject", "rejected"),
        ("resend", "pending"),
        ("accept", "accepted"),
        ("mark_synced", "synced"),
    ]
