"""Export throughput of Celery workers against the sandbox ERP, next to the same workers'
throughput on a task that does nothing, and the delay from an acceptance to Synced.

    .venv/bin/python bench/export_throughput.py [--items 2000] [--single-items 500]
        [--accepts 50] [--rss-items 10000]

Uses its own PostgreSQL database (erpsync_bench_export; BENCH_DATABASE_URL overrides) and
Redis database 7 (BENCH_BROKER_URL), starts `celery worker --pool solo` processes and prints:

- one worker: no-op tasks per second; items synced per second through export batches
  (export_batch, ERP_EXPORT_BATCH items each, the sandbox's one bulk write per batch); their
  ratio; and, for comparison, items synced per second one export_item task each;
- two worker processes: the same no-op and batch figures, and how much faster than one;
- the worker's resident memory over --rss-items batched exports, sampled every tenth, and
  its peak (VmHWM), which should stay flat;
- on an idle worker, the delay from an acceptance (erp_accept committed, export_batch
  queued by its listener) to the item being synced, p50 and p99 of --accepts acceptances;
- the machine and its load average before and after.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.common import drop_database, machine, recreate_database  # noqa: E402

DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/erpsync_bench_export"
)
BROKER_URL = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/7")
ENV = {
    **os.environ,
    "DATABASE_URL": DATABASE_URL,
    "CELERY_BROKER_URL": BROKER_URL,
    # Production mode, as a deployed worker runs (DEBUG keeps every query in memory).
    "DEBUG": "false",
    "SECRET_KEY": "bench-only-secret-key-not-used-for-anything-else-0123456789",
    "ALLOWED_HOSTS": "localhost",
    "DJANGO_SETTINGS_MODULE": "erpsync.settings",
    "LOG_LEVEL": "WARNING",
}
os.environ.update(ENV)


def start_worker(name: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable, "-m", "celery", "-A", "erpsync", "worker", "--pool", "solo",
            "--loglevel", "WARNING", "--without-gossip", "--without-mingle",
            "--without-heartbeat", "-n", f"{name}-{os.getpid()}@%h",
        ],
        cwd=ROOT,
        env=ENV,
    )  # fmt: skip


def stop(workers: list[subprocess.Popen[bytes]]) -> None:
    for worker in workers:
        worker.terminate()
    for worker in workers:
        worker.wait(30)


class Bench:
    def __init__(self) -> None:
        import redis

        from tests import factories as f

        self.f = f
        self.broker = redis.Redis.from_url(BROKER_URL)
        self.company = f.CompanyFactory(slug="bench-export")
        self.sender: Any = None
        self.approver = f.approver(self.company)
        self.next_code = 0

    def drained(self, marker: str, timeout: float = 600) -> None:
        start = time.monotonic()
        while not self.broker.get(marker):
            if time.monotonic() - start > timeout:
                raise SystemExit(f"the workers did not drain the queue in {timeout} s")
            time.sleep(0.01)

    def wait_up(self, workers: int) -> None:
        """Each worker has taken a task (the workers are up)."""
        from erpsync.tasks import noop

        markers = [f"bench:{uuid.uuid4()}" for _ in range(workers * 4)]
        for marker in markers:
            noop.delay(marker)
        for marker in markers:
            self.drained(marker, timeout=120)

    def noop_rate(self, count: int) -> float:
        from erpsync.tasks import noop

        marker = f"bench:{uuid.uuid4()}"
        begin = time.perf_counter()
        for _ in range(count):
            noop.delay()
        noop.delay(marker)
        self.drained(marker)
        return count / (time.perf_counter() - begin)

    def accepted(self, count: int) -> Any:
        """`count` accepted sub jobs of a new project, with their send rows; the state is
        written directly (fixture data, as tests.bulk writes pending items): the acceptances
        themselves are not what is measured."""
        from django.utils import timezone

        from erpsync.states import ErpState
        from subjobs.models import SubJob
        from tests.bulk import pending_sub_jobs, send_events

        f = self.f
        project = f.ProjectFactory(company=self.company, erp_synced=True, erp_job_id="JOB-E")
        sender = f.member(project, admin=True)
        pending_sub_jobs(project, sender, count, start=self.next_code)
        self.next_code += count
        send_events(project, sender)
        items = SubJob.objects.filter(project=project)
        items.update(
            erp_state=ErpState.ACCEPTED,
            erp_accepted_by=self.approver,
            erp_accepted_at=timezone.now(),
            erp_changed_at=timezone.now(),
        )
        return items

    def synced_rate(self, items: Any, queue: Any) -> float:
        count = items.count()
        begin = time.perf_counter()
        queue()
        while items.filter(erp_state="synced").count() < count:
            time.sleep(0.02)
        return count / (time.perf_counter() - begin)

    def batch_rate(self, count: int) -> float:
        from django.conf import settings

        from erpsync.tasks import export_batch

        items = self.accepted(count)
        # One task per batch, and a few more: an extra one finds nothing left and ends.
        tasks = -(-count // settings.ERP_EXPORT_BATCH) + 4

        def queue() -> None:
            for _ in range(tasks):
                export_batch.delay(self.company.pk, "sandbox")

        return self.synced_rate(items, queue)

    def single_rate(self, count: int) -> float:
        from erpsync.tasks import export_item

        items = self.accepted(count)
        ids = list(items.values_list("pk", flat=True))
        return self.synced_rate(items, lambda: [export_item.delay("sub_job", pk) for pk in ids])

    def rss_over(self, count: int, pid: int) -> list[tuple[int, float]]:
        """The worker's resident memory (MiB) before `count` batched exports and after each
        tenth of them, then its peak (VmHWM) as the last sample."""
        from django.conf import settings

        from erpsync.tasks import export_batch

        items = self.accepted(count)
        samples = [(0, rss_mib(pid, "VmRSS"))]
        step = max(1, count // 10)
        for _ in range(-(-count // settings.ERP_EXPORT_BATCH) + 4):
            export_batch.delay(self.company.pk, "sandbox")
        synced = items.filter(erp_state="synced")
        deadline = time.monotonic() + 600
        while samples[-1][0] < count:
            done = synced.count()
            if done >= samples[-1][0] + step or done == count:
                samples.append((done, rss_mib(pid, "VmRSS")))
            elif time.monotonic() > deadline:
                raise SystemExit(f"{done} of {count} exports in 600 s")
            else:
                time.sleep(0.05)
        samples.append((count, rss_mib(pid, "VmHWM")))
        return samples

    def accept_delays(self, count: int) -> list[float]:
        """Seconds from each acceptance's commit to Synced, one acceptance at a time."""
        from erpsync.services import erp_accept, erp_send
        from subjobs.models import SubJob

        f = self.f
        project = f.ProjectFactory(company=self.company, erp_synced=True, erp_job_id="JOB-L")
        sender = f.member(project, admin=True)
        delays = []
        for n in range(count):
            item = SubJob.objects.create(
                project=project, code=f"L-{n:04d}", name=f"Latency {n}", status="approved"
            )
            erp_send(item=item, user=sender)
            erp_accept(item=item, user=self.approver)  # queues export_batch at commit
            begin = time.perf_counter()
            state = SubJob.objects.filter(pk=item.pk).values_list("erp_state", flat=True)
            while state.get() != "synced":
                time.sleep(0.002)
            delays.append(time.perf_counter() - begin)
            time.sleep(0.2)  # idle again
        return delays


def rss_mib(pid: int, field: str) -> float:
    """A process's VmRSS (resident now) or VmHWM (its peak), in MiB, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise SystemExit(f"no {field} for process {pid}")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--single-items", type=int, default=500)
    parser.add_argument("--accepts", type=int, default=50)
    parser.add_argument("--rss-items", type=int, default=10_000)
    args = parser.parse_args()
    before = machine()
    recreate_database(DATABASE_URL)

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from erpsync.celery import app

    app.control.purge()
    bench = Bench()
    lines = []
    workers = [start_worker("one")]
    try:
        bench.wait_up(1)
        noop_1 = bench.noop_rate(args.items)
        batch_1 = bench.batch_rate(args.items)
        single_1 = bench.single_rate(args.single_items)
        memory = bench.rss_over(args.rss_items, workers[0].pid)
        delays = bench.accept_delays(args.accepts)
        workers.append(start_worker("two"))
        bench.wait_up(2)
        noop_2 = bench.noop_rate(args.items)
        batch_2 = bench.batch_rate(args.items)
    finally:
        stop(workers)
    from erpsync.models import SandboxRecord

    expected = 2 * args.items + args.single_items + args.rss_items + args.accepts
    assert SandboxRecord.objects.count() == expected, SandboxRecord.objects.count()
    lines += [
        f"machine: {before} (before); {machine()} (after)",
        f"sandbox adapter, ERP_EXPORT_BATCH={settings.ERP_EXPORT_BATCH}, --pool solo workers",
        f"one worker:  no-op tasks {noop_1:.0f}/s; batched exports {batch_1:.0f} items/s "
        f"({args.items} items); ratio {batch_1 / noop_1:.2f}; one export_item task per item "
        f"{single_1:.0f} items/s ({args.single_items} items)",
        f"two workers: no-op tasks {noop_2:.0f}/s; batched exports {batch_2:.0f} items/s; "
        f"ratio {batch_2 / noop_2:.2f}; scale-out {batch_2 / batch_1:.2f}x the batched "
        f"exports of one worker ({noop_2 / noop_1:.2f}x for no-op tasks)",
        f"worker RSS over {args.rss_items} batched exports (after {args.items + args.single_items}"
        f" already): {memory[0][1]:.1f} MiB before, "
        + ", ".join(f"{n} {mib:.1f}" for n, mib in memory[1:-1])
        + f" MiB; peak {memory[-1][1]:.1f} MiB; growth from the first tenth to the end "
        f"{memory[-2][1] - memory[1][1]:+.1f} MiB",
        f"accepted -> synced on an idle worker, {args.accepts} single acceptances: "
        f"p50 {ms(percentile(delays, 0.5))}, p99 {ms(percentile(delays, 0.99))}, "
        f"max {ms(max(delays))}, mean {ms(statistics.mean(delays))}",
    ]
    print("\n".join(lines))
    from django.db import connection

    connection.close()
    drop_database(DATABASE_URL)


if __name__ == "__main__":
    main()
