"""Time the Ready to Export page with 10,000 pending items, and a bulk accept of 500.

    .venv/bin/python bench/queue_page.py [--items 10000] [--runs 30] [--bulk 500]

It creates (and afterwards drops) its own PostgreSQL database, erpsync_bench by default
(BENCH_DATABASE_URL overrides the server and name), and prints the figures and the machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/erpsync_bench"
)
os.environ["DATABASE_URL"] = DATABASE_URL
os.environ.setdefault("DEBUG", "true")  # plain HTTP for the test client; timings use DEBUG off
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "erpsync.settings")


def recreate_database() -> None:
    import psycopg

    parts = urlsplit(DATABASE_URL)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database() -> None:
    import psycopg

    parts = urlsplit(DATABASE_URL)
    with psycopg.connect(parts._replace(path="/postgres").geturl(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parts.path.lstrip("/")}"')


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--bulk", type=int, default=500)
    args = parser.parse_args()

    recreate_database()
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["testserver"]
    # As under the test runner: keep one connection for the whole run, so that the queries a
    # request makes can be counted on it.
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    call_command("migrate", verbosity=0)

    from tests import factories as f
    from tests.bulk import pending_sub_jobs

    company = f.CompanyFactory(slug="bench-co")
    project = f.ProjectFactory(company=company, erp_synced=True, erp_job_id="JOB-B")
    sender = f.member(project, admin=True)
    approver = f.approver(company)
    started = time.perf_counter()
    pending_sub_jobs(project, sender, args.items)
    print(f"loaded {args.items} pending sub jobs in {time.perf_counter() - started:.1f} s")
    with connection.cursor() as cursor:
        # What autovacuum does soon after a bulk load in production: fresh planner statistics.
        cursor.execute("ANALYZE")

    client = Client()
    client.force_login(approver)
    url = reverse("erp_queue", args=[company.slug, "sub_job", "ready"])
    last_page = f"{url}?page={(args.items + 49) // 50}"
    for warm in (url, last_page):
        assert client.get(warm).status_code == 200
    with CaptureQueriesContext(connection) as captured:
        client.get(url)
    queries = [(float(q["time"]) * 1000, q["sql"]) for q in captured.captured_queries]

    def timings(target: str) -> list[float]:
        seconds = []
        for _ in range(args.runs):
            begin = time.perf_counter()
            response = client.get(target)
            seconds.append(time.perf_counter() - begin)
            assert response.status_code == 200
        return sorted(seconds)

    first, last = timings(url), timings(last_page)
    p95 = max(0, int(len(first) * 0.95) - 1)
    print(f"machine: {machine()}; PostgreSQL at {urlsplit(DATABASE_URL).netloc}")
    median = statistics.median(first) * 1000
    print(
        f"Ready to Export, {args.items} pending, page 1: median {median:.1f} ms, "
        f"p95 {first[p95] * 1000:.1f} ms over {args.runs} requests, {len(queries)} SQL queries"
    )
    slowest = max(queries)
    print(f"slowest query {slowest[0]:.1f} ms: {slowest[1][:160]}")
    if os.environ.get("BENCH_EXPLAIN"):
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN ANALYZE " + slowest[1])
            print("\n".join(row[0] for row in cursor.fetchall()))
    print(
        f"Ready to Export, last page: median {statistics.median(last) * 1000:.1f} ms "
        f"over {args.runs} requests"
    )

    from subjobs.models import SubJob

    chosen = list(
        SubJob.objects.filter(erp_state="pending")
        .order_by("pk")
        .values_list("pk", "erp_version")[: args.bulk]
    )
    begin = time.perf_counter()
    response = client.post(
        reverse("erp_bulk", args=[company.slug, "sub_job"]),
        {"decision": "accept", "selected": [f"{pk}:{version}" for pk, version in chosen]},
    )
    elapsed = time.perf_counter() - begin
    accepted = SubJob.objects.filter(pk__in=[pk for pk, _ in chosen], erp_state="accepted").count()
    assert response.status_code == 302 and accepted == len(chosen), (response.status_code, accepted)
    print(
        f"bulk accept of {len(chosen)} items in one request: {elapsed:.2f} s "
        f"({elapsed / len(chosen) * 1000:.1f} ms per item, each in its own transaction)"
    )
    connection.close()
    drop_database()


if __name__ == "__main__":
    main()
