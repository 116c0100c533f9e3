"""Export throughput of one Celery worker against the sandbox ERP, next to the worker's
throughput on a task that does nothing.

    .venv/bin/python bench/export_throughput.py [--items 2000]

Uses its own PostgreSQL database (erpsync_bench_export; BENCH_DATABASE_URL overrides) and
Redis database 7 (BENCH_BROKER_URL), starts one `celery worker --pool solo` process, and
prints items synced per second, no-op tasks per second, and their ratio.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
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


def recreate_database(drop_only: bool = False) -> None:
    import psycopg

    parts = urlsplit(DATABASE_URL)
    with psycopg.connect(parts._replace(path="/postgres").geturl(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parts.path.lstrip("/")}"')
        if not drop_only:
            conn.execute(f'CREATE DATABASE "{parts.path.lstrip("/")}"')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=2000)
    args = parser.parse_args()
    recreate_database()

    import django

    django.setup()
    import redis
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from erpsync.celery import app
    from erpsync.services import erp_accept
    from erpsync.tasks import export_item, noop
    from subjobs.models import SubJob
    from tests import factories as f
    from tests.bulk import pending_sub_jobs

    company = f.CompanyFactory(slug="bench-export")
    project = f.ProjectFactory(company=company, erp_synced=True, erp_job_id="JOB-E")
    sender = f.member(project, admin=True)
    approver = f.approver(company)
    pending_sub_jobs(project, sender, args.items)
    # Snapshots come from the send events, so send for real: accept each without queuing it.
    from erpsync.services import record_event

    items = list(SubJob.objects.filter(project=project))
    for item in items:
        record_event(
            item=item,
            action="send",
            actor=sender,
            from_state="not_sent",
            version=1,
            snapshot=item.erp_snapshot(),
        )
        erp_accept(item=item, user=approver, export=False)
    app.control.purge()
    broker = redis.Redis.from_url(BROKER_URL)

    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "erpsync",
            "worker",
            "--pool",
            "solo",
            "--concurrency",
            "1",
            "--loglevel",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=ENV,
    )
    try:
        marker = f"bench:{uuid.uuid4()}"
        noop.delay(marker)  # the worker is up once this runs
        while not broker.get(marker):
            time.sleep(0.05)

        marker = f"bench:{uuid.uuid4()}"
        begin = time.perf_counter()
        for _ in range(args.items):
            noop.delay()
        noop.delay(marker)
        while not broker.get(marker):
            time.sleep(0.01)
        noop_rate = args.items / (time.perf_counter() - begin)

        begin = time.perf_counter()
        for item in items:
            export_item.delay("sub_job", item.pk)
        synced = 0
        while synced < args.items:
            time.sleep(0.05)
            synced = SubJob.objects.filter(project=project, erp_state="synced").count()
        export_rate = args.items / (time.perf_counter() - begin)
    finally:
        worker.terminate()
        worker.wait(30)

    from erpsync.models import SandboxRecord

    assert SandboxRecord.objects.count() == args.items
    print(f"one worker (--pool solo), {args.items} items, sandbox adapter, {os.cpu_count()} cores")
    print(f"no-op tasks: {noop_rate:.0f} per second")
    print(f"exports:     {export_rate:.0f} items synced per second")
    print(f"ratio:       {export_rate / noop_rate:.2f}")
    from django.db import connection

    connection.close()
    recreate_database(drop_only=True)


if __name__ == "__main__":
    main()
