"""Chaos on the real broker and real workers: an ERP that fails 30 % of calls, Redis stopped in
the middle of the day's work, a worker killed during exports. Nothing may be lost and
nothing may happen twice. Each test prints its figures.

All processes are real: a Redis of the test's own on a spare port (so that it can be
stopped), `celery worker` and `celery beat` on the test database, a receiving ERP of the
test's own, and emails written to files by the worker's own mail backend.
"""

from __future__ import annotations

import re
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db.models import Q

from approvals.kinds import kind_for
from approvals.services import decide_many
from erpsync.models import EmailStatus, ErpEvent, OutboxEmail
from erpsync.services import erp_accept, erp_reject, erp_send
from subjobs.models import SubJob
from tests.procs import (
    CeleryProcess,
    ReceivingErp,
    RedisServer,
    beat,
    env_on_test_database,
    publishing_to,
    wait_for,
    worker,
)

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "chaos-test-secret"


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def mail_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="erpsync-chaos-mail-") as path:
        yield Path(path)


def use_webhook(company: Any, erp: ReceivingErp) -> None:
    company.erp_adapter = "webhook"
    company.erp_settings = {"url": erp.url, "secret": SECRET, "timeout": 10}
    company.save()


def approved_sub_jobs(project: Any, admin: Any, count: int) -> list[SubJob]:
    SubJob.objects.bulk_create(
        SubJob(project=project, code=f"C-{n:05d}", name=f"Chaos {n}", status="approved")
        for n in range(count)
    )
    return list(SubJob.objects.filter(project=project, code__startswith="C-").order_by("code"))


def states(project: Any) -> Counter[str]:
    return Counter(SubJob.objects.filter(project=project).values_list("erp_state", flat=True))


def stop_all(*processes: CeleryProcess) -> None:
    for process in processes:
        process.stop()


def mail_message_ids(mail_dir: Path) -> list[str]:
    ids: list[str] = []
    for path in mail_dir.iterdir():
        ids += re.findall(r"^Message-ID: (\S+)", path.read_text(errors="replace"), re.MULTILINE)
    return ids


def test_a_thousand_exports_to_an_erp_failing_30_percent_of_calls(
    report_figure: Any, own_redis: RedisServer, project: Any, admin: Any, approver: Any
) -> None:
    items = 1000
    erp = ReceivingErp(SECRET, fail_share=0.3).start()
    use_webhook(project.company, erp)
    env = env_on_test_database(
        CELERY_BROKER_URL=own_redis.url,
        ERP_EXPORT_BACKOFF_SECONDS="0",
        ERP_EXPORT_MAX_TRIES="30",
    )
    workers = [worker(env, f"chaos-{n}").start() for n in range(2)]
    try:
        sub_jobs = approved_sub_jobs(project, admin, items)
        for sub_job in sub_jobs:
            erp_send(item=sub_job, user=admin)
        started = time.monotonic()
        with publishing_to(own_redis.url):
            outcomes = decide_many(
                company=project.company,
                kind=kind_for(project.company, "sub_job"),
                user=approver,
                decision="accept",
                versions={s.pk: 1 for s in sub_jobs},
            )
        assert all(o.done for o in outcomes)
        wait_for(
            lambda: states(project)["synced"] == items,
            f"{items} exports (states now {dict(states(project))})",
            timeout=300,
            processes=tuple(workers),
        )
        elapsed = time.monotonic() - started
    finally:
        stop_all(*workers)
        erp.stop()
    created = Counter(erp.created)
    duplicates = sum(n - 1 for n in created.values())
    lost = items - states(project)["synced"]
    report_figure(
        f"chaos, flaky ERP: {items} items, {erp.calls} ERP calls, "
        f"{erp.failures_injected} transient failures injected "
        f"({erp.failures_injected / erp.calls:.0%}), duplicates {duplicates}, lost {lost}, "
        f"all synced in {elapsed:.1f} s with 2 workers"
    )
    assert erp.failures_injected > 200
    assert duplicates == 0 and lost == 0
    assert len(created) == items
    synced_ids = set(SubJob.objects.filter(project=project).values_list("erp_id", flat=True))
    assert synced_ids == set(erp.records.values())


def test_redis_down_during_sends_rejects_and_accepts_loses_no_email_and_no_export(
    report_figure: Any,
    own_redis: RedisServer,
    mail_dir: Path,
    project: Any,
    admin: Any,
    approver: Any,
) -> None:
    erp = ReceivingErp(SECRET).start()
    use_webhook(project.company, erp)
    env = env_on_test_database(
        CELERY_BROKER_URL=own_redis.url,
        EMAIL_URL=f"file://{mail_dir}",
        ERP_EXPORT_BACKOFF_SECONDS="0",
        ERP_SWEEP_AFTER_SECONDS="1",
        ERP_SWEEP_EVERY_SECONDS="1",
        ERPSYNC_EMAIL_SWEEP_SECONDS="1",
    )
    processes = [worker(env, "outage").start(), beat(env).start()]
    sub_jobs = approved_sub_jobs(project, admin, 30)
    to_reject, to_accept, to_leave = sub_jobs[:10], sub_jobs[10:20], sub_jobs[20:]
    try:
        with publishing_to(own_redis.url):
            for sub_job in to_reject + to_accept:
                erp_send(item=sub_job, user=admin)  # while Redis is up
            own_redis.stop()
            outage = time.monotonic()
            # Everything the users do while the broker is down succeeds; only the publishes
            # after commit fail (and are logged).
            for sub_job in to_leave:
                erp_send(item=sub_job, user=admin)
            for sub_job in to_reject:
                erp_reject(item=sub_job, user=approver, reason="Fix the name")
            for sub_job in to_accept:
                erp_accept(item=sub_job, user=approver)
            time.sleep(2)  # a while with Redis down: beat and the worker keep retrying
            own_redis.start()
            back = time.monotonic()
            rows = OutboxEmail.objects.all()

            def all_delivered() -> bool:
                unsent = rows.filter(~Q(status=EmailStatus.SENT)).count()
                exporting = SubJob.objects.filter(pk__in=[s.pk for s in to_accept]).exclude(
                    erp_state="synced"
                )
                return unsent == 0 and not exporting.exists()

            wait_for(all_delivered, "every email and export after Redis returned", timeout=120)
            caught_up = time.monotonic() - back
    finally:
        stop_all(*processes)
        erp.stop()
    emails = rows.count()
    ids = mail_message_ids(mail_dir)
    duplicates = len(ids) - len(set(ids))
    assert emails == 20 + 10 + 10  # submissions (20 before, 10 during) + 10 rejections
    assert set(ids) == {f"<erpsync.{r.kind}.{r.pk}@127.0.0.1>" for r in rows}
    created = Counter(erp.created)
    report_figure(
        f"chaos, Redis down {back - outage:.1f} s: {len(sub_jobs)} items, "
        f"{emails} emails in the outbox, {len(set(ids))} delivered, {duplicates} duplicate "
        f"deliveries, lost emails {emails - len(set(ids))}; {len(to_accept)} exports, "
        f"{len(created)} made, duplicates {sum(n - 1 for n in created.values())}, "
        f"lost {len(to_accept) - len(created)}; caught up {caught_up:.1f} s after Redis returned"
    )
    assert duplicates == 0
    assert sorted(created) == sorted(f"erpsync:sub_job:{s.pk}:v1" for s in to_accept)
    assert all(n == 1 for n in created.values())
    assert ErpEvent.objects.filter(action="mark_synced").count() == len(to_accept)


def test_a_worker_killed_during_a_run_of_exports_exports_each_item_once(
    report_figure: Any, own_redis: RedisServer, project: Any, admin: Any, approver: Any
) -> None:
    items = 200
    erp = ReceivingErp(SECRET, delay=0.02).start()
    use_webhook(project.company, erp)
    env = env_on_test_database(
        CELERY_BROKER_URL=own_redis.url,
        ERP_EXPORT_LEASE_SECONDS="3",
        ERP_SWEEP_AFTER_SECONDS="0",
        ERP_SWEEP_EVERY_SECONDS="1",
        CELERY_VISIBILITY_TIMEOUT="60",
    )
    first = worker(env, "doomed").start()
    second = worker(env, "survivor")
    sweeper = beat(env).start()
    try:
        sub_jobs = approved_sub_jobs(project, admin, items)
        for sub_job in sub_jobs:
            erp_send(item=sub_job, user=admin)
        with publishing_to(own_redis.url):
            for sub_job in sub_jobs:
                erp_accept(item=sub_job, user=approver)
        wait_for(lambda: len(erp.created) >= items // 3, "a third of the exports", timeout=120)
        first.kill()
        done_before_kill = states(project)["synced"]
        second.start()
        wait_for(
            lambda: states(project)["synced"] == items,
            f"every export after the kill (states now {dict(states(project))})",
            timeout=180,
        )
    finally:
        stop_all(first, second, sweeper)
        erp.stop()
    created = Counter(erp.created)
    duplicates = sum(n - 1 for n in created.values())
    report_figure(
        f"chaos, worker killed: {items} items, {done_before_kill} synced before the SIGKILL, "
        f"{len(created)} ERP records, duplicates {duplicates}, "
        f"lost {items - states(project)['synced']}"
    )
    assert duplicates == 0 and len(created) == items
    for sub_job in SubJob.objects.filter(project=project):
        assert erp.records[f"erpsync:sub_job:{sub_job.pk}:v1"] == sub_job.erp_id
