"""A worker SIGKILLed in the middle of an export: the item is synced exactly once, within the
bound the settings promise (lease + one sweep), by another worker and beat's sweeper.

Everything here is a real process: a Redis of the test's own, `celery worker` and
`celery beat` on the test database, and a receiving ERP that takes its time.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from erpsync.models import ExportAttempt
from erpsync.services import erp_accept, erp_send
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

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "recovery-test-secret"
LEASE = 4
SWEEP_EVERY = 1
ERP_CALL_SECONDS = 2.5


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def slow_erp() -> Iterator[ReceivingErp]:
    erp = ReceivingErp(SECRET, delay=ERP_CALL_SECONDS).start()
    try:
        yield erp
    finally:
        erp.stop()


def test_a_worker_killed_mid_export_is_recovered_exactly_once_within_the_bound(
    report_figure: Any,
    own_redis: RedisServer,
    slow_erp: ReceivingErp,
    sub_job: Any,
    admin: Any,
    approver: Any,
) -> None:
    company = sub_job.erp_company
    company.erp_adapter = "webhook"
    company.erp_settings = {"url": slow_erp.url, "secret": SECRET, "timeout": 10}
    company.save()
    env = env_on_test_database(
        CELERY_BROKER_URL=own_redis.url,
        ERP_EXPORT_LEASE_SECONDS=str(LEASE),
        ERP_SWEEP_AFTER_SECONDS="0",
        ERP_SWEEP_EVERY_SECONDS=str(SWEEP_EVERY),
        CELERY_VISIBILITY_TIMEOUT="60",
    )
    first, sweeper = worker(env, "first").start(), beat(env).start()
    second = worker(env, "second")
    try:
        with publishing_to(own_redis.url):
            erp_send(item=sub_job, user=admin)
            erp_accept(item=sub_job, user=approver)
        wait_for(slow_erp.in_flight.is_set, "the export to reach the ERP", timeout=30)
        first.kill()  # SIGKILL while the ERP is still working on the request
        killed_at = time.monotonic()
        second.start()

        def synced() -> bool:
            return SubJob.objects.get(pk=sub_job.pk).erp_state == "synced"

        wait_for(synced, "another worker to finish the export", timeout=60)
        recovered = time.monotonic() - killed_at
    finally:
        for process in (first, second, sweeper):
            process.stop()
    sub_job.refresh_from_db()
    key = f"erpsync:sub_job:{sub_job.pk}:v1"
    # The ERP made one record; the second worker found it by its key instead of remaking it.
    assert slow_erp.created == [key]
    assert sub_job.erp_id == slow_erp.records[key]
    tries = list(
        ExportAttempt.objects.filter(idempotency_key=key).values_list("outcome", flat=True)
    )
    assert tries[0] == "started" and tries[-1] == "synced"
    bound = LEASE + SWEEP_EVERY + 5  # + the new worker's start-up and the export itself
    report_figure(
        f"recovery after SIGKILL: synced {recovered:.1f} s after the kill "
        f"(bound {bound} s = lease {LEASE} + sweep {SWEEP_EVERY} + 5 s start-up); "
        f"ERP records for the key: {slow_erp.created.count(key)}; tries: {tries}"
    )
    assert recovered <= bound
