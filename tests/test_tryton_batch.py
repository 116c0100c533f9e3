"""Tryton's batch export (erpsync/adapters/tryton/batch.py) against a real Tryton 8.0 server:
one create and one post for a batch, one invoice per key however often a batch is tried, one
refused invoice failing alone, and erpsync's export worker batching into it."""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

import pytest

from erpsync.adapters import ErpError, PermanentErpError, TransientErpError
from erpsync.adapters.base import ExportRequest
from erpsync.adapters.tryton import TrytonAdapter
from erpsync.batch_exports import _call_erp, claim_batch, export_company_batch
from erpsync.exports import idempotency_key
from erpsync.models import ExportAttempt
from erpsync.services import erp_accept, erp_send
from invoicing.models import OwnerInvoice
from tests import factories as f
from tests.test_batch_exports import never_requeue
from tests.test_tryton_adapter import (
    OUTSIDE_ANY_FISCAL_YEAR,
    delete_drafts,
    invoices_with,
    snapshot,
)
from tests.tryton_server import free_port, tryton_server, use_tryton  # noqa: F401 - the fixture

# Far above the keys the other Tryton tests make up (and the database tests' item ids).
_items = itertools.count(2_000_000)


class CountingTryton(TrytonAdapter):
    """The adapter, counting its JSON-RPC round trips by method."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.calls: list[str] = []

    def _post(self, method: str, params: list[Any]) -> Any:
        self.calls.append(method)
        return super()._post(method, params)


def tryton(server: dict[str, str], **extra: str) -> CountingTryton:
    settings = {**server, **extra}
    company = f.CompanyFactory.build(erp_adapter="tryton", erp_settings=settings)
    return CountingTryton(company=company, settings=settings)


def requests(count: int, **changes: Any) -> list[ExportRequest]:
    return [
        ExportRequest("owner_invoice", snapshot(**changes), f"erpsync:owner_invoice:{n}:v1")
        for n in itertools.islice(_items, count)
    ]


def invoice_calls(adapter: CountingTryton) -> list[str]:
    return [c for c in adapter.calls if c.startswith("model.account.invoice.")]


def test_a_batch_is_one_search_one_create_one_post_and_one_read_whatever_its_size(
    tryton_server: dict[str, str],  # noqa: F811
) -> None:
    counts = {}
    for size in (1, 2, 20):  # the first makes the owner's party and the job's account
        batch = requests(size)
        adapter = tryton(tryton_server)
        results = adapter.export_many(batch)
        reader = tryton(tryton_server)
        for request in batch:
            (invoice,) = invoices_with(reader, request.idempotency_key)
            assert results[request.idempotency_key] == str(invoice["id"])
            assert invoice["state"] == "posted"
            assert invoice["total_amount"] == Decimal("14417.15")
        assert invoice_calls(adapter) == [
            "model.account.invoice.search_read",
            "model.account.invoice.create",
            "model.account.invoice.post",
            "model.account.invoice.read",
        ]
        counts[size] = len(adapter.calls)
    # The owner's party and the job's account are looked up once per batch, not per invoice.
    assert counts[2] == counts[20], counts


def test_a_single_export_takes_the_batchs_four_invoice_calls(
    tryton_server: dict[str, str],  # noqa: F811
) -> None:
    (request,) = requests(1)
    adapter = tryton(tryton_server)
    erp_id = adapter.export(
        kind="owner_invoice", snapshot=request.snapshot, idempotency_key=request.idempotency_key
    )
    (invoice,) = invoices_with(tryton(tryton_server), request.idempotency_key)
    assert erp_id == str(invoice["id"]) and invoice["state"] == "posted"
    assert invoice_calls(adapter) == [
        "model.account.invoice.search_read",
        "model.account.invoice.create",
        "model.account.invoice.post",
        "model.account.invoice.read",
    ]


def test_a_batch_tried_again_finds_what_it_made_and_posts_a_dead_tries_draft(
    tryton_server: dict[str, str],  # noqa: F811
) -> None:
    batch = requests(4)
    first = tryton(tryton_server).export_many(batch[:2])
    # A try that died between create and post left a draft for the third key.
    draft_id = tryton(tryton_server).create_invoice(batch[2].snapshot, batch[2].idempotency_key)

    again = tryton(tryton_server)
    results = again.export_many(batch)
    reader = tryton(tryton_server)
    for request in batch:
        (invoice,) = invoices_with(reader, request.idempotency_key)
        assert invoice["state"] == "posted"
        assert results[request.idempotency_key] == str(invoice["id"])
    assert [results[r.idempotency_key] for r in batch[:2]] == [
        first[r.idempotency_key] for r in batch[:2]
    ]
    assert results[batch[2].idempotency_key] == str(draft_id)
    # Only the fourth was made this time.
    assert invoice_calls(again).count("model.account.invoice.create") == 1


def test_an_invoice_tryton_will_not_post_fails_alone(
    tryton_server: dict[str, str],  # noqa: F811
) -> None:
    good = requests(3)
    # Created, then refused at the post.
    (refused,) = requests(1, **OUTSIDE_ANY_FISCAL_YEAR)
    batch = [good[0], refused, *good[1:]]
    results = tryton(tryton_server).export_many(batch)

    error = results[refused.idempotency_key]
    assert isinstance(error, PermanentErpError)
    assert "fiscal year" in error.message.lower() or "period" in error.message.lower()
    reader = tryton(tryton_server)
    for request in good:
        (invoice,) = invoices_with(reader, request.idempotency_key)
        assert results[request.idempotency_key] == str(invoice["id"])
        assert invoice["state"] == "posted"
    delete_drafts(reader, refused.idempotency_key)  # later reconciles must not find it stray


def test_an_invoice_tryton_will_not_create_or_that_cannot_be_built_fails_alone(
    tryton_server: dict[str, str],  # noqa: F811
) -> None:
    good = requests(2)
    # The project's ERP job id names a view account under the root, which takes no lines:
    # Tryton refuses the create.
    admin = tryton(tryton_server)
    (view_id,) = admin.call(
        "analytic_account.account",
        "create",
        [
            {
                "code": f"VIEW-{next(_items)}",
                "name": "Not a job",
                "type": "view",
                "root": admin.analytic_root(),
                "parent": admin.analytic_root(),
                "company": admin.company_id,
            }
        ],
    )
    project = {"number": "P-100", "name": "Harbor Tower", "erp_job_id": str(view_id)}
    (on_a_view,) = requests(1, project=project)
    (no_owner,) = requests(1, prime_contract={"number": "PC-9", "owner_client": ""})
    batch = [on_a_view, good[0], no_owner, good[1]]
    adapter = tryton(tryton_server)
    results = adapter.export_many(batch)

    assert isinstance(results[on_a_view.idempotency_key], PermanentErpError)
    assert results[on_a_view.idempotency_key].message.startswith("Tryton refused it")
    assert isinstance(results[no_owner.idempotency_key], PermanentErpError)
    assert "owner/client" in results[no_owner.idempotency_key].message
    reader = tryton(tryton_server)
    assert invoices_with(reader, on_a_view.idempotency_key) == []
    assert invoices_with(reader, no_owner.idempotency_key) == []
    for request in good:
        (invoice,) = invoices_with(reader, request.idempotency_key)
        assert results[request.idempotency_key] == str(invoice["id"])
        assert invoice["state"] == "posted"
    # The batch's create was refused, then made again one invoice at a time.
    assert invoice_calls(adapter).count("model.account.invoice.create") == 1 + 3


def test_sub_jobs_and_jobs_in_a_batch_go_one_at_a_time_and_an_unreachable_tryton_fails_none(
    tryton_server: dict[str, str],  # noqa: F811
) -> None:
    project = {"number": "P-700", "name": "Depot", "erp_job_id": ""}
    batch = [
        ExportRequest("job", {"kind": "job", "number": "P-700", "name": "Depot"}, "j1"),
        ExportRequest(
            "sub_job",
            {"kind": "sub_job", "code": "07-100", "name": "Site", "project": project},
            "s1",
        ),
        *requests(1),
    ]
    results = tryton(tryton_server).export_many(batch)
    assert all(isinstance(answer, str) for answer in results.values()), results
    reader = tryton(tryton_server)
    (job,) = reader.search_read("analytic_account.account", [["code", "=", "P-700"]], ["id"])
    (sub,) = reader.search_read("analytic_account.account", [["code", "=", "07-100"]], ["parent"])
    assert results["j1"] == str(job["id"]) and sub["parent"] == job["id"]

    closed = tryton({**tryton_server, "url": f"http://127.0.0.1:{free_port()}/"})
    unreachable = closed.export_many(requests(2))
    assert len(unreachable) == 2
    assert all(isinstance(answer, TransientErpError) for answer in unreachable.values())


# ----- through erpsync's export worker ------------------------------------------------------


def accepted_invoices(project: Any, admin: Any, approver: Any, count: int) -> list[OwnerInvoice]:
    items = []
    for _ in range(count):
        invoice = erp_send(item=f.invoice_ready_to_send(project=project, user=admin), user=admin)
        items.append(erp_accept(item=invoice, user=approver, export=False))
    return items


@pytest.mark.django_db(transaction=True)
def test_the_export_worker_batches_into_tryton_and_a_batch_whose_worker_died_after_the_call_is_not_made_twice(  # noqa: E501
    tryton_server: dict[str, str],  # noqa: F811
    project: Any,
    admin: Any,
    approver: Any,
) -> None:
    use_tryton(project.company, tryton_server)
    items = accepted_invoices(project, admin, approver, 6)
    keys = [idempotency_key(item) for item in items]

    # A worker claims the batch and calls Tryton, then dies before recording anything.
    died = claim_batch(project.company, 100)
    answers = _call_erp(TrytonAdapter(company=project.company, settings=tryton_server), died)
    assert sorted(answers) == sorted(keys)
    assert not any(isinstance(a, ErpError) for a in answers.values()), answers
    assert set(OwnerInvoice.objects.values_list("erp_state", flat=True)) == {"accepted"}
    # The lease runs out: the next claim takes them again and looks each key up first.
    ExportAttempt.objects.filter(idempotency_key__in=keys).update(started_at="2000-01-01T00:00Z")

    result = export_company_batch(company_id=project.company.pk, requeue=never_requeue)
    assert result.claimed == 6 and len(result.synced) == 6
    reader = tryton(tryton_server)
    for item in OwnerInvoice.objects.filter(pk__in=[i.pk for i in items]):
        assert item.erp_state == "synced"
        (invoice,) = invoices_with(reader, idempotency_key(item))
        assert item.erp_id == str(invoice["id"]) == answers[idempotency_key(item)]
        assert invoice["state"] == "posted"
    assert ExportAttempt.objects.filter(idempotency_key__in=keys).count() == 12
