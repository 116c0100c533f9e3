"""Two ERP tool Admins stepping down at once: the company keeps one of them.

Each runs in its own thread with its own PostgreSQL connection. The first holds its change
just before commit; the test waits until PostgreSQL reports the second blocked on the
company's row lock, then lets the first commit. Without that lock each would see the other
still Admin and both would step down.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.db.models.signals import post_save

from companysettings.services import SettingsRefused, membership_set_flags
from projects.models import CompanyMembership, ToolLevel
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
    holding, release = threading.Event(), threading.Event()
    held: list[int] = []

    def hold(sender: Any, **kwargs: Any) -> None:
        if not held:
            held.append(threading.get_ident())
            holding.set()
            assert release.wait(15), "the test never released the first change"

    results: dict[str, Any] = {}

    def run(name: str, action: Callable[[], Any]) -> None:
        try:
            results[name] = action()
        except Exception as exc:  # the loser's refusal is the result under test
            results[name] = exc
        finally:
            connection.close()

    post_save.connect(hold, sender=CompanyMembership, weak=False)
    try:
        a = threading.Thread(target=run, args=("first", first))
        b = threading.Thread(target=run, args=("second", second))
        a.start()
        assert holding.wait(15), "the first change never reached its save"
        b.start()
        deadline = time.monotonic() + 15
        while _blocked_on_lock() == 0:
            assert time.monotonic() < deadline, "the second change never waited for the lock"
            time.sleep(0.02)
        release.set()
        a.join(15)
        b.join(15)
    finally:
        release.set()
        post_save.disconnect(hold, sender=CompanyMembership)
    return results["first"], results["second"]


def test_two_admins_stepping_down_at_once_leave_one_admin() -> None:
    company = f.CompanyFactory()
    one = f.approver(company, erp_tool_level=ToolLevel.ADMIN)
    two = f.approver(company, erp_tool_level=ToolLevel.ADMIN)
    first_membership = CompanyMembership.objects.get(user=one)
    second_membership = CompanyMembership.objects.get(user=two)

    first, second = race(
        lambda: membership_set_flags(
            membership=first_membership, user=one, erp_tool_level=ToolLevel.STANDARD
        ),
        lambda: membership_set_flags(
            membership=second_membership, user=two, erp_tool_level=ToolLevel.STANDARD
        ),
    )
    assert isinstance(first, CompanyMembership)
    assert isinstance(second, SettingsRefused), second
    assert "is the last Admin" in second.message
    admins = CompanyMembership.objects.filter(company=company, erp_tool_level=ToolLevel.ADMIN)
    assert list(admins.values_list("user", flat=True)) == [two.pk]
