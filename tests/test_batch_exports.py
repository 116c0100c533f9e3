"""Batched exports (erpsync.batch_exports) on real PostgreSQL, Redis and Celery workers:
disjoint claims under SKIP LOCKED, one ERP call per batch, one item's failure kept to that
item, a worker killed after the ERP's write making no second record, and the statements one
export and one batch take."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from erpsync.batch_exports import _lock_claimable, claim_batch, export_company_batch
from erpsync.exports import erp_export, idempotency_key, stale_exports
from erpsync.models import ErpEvent, ExportAttempt, SandboxCall, SandboxRecord
from erpsync.rows import write_fields
from erpsync.services import erp_accept, erp_send
from erpsync.tasks import export_batch, export_items
from subjobs.models import SubJob
from tests.procs import (
    ReceivingErp,
    RedisServer,
    beat,
    env_on_test_database,
    publishing_to,
    wait_for,
    worker,
)
from tests.transactions import held_open
from webhooks.models import WebhookDelivery, WebhookSubscription

pytestmark = pytest.mark.django_db(transaction=True)


def accepted_sub_jobs(project: Any, admin: Any, approver: Any, count: int) -> list[SubJob]:
    """`count` sub jobs sent and accepted without queuing their export."""
    SubJob.objects.bulk_create(
        SubJob(project=project, code=f"B-{n:04d}", name=f"Batch {n}", status="approved")
        for n in range(count)
    )
    items = list(SubJob.objects.filter(project=project, code__startswith="B-").order_by("code"))
    for item in items:
        erp_send(item=item, user=admin)
        erp_accept(item=item, user=approver, export=False)
    return list(SubJob.objects.filter(pk__in=[i.pk for i in items]).order_by("code"))


def states(items: list[SubJob]) -> dict[str, str]:
    rows = SubJob.objects.filter(pk__in=[i.pk for i in items]).values_list("code", "erp_state")
    return dict(rows)


def never_requeue(*args: Any) -> None:
    raise AssertionError(f"nothing here should be retried: {args}")


def test_an_acceptance_exports_what_else_the_company_accepted_in_the_same_batch(
    worker: None, project: Any, admin: Any, approver: Any
) -> None:
    waiting = accepted_sub_jobs(project, admin, approver, 3)  # accepted, nothing queued
    time.sleep(0.5)
    assert set(states(waiting).values()) == {"accepted"}
    last = SubJob.objects.create(project=project, code="Z-1", name="Last", status="approved")
    erp_send(item=last, user=admin)
    erp_accept(item=last, user=approver)  # queues export_batch for the company
    items = [*waiting, last]
    wait_for(lambda: set(states(items).values()) == {"synced"}, "the batch")
    # One attempt each, all started together by one claim; one audit row each, by the system.
    attempts = list(ExportAttempt.objects.order_by("pk"))
    assert [(a.outcome, a.try_number) for a in attempts] == [("synced", 1)] * 4
    assert len({a.started_at for a in attempts}) == 1
    synced = ErpEvent.objects.filter(action="mark_synced")
    assert synced.count() == 4 and not synced.exclude(actor=None).exists()
    assert {e.details["adapter"] for e in synced} == {"sandbox"}
    # Each key written once; each item holds its record's id.
    assert SandboxCall.objects.filter(outcome="ok").count() == 4
    for item in SubJob.objects.filter(pk__in=[i.pk for i in items]):
        record = SandboxRecord.objects.get(idempotency_key=idempotency_key(item))
        assert item.erp_id == record.erp_id and record.payload == item.erp_snapshot()


def test_a_permanent_failure_fails_only_that_item_and_a_transient_one_is_retried(
    worker: None, project: Any, admin: Any, approver: Any, mailoutbox: list[Any]
) -> None:
    items = accepted_sub_jobs(project, admin, approver, 5)
    company = project.company
    company.erp_settings = {"fail": {"B-0002": "permanent", "B-0004": "transient:1"}}
    company.save()
    export_batch.delay(company.pk, "sandbox")
    wait_for(
        lambda: (
            states(items)
            == {
                "B-0000": "synced",
                "B-0001": "synced",
                "B-0002": "export_failed",
                "B-0003": "synced",
                "B-0004": "synced",
            }
        ),
        "the batch and the retry",
    )
    failed = SubJob.objects.get(code="B-0002")
    assert "set to fail permanently" in failed.erp_error and failed.erp_id == ""
    assert SandboxRecord.objects.count() == 4
    outcomes = {
        (a.idempotency_key, a.outcome, a.try_number)
        for a in ExportAttempt.objects.filter(object_id__in=[items[2].pk, items[4].pk])
    }
    assert outcomes == {
        (idempotency_key(items[2]), "permanent", 1),
        (idempotency_key(items[4]), "transient", 1),
        (idempotency_key(items[4]), "synced", 2),
    }
    assert ErpEvent.objects.filter(action="mark_export_failed").count() == 1
    wait_for(lambda: any("set to fail permanently" in m.body for m in mailoutbox), "the email")


def test_two_claims_at_once_take_disjoint_items(project: Any, admin: Any, approver: Any) -> None:
    items = accepted_sub_jobs(project, admin, approver, 10)
    company = project.company
    # Another worker in the middle of its claim: three rows locked, not yet committed.
    with held_open(lambda: _lock_claimable(SubJob, company, 3, taken=[])) as (rows, _):
        held = [row.pk for row in rows]
        started = time.monotonic()
        mine = [c.item.pk for c in claim_batch(company, 100)]
        waited = time.monotonic() - started
    assert len(held) == 3
    # SKIP LOCKED: the other worker's rows are passed over at once, not waited for.
    assert waited < 2 and not set(mine) & set(held)
    assert set(mine) | set(held) == {i.pk for i in items}
    # That worker let its rows go without claiming them: the next claim takes just those,
    # since the rest hold a live lease now.
    assert sorted(c.item.pk for c in claim_batch(company, 100)) == sorted(held)
    assert claim_batch(company, 100) == []


def row_held(pk: int, seconds: float = 10) -> Any:
    """Another connection holds the sub job's row (select_for_update) until the block ends or
    the yielded event is set, at most `seconds`."""
    return held_open(lambda: SubJob.objects.select_for_update().get(pk=pk), seconds=seconds)


def test_the_item_that_queued_the_batch_is_waited_for_not_skipped(
    project: Any, admin: Any, approver: Any
) -> None:
    """Someone holds the accepted item's row for a moment (a concurrent second approval being
    refused, say): SKIP LOCKED alone would pass it over and leave it to the sweeper; the batch
    it queued waits for it instead, and takes the others too."""
    first, other = accepted_sub_jobs(project, admin, approver, 2)
    company = project.company
    with row_held(first.pk) as (_, release):  # a refusing decision, say
        assert [c.item.pk for c in claim_batch(company, 100)] == [other.pk]  # skipped
        threading.Timer(0.5, release.set).start()
        claimed = claim_batch(company, 100, first=(SubJob, first.pk))
    assert [c.item.pk for c in claimed] == [first.pk]  # waited for; the other has a lease


def test_a_bulk_accepts_item_someone_holds_at_the_claim_is_exported_without_the_sweeper(
    worker: None, project: Any, admin: Any, approver: Any
) -> None:
    """A bulk accept queues one batch per chunk, carrying the chunk's ids: one the claim
    skipped (its row held by someone for a moment) gets its own export_item, which waits for
    the row. No beat runs here: without that, the item would wait for the sweeper."""
    items = accepted_sub_jobs(project, admin, approver, 3)
    held = items[1]
    with row_held(held.pk, seconds=30):
        export_items.delay("sub_job", [i.pk for i in items])
        others = [items[0], items[2]]
        wait_for(lambda: set(states(others).values()) == {"synced"}, "the batch")
        assert states([held]) == {held.code: "accepted"}  # skipped by the batch's claim
    wait_for(lambda: set(states(items).values()) == {"synced"}, "the skipped item's export")
    assert SandboxRecord.objects.count() == 3
    assert ExportAttempt.objects.filter(object_id=held.pk).count() == 1


def test_concurrent_claims_in_two_threads_never_share_an_item(
    project: Any, admin: Any, approver: Any
) -> None:
    items = accepted_sub_jobs(project, admin, approver, 40)
    company = project.company
    claims: dict[str, list[int]] = {}
    barrier = threading.Barrier(2)

    def claim(name: str) -> None:
        try:
            barrier.wait(10)
            claims[name] = [c.item.pk for c in claim_batch(company, 25)]
        finally:
            connection.close()

    threads = [threading.Thread(target=claim, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert not set(claims["a"]) & set(claims["b"])
    assert len(set(claims["a"]) | set(claims["b"])) == 40 == len(items)
    assert ExportAttempt.objects.count() == 40


def test_a_claim_skips_items_a_lease_or_a_scheduled_retry_holds(
    project: Any, admin: Any, approver: Any
) -> None:
    leased, retrying, stale, free = accepted_sub_jobs(project, admin, approver, 4)
    content_type = ContentType.objects.get_for_model(SubJob)
    now = timezone.now()
    for item, outcome, started in (
        (leased, "started", now),  # another worker is exporting it
        (retrying, "transient", now),  # its export_item retry is on its way
        (stale, "started", now - timedelta(hours=1)),  # a worker died long ago
    ):
        ExportAttempt.objects.create(
            content_type=content_type,
            object_id=item.pk,
            company=project.company,
            version=1,
            idempotency_key=idempotency_key(item),
            try_number=1,
            outcome=outcome,
            started_at=started,
            finished_at=now if outcome == "transient" else None,
        )
    claimed = {c.item.pk: c for c in claim_batch(project.company, 100)}
    assert set(claimed) == {stale.pk, free.pk}
    # The dead worker's try may have reached the ERP: its key is looked up first.
    assert claimed[stale.pk].earlier and not claimed[free.pk].earlier


def test_an_adapter_without_export_many_is_called_per_item_and_keeps_the_lease(
    project: Any, admin: Any, approver: Any, settings: Any
) -> None:
    """The webhook adapter has no batch call: the batch calls it once per item. Five calls of
    0.4 s outlast a 1 s lease, so the worker renews the lease of the items still waiting: the
    sweeper's rule never finds one of them stuck meanwhile."""
    settings.ERP_EXPORT_LEASE_SECONDS = 1
    settings.ERP_SWEEP_AFTER_SECONDS = 0
    erp = ReceivingErp("batch-secret", delay=0.4).start()
    company = project.company
    use_webhook(company, erp)
    items = accepted_sub_jobs(project, admin, approver, 5)
    looked_stuck: list[int] = []
    done = threading.Event()

    def sweeper_view() -> None:
        try:
            while not done.is_set():
                if ExportAttempt.objects.count() < 5:  # not claimed yet: stuck indeed
                    continue
                looked_stuck.extend(stale_exports(SubJob))
                time.sleep(0.05)
        finally:
            connection.close()

    watcher = threading.Thread(target=sweeper_view)
    watcher.start()
    try:
        result = export_company_batch(company_id=company.pk, requeue=never_requeue)
    finally:
        done.set()
        watcher.join(10)
        erp.stop()
    assert len(result.synced) == 5 and erp.calls == 5
    assert sorted(erp.created) == sorted(idempotency_key(i) for i in items)
    assert looked_stuck == []


def use_webhook(company: Any, erp: ReceivingErp, **extra: Any) -> None:
    company.erp_adapter = "webhook"
    company.erp_settings = {"url": erp.url, "secret": "batch-secret", "timeout": 10, **extra}
    company.save()


def test_a_webhook_receiver_with_a_batch_endpoint_gets_one_post_per_batch(
    worker: None, project: Any, admin: Any, approver: Any
) -> None:
    """batch_url declared: one signed POST carries the batch; a refused item fails alone."""
    erp = ReceivingErp("batch-secret", refuse=frozenset({"B-0003"})).start()
    try:
        use_webhook(project.company, erp, batch_url=erp.batch_url)
        items = accepted_sub_jobs(project, admin, approver, 6)
        export_batch.delay(project.company.pk, "webhook")
        wait_for(
            lambda: sorted(states(items).values()) == ["export_failed"] + ["synced"] * 5,
            "the batch",
        )
    finally:
        erp.stop()
    assert erp.batch_calls == 1 and erp.calls == 0  # no single POST: all in the batch
    assert sorted(erp.created) == sorted(idempotency_key(i) for i in items if i.code != "B-0003")
    refused = SubJob.objects.get(code="B-0003")
    assert refused.erp_error == "The ERP refused this item: refused by the test ERP"
    for item in SubJob.objects.filter(erp_state="synced"):
        assert item.erp_id == erp.records[idempotency_key(item)]


def test_items_a_batch_answer_asks_to_retry_are_retried_each_on_its_own(
    worker: None, project: Any, admin: Any, approver: Any, settings: Any
) -> None:
    settings.ERP_EXPORT_MAX_TRIES = 30  # half the calls fail: no item may run out of tries
    erp = ReceivingErp("batch-secret", fail_share=0.5).start()
    try:
        use_webhook(project.company, erp, batch_url=erp.batch_url)
        items = accepted_sub_jobs(project, admin, approver, 10)
        export_batch.delay(project.company.pk, "webhook")
        wait_for(
            lambda: set(states(items).values()) == {"synced"},
            f"the batch and its retries (now {states(items)})",
        )
    finally:
        erp.stop()
    retried = ExportAttempt.objects.filter(outcome="transient").count()
    assert erp.batch_calls == 1 and retried >= 1 and erp.calls >= retried
    assert sorted(erp.created) == sorted(idempotency_key(i) for i in items)  # each once


def test_a_batch_whose_answer_came_after_the_timeout_is_found_by_its_keys_on_the_retries(
    project: Any, admin: Any, approver: Any
) -> None:
    """The receiver writes the batch's records, but only after the adapter gave up waiting:
    every item's try ends transient with the records made. Each item's retry looks its key
    up first and finds its record: one record per item, none sent twice."""
    erp = ReceivingErp("batch-secret", delay=1.5).start()
    use_webhook(project.company, erp, batch_url=erp.batch_url, timeout=0.5)
    items = accepted_sub_jobs(project, admin, approver, 4)
    keys = sorted(idempotency_key(item) for item in items)
    retries: list[tuple[str, int, int, float]] = []
    try:
        result = export_company_batch(
            company_id=project.company.pk, requeue=lambda *retry: retries.append(retry)
        )
        assert result.retrying == 4 and not result.synced
        errors = set(ExportAttempt.objects.values_list("error", flat=True))
        assert len(errors) == 1 and "0.5 s" in errors.pop()
        wait_for(lambda: sorted(erp.created) == keys, "the ERP's late writes", timeout=10)
        erp.delay = 0.0
        for kind, pk, try_number, _ in retries:
            assert kind == "sub_job" and try_number == 2
            again = erp_export(model=SubJob, item_id=pk, try_number=2, requeue=never_requeue)
            assert again.outcome == "synced", again.detail
    finally:
        erp.stop()
    assert sorted(erp.created) == keys and erp.batch_calls == 1
    assert erp.calls == 0  # no single POST: every retry found its key
    for item in SubJob.objects.filter(pk__in=[i.pk for i in items]):
        assert item.erp_state == "synced"
        assert item.erp_id == erp.records[idempotency_key(item)]


def test_a_webhook_receiver_without_the_batch_endpoint_gets_one_post_per_item(
    worker: None, project: Any, admin: Any, approver: Any
) -> None:
    erp = ReceivingErp("batch-secret").start()
    try:
        use_webhook(project.company, erp)
        items = accepted_sub_jobs(project, admin, approver, 4)
        export_batch.delay(project.company.pk, "webhook")
        wait_for(lambda: set(states(items).values()) == {"synced"}, "the batch")
    finally:
        erp.stop()
    assert erp.batch_calls == 0 and erp.calls == 4
    assert sorted(erp.created) == sorted(idempotency_key(i) for i in items)


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.cleanup()


def test_a_worker_killed_after_the_batch_reached_the_erp_makes_no_second_record(
    report_figure: Any, own_redis: RedisServer, project: Any, admin: Any, approver: Any
) -> None:
    count = 20
    items = accepted_sub_jobs(project, admin, approver, count)
    company = project.company
    # The sandbox commits the batch's records, then waits before answering: the worker dies
    # with the ERP's ids in hand but nothing recorded.
    company.erp_settings = {"pause_after_write": 30}
    company.save()
    env = env_on_test_database(
        CELERY_BROKER_URL=own_redis.url,
        ERP_EXPORT_LEASE_SECONDS="3",
        ERP_SWEEP_AFTER_SECONDS="0",
        ERP_SWEEP_EVERY_SECONDS="1",
        CELERY_VISIBILITY_TIMEOUT="60",
    )
    first = worker(env, "doomed").start()
    second, sweeper = worker(env, "survivor"), beat(env)
    try:
        with publishing_to(own_redis.url):
            export_batch.delay(company.pk, "sandbox")
        wait_for(
            lambda: SandboxRecord.objects.count() == count,
            "the batch to reach the ERP",
            timeout=60,
            processes=(first,),
        )
        first.kill()
        assert set(states(items).values()) == {"accepted"}
        killed_at = time.monotonic()
        second.start()
        sweeper.start()
        wait_for(
            lambda: set(states(items).values()) == {"synced"},
            f"the recovery (states now {states(items)})",
            timeout=90,
            processes=(second, sweeper),
        )
        recovered = time.monotonic() - killed_at
    finally:
        for process in (first, second, sweeper):
            process.stop()
    # Every key was written once, by the killed batch; the retries found them by key.
    assert SandboxRecord.objects.count() == count
    assert SandboxCall.objects.count() == count
    for item in SubJob.objects.filter(pk__in=[i.pk for i in items]):
        key = idempotency_key(item)
        assert item.erp_id == SandboxRecord.objects.get(idempotency_key=key).erp_id
        tries = list(
            ExportAttempt.objects.filter(idempotency_key=key)
            .order_by("pk")
            .values_list("outcome", flat=True)
        )
        assert tries[0] == "started" and tries[-1] == "synced"
    assert ErpEvent.objects.filter(action="mark_synced").count() == count
    report_figure(
        f"batch killed after the ERP's write: {count} items, {SandboxRecord.objects.count()} "
        f"ERP records, {SandboxCall.objects.count()} export calls, all synced {recovered:.1f} s "
        "after the SIGKILL"
    )


# Statements (BEGIN and COMMIT included) of one export with the sandbox, counted: the claim
# (BEGIN, lock, one query of checks, the attempt, COMMIT), the sandbox's lookup and write
# (lookup, BEGIN, call, record, its id, COMMIT) and the outcome (BEGIN, the attempt, lock,
# the item, the audit row, the webhooks listener's subscriptions, COMMIT). 23 before the
# checks became one query and the outcome lost its savepoint.
ONE_EXPORT_STATEMENTS = 18


def test_one_export_takes_a_fixed_number_of_statements(
    project: Any, admin: Any, approver: Any
) -> None:
    [item] = accepted_sub_jobs(project, admin, approver, 1)
    with CaptureQueriesContext(connection) as queries:
        result = erp_export(model=SubJob, item_id=item.pk, try_number=1, requeue=never_requeue)
    assert result.outcome == "synced"
    assert len(queries) == ONE_EXPORT_STATEMENTS, "\n".join(q["sql"][:90] for q in queries)


def batch_statements(project: Any, admin: Any, approver: Any, count: int) -> int:
    SubJob.objects.filter(project=project).delete()
    accepted_sub_jobs(project, admin, approver, count)
    with CaptureQueriesContext(connection) as queries:
        result = export_company_batch(company_id=project.company.pk, requeue=never_requeue)
    assert len(result.synced) == count
    return len(queries)


def test_a_batch_takes_the_same_statements_for_2_and_for_30_items(
    project: Any, admin: Any, approver: Any
) -> None:
    batch_statements(project, admin, approver, 1)  # Django's ContentType cache filled
    two = batch_statements(project, admin, approver, 2)
    thirty = batch_statements(project, admin, approver, 30)
    # The claim, the ERP's bulk write, the outcome and its listeners (published at once: the
    # webhooks app reads the subscriptions once) are a fixed number of statements. Before the
    # listeners were batched, 2 items took 24 and each more item added the webhooks app's
    # query: 28 more for 30.
    assert two == 23
    assert thirty == two


def test_a_batch_announces_each_synced_item_to_the_webhooks_with_its_own_erp_id(
    project: Any, admin: Any, approver: Any
) -> None:
    subscription = WebhookSubscription.objects.create(
        company=project.company, url="https://example.com/hook", events=["item.synced"], secret="s"
    )
    items = accepted_sub_jobs(project, admin, approver, 12)
    result = export_company_batch(company_id=project.company.pk, requeue=never_requeue)
    assert len(result.synced) == 12
    announced = {
        d.payload["data"]["item"]["id"]: d.payload["data"]["item"]
        for d in WebhookDelivery.objects.filter(subscription=subscription)
    }
    synced = {i.pk: i.erp_id for i in SubJob.objects.filter(pk__in=[i.pk for i in items])}
    assert {pk: item["erp_id"] for pk, item in announced.items()} == synced
    assert {item["state"] for item in announced.values()} == {"synced"}
    assert len(set(synced.values())) == 12


def test_write_fields_writes_each_row_its_own_values_in_one_update(
    project: Any, admin: Any, approver: Any
) -> None:
    items = accepted_sub_jobs(project, admin, approver, 3)
    content_type = ContentType.objects.get_for_model(SubJob)
    attempts = [
        ExportAttempt.objects.create(
            content_type=content_type,
            object_id=item.pk,
            company=project.company,
            version=1,
            idempotency_key=idempotency_key(item),
            try_number=1,
        )
        for item in items
    ]
    later = timezone.now() + timedelta(minutes=5)
    values = [
        ("synced", "ERP-1", 2, later),
        ("transient", "", 7, None),
        ("synced", "ERP'3", 2, later),
    ]
    for attempt, (outcome, erp_id, tries, finished) in zip(attempts, values, strict=True):
        attempt.outcome, attempt.erp_id, attempt.try_number = outcome, erp_id, tries
        attempt.finished_at = finished
    fields = ["outcome", "erp_id", "try_number", "finished_at", "company"]
    with CaptureQueriesContext(connection) as queries:
        assert write_fields(ExportAttempt, attempts, fields) == 3
    assert len(queries) == 1
    rows = ExportAttempt.objects.order_by("pk").values_list(
        "outcome", "erp_id", "try_number", "finished_at", "company"
    )
    assert list(rows) == [(*v, project.company.pk) for v in values]
