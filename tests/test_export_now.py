"""Defect 17: an item stuck in Exporting when no worker runs gets an "Export now" button.

An accepted item whose export has not finished after ERP_SWEEP_AFTER_SECONDS and that no
worker holds (the sweeper's own rule) can be queued again by an accounting approver; the
audit trail names who did it and the item stays accepted until the export says otherwise.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
import redis
from django.conf import settings as django_settings
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from erpsync.celery import app as celery_app
from erpsync.exports import stale_exports
from erpsync.models import ErpEvent, ExportAttempt, SandboxRecord
from subjobs.models import SubJob
from tests import factories as f

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
BUTTON = 'data-decision="export"'


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def exporting_list(company: Any) -> str:
    return reverse("erp_queue", args=[company.slug, "sub_job", "exporting"])


def export_now_url(item: Any) -> str:
    return reverse("erp_decide", args=[item.erp_company.slug, item.erp_kind, item.pk, "export"])


def page(client: Client, company: Any) -> str:
    response = client.get(exporting_list(company))
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def accepted_ago(item: Any, seconds: float) -> None:
    """The item was accepted `seconds` ago and its export never ran (the demo's case)."""
    SubJob.objects.filter(pk=item.pk).update(
        erp_changed_at=timezone.now() - timedelta(seconds=seconds)
    )


def lease(item: Any) -> ExportAttempt:
    """A worker claimed the item's export a moment ago and is calling the ERP."""
    return ExportAttempt.objects.create(
        content_type=ContentType.objects.get_for_model(SubJob),
        object_id=item.pk,
        company=item.erp_company,
        version=item.erp_version,
        idempotency_key=f"erpsync:sub_job:{item.pk}:v{item.erp_version}",
        try_number=1,
    )


@pytest.fixture
def accepted(sub_job: Any, drive: Any) -> Any:
    # The export's publish happens on commit, which a transactional test never reaches.
    return drive(sub_job, "accepted")


@pytest.fixture
def stuck(accepted: Any) -> Any:
    accepted_ago(accepted, django_settings.ERP_SWEEP_AFTER_SECONDS + 60)
    return accepted


@pytest.fixture
def eager() -> Iterator[None]:
    """The embedded demo's mode: tasks run in this process (no broker, no worker)."""
    conf = celery_app.conf
    saved = conf.task_always_eager
    conf.task_always_eager = True
    try:
        yield
    finally:
        conf.task_always_eager = saved


@pytest.fixture
def broker_queue() -> Iterator[redis.Redis]:
    """The real broker's default queue, emptied before and after the test."""
    client = redis.Redis.from_url(django_settings.CELERY_BROKER_URL)
    celery_app.control.purge()
    try:
        yield client
    finally:
        celery_app.control.purge()
        client.close()


def requeues(item: Any) -> list[ErpEvent]:
    return list(ErpEvent.objects.filter(object_id=item.pk, action="requeue_export"))


def state_of(item: Any) -> str:
    return SubJob.objects.values_list("erp_state", flat=True).get(pk=item.pk)


# ----- who sees the button ------------------------------------------------------------------


def test_a_stuck_item_shows_export_now_to_approvers(
    company: Any, approver: Any, stuck: Any
) -> None:
    body = page(client_for(approver), company)
    assert f'data-item="{stuck.erp_title}"' in body
    assert BUTTON in body and "Export now" in body


def test_a_fresh_acceptance_has_no_button(company: Any, approver: Any, accepted: Any) -> None:
    body = page(client_for(approver), company)
    assert f'data-item="{accepted.erp_title}"' in body
    assert BUTTON not in body


def test_an_item_a_worker_holds_has_no_button(company: Any, approver: Any, stuck: Any) -> None:
    lease(stuck)
    assert BUTTON not in page(client_for(approver), company)


def test_read_only_users_see_no_button_and_a_forged_post_is_refused_403(
    company: Any, stuck: Any
) -> None:
    reader = f.approver(company, erp_tool_level=10, can_push_to_accounting=False)
    client = client_for(reader)
    body = page(client, company)
    assert f'data-item="{stuck.erp_title}"' in body and BUTTON not in body
    assert client.post(export_now_url(stuck)).status_code == 403
    assert requeues(stuck) == [] and state_of(stuck) == "accepted"


# ----- forged requests ----------------------------------------------------------------------


@pytest.mark.parametrize("why", ["fresh", "leased"])
def test_export_now_for_an_item_that_is_not_stuck_is_refused_409_and_changes_nothing(
    company: Any, approver: Any, accepted: Any, why: str, broker_queue: redis.Redis
) -> None:
    if why == "leased":
        accepted_ago(accepted, django_settings.ERP_SWEEP_AFTER_SECONDS + 60)
        lease(accepted)
    events_before = ErpEvent.objects.count()

    response = client_for(approver).post(export_now_url(accepted), **HTMX)

    assert response.status_code == 409
    assert "is being exported" in html.unescape(response.content.decode())
    assert ErpEvent.objects.count() == events_before and state_of(accepted) == "accepted"
    assert broker_queue.llen("celery") == 0


def test_export_now_for_a_synced_item_is_refused_409(
    company: Any, approver: Any, sub_job: Any, drive: Any
) -> None:
    synced = drive(sub_job, "synced")
    response = client_for(approver).post(export_now_url(synced))
    assert response.status_code == 409
    assert "already synced" in html.unescape(response.content.decode())
    assert requeues(synced) == []


def test_another_companys_item_answers_404(stuck: Any) -> None:
    outsider = f.approver(f.CompanyFactory())
    assert client_for(outsider).post(export_now_url(stuck)).status_code == 404
    assert requeues(stuck) == []


# ----- what a click does --------------------------------------------------------------------


# Transactional: the export is queued when the service's own transaction really commits.
@pytest.mark.django_db(transaction=True)
def test_in_the_eager_demo_the_click_exports_at_once_and_names_the_approver(
    company: Any, approver: Any, stuck: Any, eager: None
) -> None:
    response = client_for(approver).post(export_now_url(stuck), **HTMX)

    assert response.status_code == 200
    assert "exported to the ERP" in html.unescape(response.content.decode())
    stuck.refresh_from_db()
    record = SandboxRecord.objects.get()
    assert (stuck.erp_state, stuck.erp_id) == ("synced", record.erp_id)
    (event,) = requeues(stuck)
    assert (event.actor, event.from_state, event.to_state) == (approver, "accepted", "accepted")
    assert event.get_action_display() == "Export queued again"
    assert ErpEvent.objects.filter(object_id=stuck.pk, action="mark_synced").count() == 1


@pytest.mark.django_db(transaction=True)
def test_with_a_broker_the_click_queues_the_export_once(
    company: Any, approver: Any, stuck: Any, broker_queue: redis.Redis
) -> None:
    client = client_for(approver)
    response = client.post(export_now_url(stuck))

    assert response.status_code == 302
    assert broker_queue.llen("celery") == 1
    assert state_of(stuck) == "accepted"
    assert [e.actor for e in requeues(stuck)] == [approver]
    # Queued just now: neither the button nor the sweeper queue it a second time meanwhile.
    assert BUTTON not in page(client, company)
    assert stale_exports(SubJob) == []
    again = client.post(export_now_url(stuck))
    assert again.status_code == 409 and len(requeues(stuck)) == 1


# ----- erp_sweep ----------------------------------------------------------------------------


def test_erp_sweep_runs_both_sweepers_once_and_says_what_it_did(
    stuck: Any, broker_queue: redis.Redis
) -> None:
    out = StringIO()
    call_command("erp_sweep", stdout=out)
    text = out.getvalue()
    assert "Requeued 1 stuck export" in text
    assert "Queued 0 unsent emails" in text
    assert broker_queue.llen("celery") == 1


def test_erp_sweep_in_the_eager_demo_exports_the_stuck_item_here(stuck: Any, eager: None) -> None:
    out = StringIO()
    call_command("erp_sweep", stdout=out)
    assert "Requeued 1 stuck export" in out.getvalue()
    assert state_of(stuck) == "synced"
