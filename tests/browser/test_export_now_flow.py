"""Defect 17 in the browser: the demo's item stuck in Exporting, exported with Export now."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from erpsync.celery import app as celery_app
from erpsync.models import ErpEvent
from subjobs.models import SubJob

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def eager() -> Iterator[None]:
    """The embedded demo's mode: no broker, tasks run in the process that queues them."""
    saved = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    try:
        yield
    finally:
        celery_app.conf.task_always_eager = saved


def test_the_approver_exports_the_demos_stuck_item_with_export_now(
    page: Page, live_server: Any, demo: None, login: Any, eager: None
) -> None:
    # The demo accepted 06-000 without exporting it; two minutes on, nothing has.
    SubJob.objects.filter(code="06-000").update(
        erp_changed_at=timezone.now() - timedelta(minutes=2)
    )
    login("approver")
    page.goto(f"{live_server.url}/companies/demo-builders/erp/sub_job/exporting/")
    row = page.locator('tr[data-item="sub job 06-000"]')
    expect(row).to_have_attribute("data-state", "accepted")

    row.get_by_role("button", name="Export now").click()

    done = page.locator('tr[data-decided="sub job 06-000"]')
    expect(done).to_contain_text("Sub job 06-000 exported to the ERP (ERP id SBX-")
    item = SubJob.objects.get(code="06-000", project__number="DB-100")
    assert item.erp_state == "synced"
    event = ErpEvent.objects.get(object_id=item.pk, action="requeue_export")
    assert event.actor is not None and event.actor.username == "approver"
    page.reload()
    expect(page.locator('tr[data-item="sub job 06-000"]')).to_have_count(0)
