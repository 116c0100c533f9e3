"""A bulk accept decides its items in one transaction and a fixed number of queries
(erpsync.bulk.erp_accept_many): each item keeps its own outcome, audit row, approval and
announcement; a refusal of one undoes none of the others; two overlapping bulks accept each
item once."""

from __future__ import annotations

import os
import threading
from typing import Any

import pytest
import redis
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_fsm.signals import pre_transition

from approvals.kinds import kind_for
from approvals.services import Outcome, decide_many
from erpsync.kinds import erp_item_models
from erpsync.models import Approval, ApprovalRule, ErpEvent, OutboxEmail
from erpsync.services import erp_accept, erp_send
from subjobs.models import SubJob
from tests import factories as f
from tests.api_helpers import client_for, url
from tests.bulk import pending_sub_jobs, send_events
from tests.procs import running_worker, wait_for
from webhooks.models import WebhookDelivery, WebhookSubscription

BUSY = "Another person is deciding this sub job right now"


def pending_ids(project: Any, sender: Any, count: int, *, start: int = 0) -> list[int]:
    pending_sub_jobs(project, sender, count, start=start)
    send_events(project, sender)
    rows = SubJob.objects.filter(project=project, code__gte=f"B-{start:07d}")
    return list(rows.order_by("code").values_list("pk", flat=True)[:count])


def accept(api: Any, company: Any, ids: list[int], version: int = 1) -> dict[str, Any]:
    body = {"items": [{"id": pk, "version": version} for pk in ids]}
    response = api.post(url(company, "sub-jobs/bulk/accept/"), body, format="json")
    assert response.status_code == 200, response.content
    return response.json()


@pytest.mark.django_db
def test_a_bulk_accept_costs_the_same_queries_for_10_and_for_50_items(
    company: Any, project: Any, admin: Any, approver: Any
) -> None:
    # A subscriber to acceptances, so that the webhook rows are part of what is counted.
    WebhookSubscription.objects.create(
        company=company, url="https://example.com/hook", events=["item.accepted"], secret="s"
    )
    ids = pending_ids(project, admin, 61)
    api = client_for(approver, company)
    ContentType.objects.get_for_models(*erp_item_models())  # cached in a running server
    assert accept(api, company, ids[:1])["done"] == 1  # the token's first use is its own

    def queries(chosen: list[int]) -> int:
        with CaptureQueriesContext(connection) as captured:
            answer = accept(api, company, chosen)
        assert answer["done"] == len(chosen), answer["summary"]
        return len(captured)

    few, many = queries(ids[1:11]), queries(ids[11:61])
    assert few == many, (few, many)
    # The token, the approver's rights (twice: the API's check, then the policy's), the items,
    # the lock, the policy's reads, one UPDATE, the audit rows, the approvals, the webhooks'
    # subscriptions, payloads and rows, two savepoint statements, the answer's states.
    assert few <= 25
    # Each item still has its own audit row naming the approver, its approval and its webhook
    # event.
    accepts = ErpEvent.objects.filter(action="accept", object_id__in=ids)
    assert sorted(accepts.values_list("object_id", flat=True)) == sorted(ids)
    assert set(accepts.values_list("actor", "from_state", "to_state", "version")) == {
        (approver.pk, "pending", "accepted", 1)
    }
    approvals = Approval.objects.filter(object_id__in=ids, approver=approver, version=1)
    assert approvals.count() == 61
    assert not approvals.filter(event__isnull=True).exists()
    deliveries = WebhookDelivery.objects.filter(event_type="item.accepted")
    assert deliveries.count() == 61
    assert len(set(deliveries.values_list("event_id", flat=True))) == 61
    assert sorted(d.payload["data"]["item"]["id"] for d in deliveries) == sorted(ids)
    assert {d.payload["data"]["item"]["state"] for d in deliveries} == {"accepted"}


@pytest.mark.django_db
def test_a_bulk_reject_costs_the_same_queries_for_10_and_for_50_items_and_tells_each_sender(
    company: Any, project: Any, admin: Any, approver: Any
) -> None:
    WebhookSubscription.objects.create(
        company=company, url="https://example.com/hook", events=["item.rejected"], secret="s"
    )
    ids = pending_ids(project, admin, 61)
    api = client_for(approver, company)
    ContentType.objects.get_for_models(*erp_item_models())

    def queries(chosen: list[int]) -> int:
        body = {"items": [{"id": pk} for pk in chosen], "reason": "Wrong cost code"}
        with CaptureQueriesContext(connection) as captured:
            response = api.post(url(company, "sub-jobs/bulk/reject/"), body, format="json")
        assert response.json()["done"] == len(chosen), response.json()["summary"]
        return len(captured)

    queries(ids[:1])  # the token's first use is its own
    assert queries(ids[1:11]) == queries(ids[11:61])
    rejects = ErpEvent.objects.filter(action="reject", object_id__in=ids)
    assert set(rejects.values_list("actor", "reason", "to_state")) == {
        (approver.pk, "Wrong cost code", "rejected")
    }
    assert rejects.count() == 61
    # Each sender is emailed, one email per item, as a single rejection does.
    emails = OutboxEmail.objects.filter(kind="rejection")
    assert sorted(emails.values_list("event__object_id", flat=True)) == sorted(ids)
    assert set(emails.values_list("recipient", flat=True)) == {admin.email}
    assert WebhookDelivery.objects.filter(event_type="item.rejected").count() == 61
    assert set(SubJob.objects.values_list("erp_rejection_reason", flat=True)) == {"Wrong cost code"}


@pytest.mark.django_db
def test_each_refusal_in_a_bulk_is_reported_and_undoes_none_of_the_others(
    company: Any, project: Any, admin: Any, approver: Any
) -> None:
    first, second, stale, decided = pending_ids(project, admin, 4)
    pending_sub_jobs(project, approver, 1, start=10)  # sent by the approver: self-approval
    mine = SubJob.objects.get(code="B-0000010").pk
    erp_accept(item=SubJob.objects.get(pk=decided), user=f.approver(company))
    body = {
        "items": [
            {"id": first, "version": 1},
            {"id": mine, "version": 1},
            {"id": stale, "version": 2},
            {"id": decided, "version": 1},
            {"id": second, "version": 1},
        ]
    }
    response = client_for(approver, company).post(
        url(company, "sub-jobs/bulk/accept/"), body, format="json"
    )
    answer = response.json()
    results = {r["id"]: r for r in answer["results"]}
    assert (answer["done"], answer["skipped"]) == (2, 3)
    assert [r["id"] for r in answer["results"]] == [i["id"] for i in body["items"]]
    assert results[first]["done"] and results[second]["done"]
    assert "You sent this sub job" in results[mine]["message"]
    assert "version 2 is now 1" in results[stale]["message"]
    assert "already accepted by" in results[decided]["message"]
    states = dict(SubJob.objects.values_list("pk", "erp_state"))
    assert [states[pk] for pk in (first, second, mine, stale)] == [
        "accepted",
        "accepted",
        "pending",
        "pending",
    ]
    mine_events = ErpEvent.objects.filter(object_id__in=[mine, stale], action="accept")
    assert not mine_events.exists()
    assert not Approval.objects.filter(object_id__in=[mine, stale]).exists()


def _accept(company: Any, user: Any, ids: list[int]) -> list[Outcome]:
    return decide_many(
        company=company,
        kind=kind_for(company, "sub_job"),
        user=user,
        decision="accept",
        versions=dict.fromkeys(ids, 1),
    )


def _bulk(company: Any, user: Any, ids: list[int]) -> list[Outcome]:
    """_accept on a thread's own connection, closed after."""
    try:
        return _accept(company, user, ids)
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_a_bulk_skips_the_items_another_bulk_holds_and_says_so(
    company: Any, project: Any, admin: Any
) -> None:
    alice, bob = f.approver(company), f.approver(company)
    ids = pending_ids(project, admin, 6)
    hers, his = ids[:4], ids[2:]  # two items in both
    holding, release = threading.Event(), threading.Event()
    held: list[int] = []

    def hold(sender: Any, **kwargs: Any) -> None:
        # Alice's bulk stops inside its first transition: it holds all her rows by then.
        if not held:
            held.append(threading.get_ident())
            holding.set()
            assert release.wait(15), "the test never released the first bulk"

    results: dict[str, Any] = {}
    pre_transition.connect(hold, weak=False)
    try:
        first = threading.Thread(target=lambda: results.update(a=_bulk(company, alice, hers)))
        first.start()
        assert holding.wait(15), "the first bulk never reached its transitions"
        # Bob's bulk does not wait for Alice's rows: it finishes while she still holds them.
        results["b"] = _bulk(company, bob, his)
        release.set()
        first.join(15)
    finally:
        release.set()
        pre_transition.disconnect(hold)
    assert [o.done for o in results["a"]] == [True] * 4
    assert [(o.done, o.message[: len(BUSY)]) for o in results["b"][:2]] == [(False, BUSY)] * 2
    assert [o.done for o in results["b"][2:]] == [True, True]
    accepts = ErpEvent.objects.filter(action="accept")
    assert sorted(accepts.values_list("object_id", flat=True)) == sorted(ids)
    assert set(accepts.filter(object_id__in=hers).values_list("actor", flat=True)) == {alice.pk}


@pytest.mark.django_db(transaction=True)
def test_two_overlapping_bulk_accepts_at_once_accept_each_item_once(
    company: Any, project: Any, admin: Any
) -> None:
    alice, bob = f.approver(company), f.approver(company)
    ids = pending_ids(project, admin, 40)
    start = threading.Barrier(2)
    results: dict[str, list[Outcome]] = {}

    def run(name: str, user: Any, chosen: list[int]) -> None:
        start.wait(10)
        results[name] = _bulk(company, user, chosen)

    threads = [
        threading.Thread(target=run, args=("a", alice, ids[:30])),
        threading.Thread(target=run, args=("b", bob, ids[10:])),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    done = [o.item_id for name in "ab" for o in results[name] if o.done]
    assert sorted(done) == sorted(ids), "each item accepted by exactly one of the two"
    refused = [o for name in "ab" for o in results[name] if not o.done]
    assert len(refused) == 20  # the overlap, each refused once with its reason
    assert all(BUSY in o.message or "already accepted by" in o.message for o in refused)
    accepts = ErpEvent.objects.filter(action="accept")
    assert sorted(accepts.values_list("object_id", flat=True)) == sorted(ids)
    assert Approval.objects.count() == 40
    assert set(SubJob.objects.values_list("erp_state", flat=True)) == {"accepted"}


@pytest.mark.django_db(transaction=True)
def test_a_bulk_accept_queues_its_exports_in_one_message_and_each_is_exported(
    company: Any, project: Any, admin: Any, approver: Any, settings: Any
) -> None:
    broker = redis.Redis.from_url(os.environ["CELERY_BROKER_URL"])
    broker.delete("celery")
    ids = pending_ids(project, admin, 10)
    outcomes = _bulk(company, approver, ids[:5])
    assert [o.done for o in outcomes] == [True] * 5
    assert broker.llen("celery") == 1  # one message for the five, sent after the commit
    settings.ERP_EXPORT_BACKOFF_SECONDS = 0
    with running_worker():  # which purges that message first
        outcomes = _bulk(company, approver, ids[5:])
        assert [o.done for o in outcomes] == [True] * 5
        # The second bulk's batch takes every item the company has accepted and nothing
        # holds: the first five, whose message was purged, are exported with it.
        wait_for(
            lambda: (
                set(SubJob.objects.filter(pk__in=ids).values_list("erp_state", flat=True))
                == {"synced"}
            ),
            "the ten exports",
        )
    synced = ErpEvent.objects.filter(action="mark_synced")
    assert sorted(synced.values_list("object_id", flat=True)) == sorted(ids)  # each once


@pytest.mark.django_db
def test_bulk_approvals_under_an_amount_rule_write_what_single_ones_write(
    company: Any, project: Any, admin: Any
) -> None:
    ApprovalRule.objects.create(company=company, kind="sub_job", approvals_required=2)
    WebhookSubscription.objects.create(
        company=company,
        url="https://example.com/hook",
        events=["item.approval_added", "item.accepted"],
        secret="s",
    )
    alice, bob = f.approver(company), f.approver(company)
    ids = pending_ids(project, admin, 3)
    first = _accept(company, alice, ids)
    assert [(o.done, o.message, o.progress) for o in first] == [(True, "approved", "1 of 2")] * 3
    again = _accept(company, alice, ids)  # one approval per approver and version
    assert all(not o.done and "You already approved version 1" in o.message for o in again)
    second = _accept(company, bob, ids)
    assert [(o.done, o.message) for o in second] == [(True, "accepted")] * 3
    events = ErpEvent.objects.filter(object_id__in=ids, action__in=["approve", "accept"])
    assert sorted(events.values_list("action", "actor", "from_state", "to_state")) == sorted(
        [("approve", alice.pk, "pending", "partially_approved")] * 3
        + [("accept", bob.pk, "partially_approved", "accepted")] * 3
    )
    assert {e.action: e.details for e in events} == {
        "approve": {"approval": "1 of 2"},
        "accept": {"approval": "2 of 2"},
    }
    assert Approval.objects.filter(object_id__in=ids).count() == 6
    assert sorted(WebhookDelivery.objects.values_list("event_type", flat=True)) == sorted(
        ["item.approval_added"] * 3 + ["item.accepted"] * 3
    )
    item = SubJob.objects.get(pk=ids[0])
    assert (item.erp_accepted_by, item.erp_changed_by) == (bob, bob)


@pytest.mark.django_db
def test_a_bulk_reject_of_owner_invoices_emails_each_invoices_sender_and_creator(
    company: Any, project: Any, admin: Any, approver: Any
) -> None:
    creator = f.member(project, admin=True)
    invoices = [
        erp_send(item=f.invoice_ready_to_send(project=project, user=creator), user=admin)
        for _ in range(3)
    ]
    response = client_for(approver, company).post(
        url(company, "owner-invoices/bulk/reject/"),
        {"items": [{"id": i.pk} for i in invoices], "reason": "Wrong period"},
        format="json",
    )
    assert response.json()["done"] == 3, response.json()["summary"]
    emails = OutboxEmail.objects.filter(kind="rejection")
    assert sorted(emails.values_list("event__object_id", "recipient")) == sorted(
        (i.pk, who.email) for i in invoices for who in (admin, creator)
    )
