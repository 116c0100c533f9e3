"""Time the Ready to Export page with 10,000 pending items, a filtered search over them, the
CSV export of all of them, and a bulk accept of 500.

    .venv/bin/python bench/queue_page.py [--items 10000] [--runs 30] [--bulk 500]

The search and the CSV run before the bulk accept, so that they are measured even where the
bulk step fails.

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
    drop_database,
    machine,
    recreate_database,
    setup_django,
    use_database,
)

DATABASE_URL = use_database("erpsync_bench")


def search_and_csv(client: Any, url: str, runs: int, items: int) -> None:
    """A free-text search with a day range over every pending item, then the CSV of all."""
    import tracemalloc

    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    today = timezone.localdate()
    # pending_sub_jobs sends them a minute apart up to now: the range covers about a third.
    start = timezone.localtime(timezone.now() - timedelta(minutes=items // 3)).date()
    query = {"q": "sub job 9", "sent_from": start.isoformat(), "sent_to": today.isoformat()}
    response = client.get(url, query)
    assert response.status_code == 200, response.status_code
    found = re.search(rb"(\d+) of \d+ match", response.content)
    matched = int(found[1]) if found else 0
    with CaptureQueriesContext(connection) as captured:
        client.get(url, query)
    queries = len(captured)  # now: the next request clears the connection's log
    slowest = max((float(q["time"]) * 1000, q["sql"]) for q in captured.captured_queries)
    seconds = []
    for _ in range(runs):
        begin = time.perf_counter()
        assert client.get(url, query).status_code == 200
        seconds.append(time.perf_counter() - begin)
    seconds.sort()
    p95 = seconds[max(0, int(len(seconds) * 0.95) - 1)]
    print(
        f"Ready to Export, search {query['q']!r} + sent {query['sent_from']}..{query['sent_to']} "
        f"over {items} pending ({matched} match): "
        f"median {statistics.median(seconds) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms "
        f"over {runs} requests, {queries} SQL queries"
    )
    print(f"slowest query of the search {slowest[0]:.1f} ms: {slowest[1][:160]}")

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
        f"{peak / 1024 / 1024:.1f} MiB (tracemalloc)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--bulk", type=int, default=500)
    args = parser.parse_args()

    recreate_database(DATABASE_URL)
    setup_django()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from tests import factories as f
    from tests.bulk import pending_sub_jobs, send_events

    company = f.CompanyFactory(slug="bench-co")
    project = f.ProjectFactory(company=company, erp_synced=True, erp_job_id="JOB-B")
    sender = f.member(project, admin=True)
    approver = f.approver(company)
    started = time.perf_counter()
    pending_sub_jobs(project, sender, args.items)
    # The send rows with their snapshots: without them an accepted item has no submitted
    # version to export (an eager export in the bulk request failed on exactly that).
    send_events(project, sender)
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

    search_and_csv(client, url, args.runs, args.items)

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
    # Without a broker each export runs eagerly inside the request, so an item may be synced
    # already when the answer comes back.
    accepted = SubJob.objects.filter(
        pk__in=[pk for pk, _ in chosen], erp_state__in=["accepted", "synced"]
    ).count()
    assert response.status_code == 302 and accepted == len(chosen), (response.status_code, accepted)
    print(
        f"bulk accept of {len(chosen)} items in one request: {elapsed:.2f} s "
        f"({elapsed / len(chosen) * 1000:.1f} ms per item, each in its own transaction)"
    )
    connection.close()


if __name__ == "__main__":
    try:
        main()
    finally:
        drop_database(DATABASE_URL)
