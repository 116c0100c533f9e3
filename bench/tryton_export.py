"""Owner invoices exported into a real Tryton 8.0 server one at a time against in batches,
through erpsync's export path.

    .venv/bin/python bench/tryton_export.py [--invoices 100] [--projects 20] [--runs 3]

Builds (once, cached under var/tryton-test/, as the tests do) and starts a Tryton 8.0 server
with fresh books on a free port, and uses its own PostgreSQL database (erpsync_bench_tryton;
BENCH_DATABASE_URL overrides). The invoices belong to --projects projects whose owners are
shared two projects to one, as at a month-end; a warm-up export per project makes the owners'
parties and the jobs' analytic accounts first, so the runs time the steady state. Each run
accepts --invoices invoices, then exports them, alternately:

- one at a time: erp_export per item, what one export_item task does (its own login, lookup,
  create, post and read; the claim and the record in PostgreSQL);
- batched: export_company_batch with a batch of --invoices, what one export_batch task does
  (one search, one create, one post and one read for the whole batch).

It prints invoices per second for each (the median run), their ratio, the JSON-RPC round
trips per invoice and the share of the time spent waiting for Tryton, checks that Tryton holds
exactly one posted invoice per key, and prints the machine and its load.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import (
    drop_database,
    load,
    machine,
    recreate_database,
    setup_django,
    use_database,
)

DATABASE_URL = use_database("erpsync_bench_tryton")
os.environ.setdefault("LOG_LEVEL", "WARNING")  # not a line per eager email


class RpcClock:
    """Counts and times the adapter's JSON-RPC round trips (every Tryton adapter instance)."""

    def __init__(self) -> None:
        from erpsync.adapters.tryton.rpc import TrytonRpc

        self.calls = 0
        self.seconds = 0.0
        self.by_method: dict[str, float] = {}
        original = TrytonRpc._post
        clock = self

        def timed(rpc: Any, method: str, params: list[Any]) -> Any:
            begin = time.perf_counter()
            try:
                return original(rpc, method, params)
            finally:
                took = time.perf_counter() - begin
                clock.calls += 1
                clock.seconds += took
                name = method.removeprefix("model.").removeprefix("account.")
                clock.by_method[name] = clock.by_method.get(name, 0.0) + took

        TrytonRpc._post = timed  # type: ignore[method-assign]

    def reset(self) -> None:
        self.calls, self.seconds, self.by_method = 0, 0.0, {}

    def where(self) -> str:
        """The three calls that took longest, with their share of the time in Tryton."""
        top = sorted(self.by_method.items(), key=lambda kv: -kv[1])[:3]
        return ", ".join(f"{name} {100 * s / self.seconds:.0f}%" for name, s in top)


class Bench:
    def __init__(self, server: dict[str, str], projects: int) -> None:
        from tests import factories as f

        self.f = f
        self.company = f.CompanyFactory(erp_adapter="tryton", erp_settings=server)
        self.approver = f.approver(self.company)
        self.projects = [
            f.ProjectFactory(company=self.company, erp_synced=True, erp_job_id=f"JOB-{n + 1}")
            for n in range(projects)
        ]
        self.senders = {p.pk: f.member(p, admin=True) for p in self.projects}
        self.owners = {p.pk: f"Owner {n // 2 + 1} LLC" for n, p in enumerate(self.projects)}

    def accepted(self, count: int) -> list[Any]:
        """`count` invoices sent and accepted (their exports not queued), spread over the
        projects."""
        from erpsync.services import erp_accept, erp_send

        items = []
        for n in range(count):
            project = self.projects[n % len(self.projects)]
            sender = self.senders[project.pk]
            invoice = self.f.invoice_ready_to_send(project=project, user=sender)
            contract = invoice.prime_contract
            contract.owner_client = self.owners[project.pk]
            contract.save(update_fields=["owner_client"])
            invoice = erp_send(item=invoice, user=sender)
            items.append(erp_accept(item=invoice, user=self.approver, export=False))
        return items

    def one_at_a_time(self, items: list[Any]) -> None:
        from erpsync.exports import erp_export
        from invoicing.models import OwnerInvoice

        for item in items:
            result = erp_export(model=OwnerInvoice, item_id=item.pk, try_number=1, requeue=no_retry)
            assert result.outcome == "synced", result.detail

    def batched(self, items: list[Any]) -> None:
        from erpsync.batch_exports import export_company_batch

        result = export_company_batch(
            company_id=self.company.pk, requeue=no_retry, limit=len(items)
        )
        assert len(result.synced) == len(items), result


def no_retry(*args: Any) -> None:
    raise AssertionError(f"an export was to be retried: {args}")


def check_one_invoice_per_key(server: dict[str, str], company: Any) -> int:
    from erpsync.adapters.tryton import TrytonAdapter
    from erpsync.exports import idempotency_key
    from invoicing.models import OwnerInvoice

    items = list(OwnerInvoice.objects.filter(prime_contract__project__company=company))
    assert {i.erp_state for i in items} == {"synced"}
    tryton = TrytonAdapter(company=company, settings=server)
    keys = {idempotency_key(i): i.erp_id for i in items}
    rows = tryton.search_read(
        "account.invoice", [["reference", "in", list(keys)]], ["reference", "state"]
    )
    assert len(rows) == len(keys), (len(rows), len(keys))
    for row in rows:
        assert row["state"] == "posted" and keys[row["reference"]] == str(row["id"]), row
    return len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=100)
    parser.add_argument("--projects", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    before = machine()
    recreate_database(DATABASE_URL)
    setup_django()
    from tests.tryton_server import build, start

    started = time.monotonic()
    process, server = start(build(), Path(tempfile.mkdtemp(prefix="bench-tryton-")))
    print(f"Tryton 8.0 ready in {time.monotonic() - started:.1f} s at {server['url']}")
    try:
        bench = Bench(server, args.projects)
        clock = RpcClock()
        bench.one_at_a_time(bench.accepted(args.projects))  # warm-up: parties, job accounts
        figures: dict[str, list[tuple[float, float, float]]] = {"single": [], "batched": []}
        for run in range(args.runs):
            for name, export in (("single", bench.one_at_a_time), ("batched", bench.batched)):
                items = bench.accepted(args.invoices)
                clock.reset()
                begin = time.perf_counter()
                export(items)
                took = time.perf_counter() - begin
                figures[name].append((took, clock.calls / len(items), clock.seconds / took))
                print(
                    f"run {run + 1} {name:>7}: {len(items) / took:6.1f} invoices/s "
                    f"({took:.2f} s, {clock.calls / len(items):.2f} round trips per invoice, "
                    f"{100 * clock.seconds / took:.0f}% waiting for Tryton: {clock.where()}; "
                    f"{load()})"
                )
        total = check_one_invoice_per_key(server, bench.company)
    finally:
        process.terminate()
        process.wait(10)
    rates = {
        name: args.invoices / statistics.median(t for t, _, _ in runs)
        for name, runs in figures.items()
    }
    trips = {name: statistics.median(r for _, r, _ in runs) for name, runs in figures.items()}
    waiting = {name: statistics.median(w for _, _, w in runs) for name, runs in figures.items()}
    print(
        f"machine: {before} (before); {machine()} (after)\n"
        f"Tryton 8.0 (SQLite backend) on this machine; {args.invoices} owner invoices per run, "
        f"{args.projects} projects, median of {args.runs} runs\n"
        f"one at a time: {rates['single']:.1f} invoices/s, {trips['single']:.1f} round trips "
        f"per invoice, {100 * waiting['single']:.0f}% of the time waiting for Tryton\n"
        f"batched:       {rates['batched']:.1f} invoices/s, {trips['batched']:.2f} round trips "
        f"per invoice, {100 * waiting['batched']:.0f}% of the time waiting for Tryton\n"
        f"ratio batched / one at a time: {rates['batched'] / rates['single']:.1f}x; "
        f"Tryton holds {total} posted invoices, one per key"
    )
    from django.db import connection

    connection.close()
    drop_database(DATABASE_URL)


if __name__ == "__main__":
    main()
