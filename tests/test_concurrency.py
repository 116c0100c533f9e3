"""Two people acting on one item at once: exactly one decision, the other told who won.

Each action runs in its own thread with its own PostgreSQL connection. The first holds the
row inside its transition; the test waits until PostgreSQL reports the second one blocked
on that row lock, then lets the first commit. Without select_for_update the second would
not wait, and the test fails.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django_fsm.signals import pre_transition

from erpsync.models import ErpEvent
from erpsync.services import erp_accept, erp_reject, erp_retrieve, erp_send
from erpsync.states import ErpActionRefused
from subjobs.models import SubJob
from tests import factories as f

pytestmark = pytest.mark.django_db(transaction=True)


def _blocked_on_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def race(first: Callable[[], Any], second: Callable[[], Any]) -> tuple[Any, Any]:
    """Run `first` until it holds the row inside its transition, then `second`; return both."""
    holding, release = threading.Event(), threading.Event()
    first_thread: list[int] = []

    def hold(sender: Any, **kwargs: Any) -> None:
        if not first_thread:
            first_thread.append(threading.get_ident())
            holding.set()
            assert release.wait(15), "the test never released the first transition"

    results: dict[str, Any] = {}

    def run(name: str, action: Callable[[], Any]) -> None:
        try:
            results[name] = action()
        except Exception as exc:  # the loser's refusal is the result under test
            results[name] = exc
        finally:
            connection.close()

    pre_transition.connect(hold, weak=False)
    try:
        a = threading.Thread(target=run, args=("first", first))
        b = threading.Thread(target=run, args=("second", second))
        a.start()
        assert holding.wait(15), "the first action never reached its transition"
        b.start()
        deadline = time.monotonic() + 15
        while _blocked_on_lock() == 0:
            assert time.monotonic() < deadline, "the second action never waited for the row lock"
            time.sleep(0.02)
        release.set()
        a.join(15)
        b.join(15)
    finally:
        release.set()
        pre_transition.disconnect(hold)
    return results["first"], results["second"]


@pytest.fixture
def pending(project: Any, admin: Any) -> SubJob:
    sub_job = f.SubJobFactory(project=project, status="approved")
    return erp_send(item=sub_job, user=admin)


def test_accept_and_reject_at_once_make_exactly_one_decision(pending: SubJob, company: Any) -> None:
    alice, bob = f.approver(company), f.approver(company)
    first, second = race(
        lambda: erp_accept(item=SubJob.objects.get(pk=pending.pk), user=alice),
        lambda: erp_reject(item=SubJob.objects.get(pk=pending.pk), user=bob, reason="No"),
    )
    assert isinstance(first, SubJob) and first.erp_state == "accepted"
    assert isinstance(second, ErpActionRefused)
    assert f"already accepted by {alice.username} at" in str(second)
    pending.refresh_from_db()
    assert pending.erp_state == "accepted"
    decisions = ErpEvent.objects.filter(action__in=["accept", "reject"])
    assert [(e.action, e.actor) for e in decisions] == [("accept", alice)]


def test_two_accepts_at_once_accept_once(pending: SubJob, company: Any) -> None:
    alice, bob = f.approver(company), f.approver(company)
    first, second = race(
        lambda: erp_accept(item=SubJob.objects.get(pk=pending.pk), user=alice),
        lambda: erp_accept(item=SubJob.objects.get(pk=pending.pk), user=bob),
    )
    assert first.erp_state == "accepted"
    assert isinstance(second, ErpActionRefused)
    assert ErpEvent.objects.filter(action="accept").count() == 1


def test_a_retrieve_racing_an_accept_loses_with_a_clear_message(
    pending: SubJob, company: Any, admin: Any
) -> None:
    alice = f.approver(company)
    first, second = race(
        lambda: erp_accept(item=SubJob.objects.get(pk=pending.pk), user=alice),
        lambda: erp_retrieve(item=SubJob.objects.get(pk=pending.pk), user=admin),
    )
    assert first.erp_state == "accepted"
    assert isinstance(second, ErpActionRefused)
    assert "already accepted by" in str(second)
    assert not ErpEvent.objects.filter(action="retrieve").exists()
