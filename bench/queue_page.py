"""Time the Ready to Export page at 10,000 and at 100,000 pending items (page 1, the last
page, a filtered search), the CSV of the smallest queue, and bulk decisions of 500 items in
one request (accept, then reject).

    .venv/bin/python bench/queue_page.py [--sizes 10000,100000] [--runs 30] [--bulk 500]
        [--broker redis://127.0.0.1:6379/12]

The items are loaded by INSERT … SELECT from a template row (100,000 in a few seconds).
Without --broker, Celery tasks run eagerly: the exports of the bulk accept run inside its
request. With --broker they are only queued on that Redis (nobody consumes them; purged
after), which times the decisions alone. Each figure is printed with the load average when
it was taken.

It creates (and afterwards drops) its own PostgreSQL database, erpsync_bench by default
(BENCH_DATABASE_URL overrides the server and name), and prints the figures and the machine.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import (
    clone_rows,
    drop_database,
    load,
    machine,
    recreate_database,
    setup_django,
    use_database,
)

DATABASE_URL = use_database("erpsync_bench")
os.environ.setdefault("LOG_LEVEL", "WARNING")  # not a line per eager export


def seed(project: Any, sender: Any, start: int, count: int) -> None:
    """`count` pending sub jobs, one a minute back from now, with their send rows and
    snapshots (what an export or a review reads): the first through the ORM, the others
    copied from it by PostgreSQL (bench.common.clone_rows)."""
    from django.contrib.contenttypes.models import ContentType
    from django.utils import timezone

    from erpsync.models import ErpEvent
    from erpsync.states import ErpAction, ErpState
    from subjobs.models import SubJob

    now = timezone.now()
    first = SubJob.objects.create(
        project=project,
        code=f"B-{start:07d}",
        name=f"Bulk sub job {start}",
        status="approved",
        created_by=sender,
        erp_state=ErpState.PENDING,
        erp_version=1,
        erp_sent_by=sender,
        erp_sent_at=now - timedelta(minutes=start),
        erp_changed_by=sender,
        erp_changed_at=now - timedelta(minutes=start),
    )
    sent = ErpEvent.objects.create(
        content_type=ContentType.objects.get_for_model(SubJob),
        object_id=first.pk,
        company_id=project.company_id,
        action=ErpAction.SEND,
        from_state=ErpState.NOT_SENT,
        to_state=ErpState.PENDING,
        actor=sender,
        version=1,
        snapshot=first.erp_snapshot(),
        created_at=first.erp_sent_at,
    )
    sent_at = f"t.erp_sent_at - (n - {start:d}) * interval '1 minute'"
    clone_rows(
        SubJob,
        first,
        {
            "code": "'B-' || lpad(n::text, 7, '0')",
            "name": "'Bulk sub job ' || n",
            "erp_sent_at": sent_at,
            "erp_changed_at": sent_at,
        },
        f"generate_series({start + 1:d}, {start + count - 1:d}) AS n",
    )
    # Their send rows: the first's, with each item's id, time, code and name.
    clone_rows(
        ErpEvent,
        sent,
        {
            "object_id": "s.id",
            "created_at": "s.erp_sent_at",
            "snapshot": "jsonb_set(jsonb_set(t.snapshot, '{code}', to_jsonb(s.code)), "
            "'{name}', to_jsonb(s.name))",
        },
        "subjobs_subjob s",
        f"s.project_id = {project.pk:d} AND s.id > {first.pk:d}",
    )


def timed(client: Any, url: str, params: dict[str, str], runs: int) -> dict[str, Any]:
    """Median and p95 of `runs` GETs after a warm one, the SQL queries of one, the slowest."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    assert client.get(url, params).status_code == 200
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, params)
    queries = [(float(q["time"]) * 1000, q["sql"]) for q in captured.captured_queries]
    seconds = []
    for _ in range(runs):
        begin = time.perf_counter()
        assert client.get(url, params).status_code == 200
        seconds.append(time.perf_counter() - begin)
    seconds.sort()
    return {
        "median": statistics.median(seconds) * 1000,
        "p95": seconds[max(0, int(len(seconds) * 0.95) - 1)] * 1000,
        "queries": len(queries),
        "sql_ms": sum(ms for ms, _ in queries),
        "slowest": max(queries),
        "content": response.content,
        "load": load(),
    }


def report(what: str, figures: dict[str, Any], runs: int) -> None:
    slowest_ms, slowest_sql = figures["slowest"]
    print(
        f"{what}: median {figures['median']:.1f} ms, p95 {figures['p95']:.1f} ms over {runs} "
        f"requests, {figures['queries']} SQL queries ({figures['sql_ms']:.1f} ms in SQL, the "
        f"slowest {slowest_ms:.1f} ms: {slowest_sql[:90]}…); {figures['load']}"
    )


def csv(client: Any, url: str, items: int) -> None:
    import tracemalloc

    def stream() -> tuple[float, int, int]:
        begin = time.perf_counter()
        response = client.get(url, {"format": "csv"})
        assert response.status_code == 200 and response.streaming
        size = rows = 0
        for chunk in response.streaming_content:
            size += len(chunk)
            rows += chunk.count(b"\n")
        assert rows == items + 1, (rows, items)
        return time.perf_counter() - begin, size, rows - 1

    elapsed, size, rows = stream()
    # Again under tracemalloc, which slows Python down: its peak is the memory figure only.
    tracemalloc.start()
    stream()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"CSV of all {items} pending items, streamed: {elapsed:.2f} s for {rows} rows "
        f"({size / 1024 / 1024:.1f} MiB); peak Python memory while streaming "
        f"{peak / 1024 / 1024:.1f} MiB (tracemalloc); {load()}"
    )


def bulk(client: Any, company: Any, decision: str, size: int, exports: str) -> None:
    """One request of the page's Accept selected (or Reject selected) on `size` items."""
    from django.db import connection
    from django.urls import reverse

    from subjobs.models import SubJob

    chosen = list(
        SubJob.objects.filter(erp_state="pending")
        .order_by("pk")
        .values_list("pk", "erp_version")[:size]
    )
    statements = 0

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        nonlocal statements
        statements += 1
        return execute(sql, params, many, context)

    body = {"decision": decision, "selected": [f"{pk}:{version}" for pk, version in chosen]}
    if decision == "reject":
        body["reason"] = "Wrong cost code"
    with connection.execute_wrapper(count):
        begin = time.perf_counter()
        response = client.post(reverse("erp_bulk", args=[company.slug, "sub_job"]), body)
        elapsed = time.perf_counter() - begin
    states = ["accepted", "synced"] if decision == "accept" else ["rejected"]
    done = SubJob.objects.filter(pk__in=[pk for pk, _ in chosen], erp_state__in=states).count()
    assert response.status_code == 302 and done == len(chosen), (response.status_code, done)
    print(
        f"bulk {decision} of {len(chosen)} items in one request (the page's {decision.title()} "
        f"selected{exports}): {elapsed:.2f} s ({elapsed / len(chosen) * 1000:.2f} ms per item), "
        f"{statements} SQL statements; {load()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--bulk", type=int, default=500)
    parser.add_argument("--broker", help="queue the bulk accept's exports on this Redis")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    if args.broker:
        os.environ["CELERY_BROKER_URL"] = args.broker
        os.environ["CELERY_TASK_ALWAYS_EAGER"] = "false"
    else:  # eager, whatever the shell says: no figure depends on a worker's backlog
        os.environ.pop("CELERY_BROKER_URL", None)
        os.environ["CELERY_TASK_ALWAYS_EAGER"] = "true"

    recreate_database(DATABASE_URL)
    setup_django()
    from django.db import connection
    from django.test import Client
    from django.urls import reverse
    from django.utils import timezone

    from tests import factories as f

    company = f.CompanyFactory(slug="bench-co")
    project = f.ProjectFactory(company=company, erp_synced=True, erp_job_id="JOB-B")
    sender = f.member(project, admin=True)
    approver = f.approver(company)
    client = Client()
    client.force_login(approver)
    url = reverse("erp_queue", args=[company.slug, "sub_job", "ready"])
    print(f"machine: {machine()}; PostgreSQL at {urlsplit(DATABASE_URL).netloc}")

    loaded, first_queries = 0, {}
    for size in sizes:
        started = time.perf_counter()
        seed(project, sender, loaded, size - loaded)
        loaded = size
        with connection.cursor() as cursor:
            # What autovacuum does soon after a bulk load in production: fresh statistics.
            cursor.execute("ANALYZE")
        seconds = time.perf_counter() - started
        print(f"loaded {size} pending sub jobs ({seconds:.1f} s, INSERT … SELECT)")
        first = timed(client, url, {}, args.runs)
        assert f"({size} items)".encode() in first["content"], "the page counts every item"
        report(f"Ready to Export, {size} pending, page 1", first, args.runs)
        if os.environ.get("BENCH_EXPLAIN"):
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN ANALYZE " + first["slowest"][1])
                print("\n".join(row[0] for row in cursor.fetchall()))
        last = timed(client, url, {"page": str((size + 49) // 50)}, args.runs)
        report(f"Ready to Export, {size} pending, last page", last, args.runs)
        # A free-text search within the newest third of the queue by sent day.
        start = timezone.localtime(timezone.now() - timedelta(minutes=size // 3)).date()
        query = {"q": "sub job 9", "sent_from": start.isoformat()}
        query["sent_to"] = timezone.localdate().isoformat()
        search = timed(client, url, query, args.runs)
        found = re.search(rb"(\d+) of \d+ match", search["content"])
        report(
            f"Ready to Export, {size} pending, searched {query['q']!r} sent "
            f"{query['sent_from']}..{query['sent_to']} ({found[1].decode() if found else 0} match)",
            search,
            args.runs,
        )
        first_queries[size] = (first["queries"], last["queries"], search["queries"])
        if size == sizes[0]:
            csv(client, url, size)
    counts = set(first_queries.values())
    print(f"SQL queries (page 1, last page, search) at each size: {first_queries}")
    assert len(counts) == 1, "the page's query count depends on the queue's size"

    exports = f", exports queued on {args.broker}" if args.broker else ", exports run eagerly"
    try:
        bulk(client, company, "accept", args.bulk, exports)
    finally:
        if args.broker:
            from erpsync.celery import app

            app.control.purge()
    bulk(client, company, "reject", args.bulk, "")
    connection.close()


if __name__ == "__main__":
    try:
        main()
    finally:
        drop_database(DATABASE_URL)
