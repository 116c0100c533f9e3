"""Time the API's queue list endpoint with 10,000 pending items (the first page, and a page
deep in the queue through the cursor) and a bulk accept of 500 items through the API.

    .venv/bin/python bench/api.py [--items 10000] [--runs 30] [--bulk 500] [--broker URL]

As bench/queue_page.py: it creates (and afterwards drops) its own PostgreSQL database,
erpsync_bench_api by default (BENCH_DATABASE_URL overrides the server and name), and runs
without a broker, so Celery tasks run eagerly: each accepted item's export to the sandbox ERP
runs inside the bulk request, after its own transaction commits. With --broker, a second
bulk accept queues the exports on that Redis instead (nobody consumes them; purged after),
which times the decisions alone. It prints the figures and the machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import (
    drop_database,
    machine,
    recreate_database,
    setup_django,
    use_database,
)

DATABASE_URL = use_database("erpsync_bench_api")
# Eager tasks, whatever the shell says: the figures must not depend on a worker's backlog.
os.environ.pop("CELERY_BROKER_URL", None)
os.environ["CELERY_TASK_ALWAYS_EAGER"] = "true"
os.environ.setdefault("LOG_LEVEL", "WARNING")  # not a line per eager export


def timed(client: Any, target: str, runs: int) -> list[float]:
    seconds = []
    for _ in range(runs):
        begin = time.perf_counter()
        response = client.get(target)
        seconds.append(time.perf_counter() - begin)
        assert response.status_code == 200, response.content[:300]
    return sorted(seconds)


def with_page_size(link: str, size: int) -> str:
    parts = urlsplit(link)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    return parts._replace(query=urlencode({**query, "page_size": size})).geturl()


def bulk_accept(client: Any, company: Any, project: Any, size: int, exports: str) -> None:
    from subjobs.models import SubJob

    chosen = list(
        SubJob.objects.filter(project=project, erp_state="pending")
        .order_by("pk")
        .values_list("pk", "erp_version")[:size]
    )
    body = {"items": [{"id": pk, "version": version} for pk, version in chosen]}
    from django.db import connection

    statements = 0

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        # A counter, not Django's query log: that keeps only the last 9,000 statements.
        nonlocal statements
        statements += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        begin = time.perf_counter()
        response = client.post(
            f"/api/v1/companies/{company.slug}/sub-jobs/bulk/accept/", body, format="json"
        )
        elapsed = time.perf_counter() - begin
    assert response.status_code == 200, response.content[:500]
    answer = response.json()
    states = [r["state"] for r in answer["results"]]
    assert answer["done"] == len(chosen), answer["summary"][:500]
    print(
        f"API bulk accept of {len(chosen)} items in one request: {elapsed:.2f} s "
        f"({elapsed / len(chosen) * 1000:.1f} ms per item, {exports}): "
        f"{states.count('synced')} synced, {states.count('accepted')} exporting, "
        f"{states.count('export_failed')} failed; {statements / len(chosen):.1f} SQL "
        "queries per item"
    )


def page_bulk_accept(approver: Any, company: Any, project: Any, size: int) -> None:
    """The same through the page (approvals.views.erp_bulk), in the same run, to compare."""
    from django.test import Client
    from django.urls import reverse

    from subjobs.models import SubJob

    chosen = list(
        SubJob.objects.filter(project=project, erp_state="pending")
        .order_by("pk")
        .values_list("pk", "erp_version")[:size]
    )
    page = Client()
    page.force_login(approver)
    begin = time.perf_counter()
    response = page.post(
        reverse("erp_bulk", args=[company.slug, "sub_job"]),
        {"decision": "accept", "selected": [f"{pk}:{version}" for pk, version in chosen]},
    )
    elapsed = time.perf_counter() - begin
    done = SubJob.objects.filter(
        pk__in=[pk for pk, _ in chosen], erp_state__in=["accepted", "synced"]
    ).count()
    assert response.status_code == 302 and done == len(chosen), (response.status_code, done)
    print(
        f"the same through the page (Ready to Export, Accept selected), in this run: "
        f"{elapsed:.2f} s ({elapsed / len(chosen) * 1000:.1f} ms per item)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--bulk", type=int, default=500)
    parser.add_argument(
        "--broker",
        help="also time a bulk accept whose exports are only queued, on this Redis "
        "(e.g. redis://127.0.0.1:6379/7), purged afterwards",
    )
    args = parser.parse_args()

    recreate_database(DATABASE_URL)
    setup_django()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    from api.services import token_create
    from tests import factories as f
    from tests.bulk import pending_sub_jobs, send_events

    company = f.CompanyFactory(slug="bench-api")
    project = f.ProjectFactory(company=company, erp_synced=True, erp_job_id="JOB-A")
    sender = f.member(project, admin=True)
    approver = f.approver(company)
    started = time.perf_counter()
    pending_sub_jobs(project, sender, args.items)
    send_events(project, sender)  # the snapshots the exports send
    print(f"loaded {args.items} pending sub jobs in {time.perf_counter() - started:.1f} s")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # what autovacuum does soon after a bulk load

    _, raw = token_create(user=approver, company=company, name="bench", expires_in_days=1)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    first = f"/api/v1/companies/{company.slug}/sub-jobs/?queue=ready"

    # A page deep in the queue: walk there by the cursor, 500 items a step, then ask for a
    # page of the default 50 from that place.
    link, depth = with_page_size(first, 500), 0
    while depth + 500 < args.items - 500:
        answer = client.get(link).json()
        depth += len(answer["results"])
        link = answer["next"]
    deep = with_page_size(link, 50)
    assert len(client.get(deep).json()["results"]) == 50

    for warm in (first, deep):
        client.get(warm)
    with CaptureQueriesContext(connection) as captured:
        client.get(first)
    queries = len(captured)
    with CaptureQueriesContext(connection) as captured:
        client.get(deep)
    deep_queries = len(captured)
    top, bottom = timed(client, first, args.runs), timed(client, deep, args.runs)
    p95 = max(0, int(args.runs * 0.95) - 1)
    print(f"machine: {machine()}; PostgreSQL at {urlsplit(DATABASE_URL).netloc}")
    print(
        f"API queue list (GET …/sub-jobs/?queue=ready), {args.items} pending, first page of 50: "
        f"median {statistics.median(top) * 1000:.1f} ms, p95 {top[p95] * 1000:.1f} ms over "
        f"{args.runs} requests, {queries} SQL queries"
    )
    print(
        f"the same, a page of 50 from item {depth + 1} (cursor): median "
        f"{statistics.median(bottom) * 1000:.1f} ms, p95 {bottom[p95] * 1000:.1f} ms over "
        f"{args.runs} requests, {deep_queries} SQL queries"
    )

    bulk_accept(client, company, project, args.bulk, "its export run eagerly after it")
    page_bulk_accept(approver, company, project, args.bulk)
    if args.broker:
        # The decisions alone: each export is only queued (to a broker nobody consumes here).
        from erpsync.celery import app

        app.conf.broker_url = args.broker
        app.conf.task_always_eager = False
        try:
            bulk_accept(client, company, project, args.bulk, f"its export queued on {args.broker}")
        finally:
            app.control.purge()
    connection.close()


if __name__ == "__main__":
    try:
        main()
    finally:
        drop_database(DATABASE_URL)
