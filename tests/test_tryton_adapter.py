"""The tryton adapter against a real Tryton 8.0 server (tests/tryton_server.py builds it)."""

from __future__ import annotations

import datetime
import itertools
import json
import re
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.core.management.base import CommandError

from erpsync.adapters import IdempotencyKey, PermanentErpError, TransientErpError
from erpsync.adapters.tryton import TrytonAdapter
from erpsync.exports import erp_export
from erpsync.models import ErpEvent, OutboxEmail
from erpsync.outbox import deliver_email
from erpsync.services import erp_accept, erp_reject, erp_resend, erp_send
from invoicing.models import OwnerInvoice
from invoicing.services import owner_invoice_update
from tests import factories as f
from tests.tryton_server import free_port, tryton_server  # noqa: F401 - the fixture

_numbers = itertools.count(1)
# Keys made up by the tests name item ids far above those of the invoices the database tests
# export to the same Tryton (pytest-django runs those first), so no key is taken twice.
_MADE_UP_ITEMS = 1_000_000


def adapter(server: dict[str, str], **extra: str) -> TrytonAdapter:
    settings = {**server, **extra}
    company = f.CompanyFactory.build(erp_adapter="tryton", erp_settings=settings)
    return TrytonAdapter(company=company, settings=settings)


def key() -> str:
    return f"erpsync:owner_invoice:{_MADE_UP_ITEMS + next(_numbers)}:v1"


def snapshot(end_date: str = "2026-10-31", **changes: Any) -> dict[str, Any]:
    n = next(_numbers)
    data = {
        "kind": "owner_invoice",
        "number": f"INV-T{n:03d}",
        "project": {"number": "P-100", "name": "Harbor Tower", "erp_job_id": "JOB-100"},
        "prime_contract": {"number": "PC-1", "title": "Main", "owner_client": "Harbor Owner LLC"},
        "billing_period": {
            "number": 3,
            "start_date": "2026-10-01",
            "end_date": end_date,
            "due_date": "2026-11-30",
        },
        "lines": [
            {
                "description": "Concrete",
                "work_completed_this_period": "10000.00",
                "materials_stored": "2500.55",
                "retainage_amount": "1250.06",
                "amount_due": "11250.49",
            },
            {
                "description": "Steel",
                "work_completed_this_period": "3333.33",
                "materials_stored": "0.00",
                "retainage_amount": "166.67",
                "amount_due": "3166.66",
            },
        ],
        "totals": {"retainage": "1416.73", "amount_due": "14417.15"},
    }
    data.update(changes)
    return data


# Billed in a year the test books have no fiscal year for: Tryton creates it, then refuses
# to post it.
OUTSIDE_ANY_FISCAL_YEAR: dict[str, Any] = {
    "end_date": "2019-06-30",
    "billing_period": {
        "number": 1,
        "start_date": "2019-06-01",
        "end_date": "2019-06-30",
        "due_date": "2019-07-31",
    },
}


def invoices_with(reader: TrytonAdapter, reference: str) -> list[dict[str, Any]]:
    return reader.search_read(
        "account.invoice",
        [["reference", "=", reference]],
        ["state", "total_amount", "invoice_date", "description", "lines", "type"],
    )


def drafts_with(reader: TrytonAdapter, reference: str) -> list[dict[str, Any]]:
    return [i for i in invoices_with(reader, reference) if i["state"] == "draft"]


def delete_drafts(reader: TrytonAdapter, *references: str) -> None:
    ids = [i["id"] for r in references for i in drafts_with(reader, r)]
    if ids:
        reader.call("account.invoice", "delete", ids)


def test_idempotency_keys_are_made_and_read_back() -> None:
    k = IdempotencyKey("owner_invoice", 42, 3)
    assert str(k) == "erpsync:owner_invoice:42:v3"
    assert IdempotencyKey.parse(str(k)) == k
    assert IdempotencyKey.parse("erpsync:owner_invoice:42:v3:x") is None
    assert IdempotencyKey.parse("erpsync:owner_invoice:4x:v3") is None
    assert IdempotencyKey.parse("INV-42") is None


def test_invoice_export_posts_the_amount_due_with_retainage(
    tryton_server: dict[str, str],  # noqa: F811
) -> None:
    data, k = snapshot(), key()
    erp_id = adapter(tryton_server).export(kind="owner_invoice", snapshot=data, idempotency_key=k)

    reader = adapter(tryton_server)  # a second login, its own session
    (invoice,) = invoices_with(reader, k)
    assert str(invoice["id"]) == erp_id
    assert invoice["type"] == "out"
    assert invoice["state"] == "posted"
    assert invoice["total_amount"] == Decimal("14417.15")
    assert invoice["invoice_date"] == min(datetime.date.today(), datetime.date(2026, 10, 31))
    assert data["number"] in invoice["description"]
    assert "billing period 3" in invoice["description"]
    lines = reader.call("account.invoice.line", "read", invoice["lines"], ["description", "amount"])
    amounts = {line["description"]: line["amount"] for line in lines}
    assert amounts == {
        "Concrete": Decimal("12500.55"),
        "Steel": Decimal("3333.33"),
        "Retainage withheld": Decimal("-1416.73"),
    }


def test_the_same_export_twice_makes_one_invoice(tryton_server: dict[str, str]) -> None:  # noqa: F811
    data, k = snapshot(), key()
    first = adapter(tryton_server).export(kind="owner_invoice", snapshot=data, idempotency_key=k)
    again = adapter(tryton_server).export(kind="owner_invoice", snapshot=data, idempotency_key=k)
    assert first == again
    assert len(invoices_with(adapter(tryton_server), k)) == 1
    assert adapter(tryton_server).lookup(kind="owner_invoice", idempotency_key=k) == first


def test_a_draft_left_by_a_crash_is_posted_not_duplicated(
    tryton_server: dict[str, str],  # noqa: F811
) -> None:
    data, k = snapshot(), key()
    crashed = adapter(tryton_server)
    draft_id = crashed.create_invoice(data, k)  # the worker died before post
    (draft,) = invoices_with(crashed, k)
    assert draft["state"] == "draft"

    erp_id = adapter(tryton_server).export(kind="owner_invoice", snapshot=data, idempotency_key=k)
    assert erp_id == str(draft_id)
    (invoice,) = invoices_with(adapter(tryton_server), k)
    assert invoice["state"] == "posted"
    assert invoice["total_amount"] == Decimal("14417.15")


def test_lookup_posts_a_draft_and_finds_nothing_for_an_unknown_key(
    tryton_server: dict[str, str],  # noqa: F811
) -> None:
    data, k = snapshot(), key()
    tryton = adapter(tryton_server)
    assert tryton.lookup(kind="owner_invoice", idempotency_key=k) is None
    draft_id = tryton.create_invoice(data, k)
    assert tryton.lookup(kind="owner_invoice", idempotency_key=k) == str(draft_id)
    (invoice,) = invoices_with(tryton, k)
    assert invoice["state"] == "posted"


def test_a_date_outside_any_fiscal_year_is_a_permanent_error_with_trytons_message(
    tryton_server: dict[str, str],  # noqa: F811
) -> None:
    data = snapshot(**OUTSIDE_ANY_FISCAL_YEAR)
    k = key()
    with pytest.raises(PermanentErpError) as refused:
        adapter(tryton_server).export(kind="owner_invoice", snapshot=data, idempotency_key=k)
    message = refused.value.message
    assert message.startswith("Tryton refused it: ")
    assert "fiscal year" in message.lower() or "period" in message.lower(), message
    # The refused post left a draft; later tests' reconciles must not find it stray.
    delete_drafts(adapter(tryton_server), k)


def test_a_revenue_account_that_does_not_exist_is_a_permanent_error(
    tryton_server: dict[str, str],  # noqa: F811
) -> None:
    tryton = adapter(tryton_server, revenue_account="9.9.9")
    with pytest.raises(PermanentErpError, match=re.escape("no revenue account '9.9.9'")):
        tryton.check()
    with pytest.raises(PermanentErpError, match=re.escape("no revenue account '9.9.9'")):
        tryton.export(kind="owner_invoice", snapshot=snapshot(), idempotency_key=key())


def test_a_wrong_password_is_permanent_and_a_closed_port_is_transient(
    tryton_server: dict[str, str],  # noqa: F811
) -> None:
    with pytest.raises(PermanentErpError, match="refused the login"):
        adapter(tryton_server, password="wrong").check()
    closed = {**tryton_server, "url": f"http://127.0.0.1:{free_port()}/"}
    with pytest.raises(TransientErpError, match="could not be reached"):
        adapter(closed).check()


def test_check_and_validate_settings(tryton_server: dict[str, str]) -> None:  # noqa: F811
    adapter(tryton_server, revenue_account="4.1.2", journal="REV").check()
    assert TrytonAdapter.validate_settings(tryton_server) == []
    problems = TrytonAdapter.validate_settings({"url": "ftp://x", "database": "d"})
    assert any("http://" in p for p in problems)
    assert any("username" in p for p in problems)
    assert any("password" in p for p in problems)


def test_sub_job_export_makes_the_analytic_account_once(
    tryton_server: dict[str, str],  # noqa: F811
) -> None:
    data = {
        "kind": "sub_job",
        "code": "03-300",
        "name": "Concrete",
        "project": {"number": "P-200", "name": "Bridge", "erp_job_id": "JOB-200"},
    }
    first = adapter(tryton_server).export(kind="sub_job", snapshot=data, idempotency_key="k1")
    again = adapter(tryton_server).export(kind="sub_job", snapshot=data, idempotency_key="k2")
    assert first == again
    reader = adapter(tryton_server)
    (account,) = reader.search_read(
        "analytic_account.account", [["code", "=", "03-300"]], ["parent", "type", "name"]
    )
    assert str(account["id"]) == first
    (job,) = reader.search_read(
        "analytic_account.account", [["id", "=", account["parent"]]], ["code", "parent"]
    )
    assert job["code"] == "JOB-200"
    assert reader.reconcile("sub_job", first, data) == []
    assert reader.reconcile("sub_job", first, {**data, "code": "03-301"}) != []


# ----- through erpsync: the export worker's path and erp_reconcile --------------------------


def on_tryton(item: Any, server: dict[str, str]) -> None:
    """Point the item's company at the test's Tryton server."""
    company = item.erp_company
    company.erp_adapter = "tryton"
    company.erp_settings = dict(server)
    company.save(update_fields=["erp_adapter", "erp_settings"])


@pytest.fixture
def tryton_invoice(
    tryton_server: dict[str, str],  # noqa: F811
    invoice: OwnerInvoice,
    admin: Any,
    approver: Any,
) -> OwnerInvoice:
    on_tryton(invoice, tryton_server)
    invoice = erp_send(item=invoice, user=admin)
    return erp_accept(item=invoice, user=approver, export=False)


def export_now(item: OwnerInvoice) -> Any:
    return erp_export(
        model=OwnerInvoice, item_id=item.pk, try_number=1, requeue=lambda countdown: None
    )


@pytest.mark.django_db
def test_export_and_reconcile_report_a_changed_total(tryton_invoice: OwnerInvoice) -> None:
    result = export_now(tryton_invoice)
    assert result.outcome == "synced", result.detail
    item = OwnerInvoice.objects.get(pk=tryton_invoice.pk)
    assert item.erp_state == "synced"
    slug = item.erp_company.slug

    out = StringIO()
    call_command("erp_reconcile", "--company", slug, stdout=out)
    assert "no drift" in out.getvalue()

    # The books and erpsync now disagree on the total.
    event = ErpEvent.objects.filter(
        content_type=ContentType.objects.get_for_model(OwnerInvoice),
        object_id=item.pk,
        version=item.erp_version,
        action__in=["send", "resend"],
    ).latest("id")
    event.snapshot = {
        **event.snapshot,
        "totals": {**event.snapshot["totals"], "amount_due": "1.00"},
    }
    event.save(update_fields=["snapshot"])
    out = StringIO()
    with pytest.raises(CommandError, match="Drift: 1 difference"):
        call_command("erp_reconcile", "--company", slug, "--json", stdout=out)
    assert "ours 1.00" in out.getvalue()


@pytest.mark.django_db
def test_a_tryton_refusal_marks_the_export_failed_with_its_message(
    tryton_invoice: OwnerInvoice,
) -> None:
    company = tryton_invoice.erp_company
    company.erp_settings = {**company.erp_settings, "journal": "NOPE"}
    company.save(update_fields=["erp_settings"])
    result = export_now(tryton_invoice)
    assert result.outcome == "failed"
    item = OwnerInvoice.objects.get(pk=tryton_invoice.pk)
    assert item.erp_state == "export_failed"
    assert "no journal 'NOPE'" in item.erp_error


@pytest.mark.django_db
def test_the_nightly_reconcile_emails_the_approvers_about_drift(
    tryton_invoice: OwnerInvoice, approver: Any, mailoutbox: list[Any]
) -> None:
    from erpsync.tasks import reconcile_erp

    assert export_now(tryton_invoice).outcome == "synced"
    assert reconcile_erp() == 0 and mailoutbox == []
    event = ErpEvent.objects.filter(
        object_id=tryton_invoice.pk, action__in=["send", "resend"]
    ).latest("id")
    event.snapshot = {
        **event.snapshot,
        "totals": {**event.snapshot["totals"], "amount_due": "1.00"},
    }
    event.save(update_fields=["snapshot"])
    assert reconcile_erp() == 1
    # The drift email is in the outbox; deliver it as the worker does after commit.
    [row] = OutboxEmail.objects.filter(kind="reconcile_drift")
    assert deliver_email(row.pk) == "sent"
    [mail] = mailoutbox
    assert mail.to == [approver.email] and "ERP drift found" in mail.subject
    assert tryton_invoice.number in mail.body and "ours 1.00" in mail.body


@pytest.mark.django_db
def test_items_synced_through_an_earlier_adapter_are_not_checked_against_tryton(
    tryton_server: dict[str, str],  # noqa: F811
    sub_job: Any,
    drive: Any,
    approver: Any,
) -> None:
    pending = drive(sub_job, "pending")
    accepted = erp_accept(item=pending, user=approver, export=False)
    synced = erp_export(
        model=type(accepted), item_id=accepted.pk, try_number=1, requeue=lambda countdown: None
    )
    assert synced.outcome == "synced" and synced.detail.startswith("SBX-")
    company = accepted.erp_company
    company.erp_adapter = "tryton"
    company.erp_settings = dict(tryton_server)
    company.save(update_fields=["erp_adapter", "erp_settings"])
    out = StringIO()
    call_command("erp_reconcile", "--company", company.slug, stdout=out)
    assert "no drift" in out.getvalue()
    assert "1 synced through an earlier ERP adapter, not checked" in out.getvalue()


@pytest.mark.django_db
def test_a_fixed_version_removes_the_draft_its_rejected_version_left(
    invoice: OwnerInvoice,
    tryton_server: dict[str, str],  # noqa: F811
    admin: Any,
    approver: Any,
) -> None:
    # Version 1 is billed in a period Tryton has no fiscal year for: created, never posted.
    on_tryton(invoice, tryton_server)
    right_period = invoice.billing_period
    wrong_period = f.BillingPeriodFactory(
        project=invoice.erp_project,
        start_date=datetime.date(2019, 6, 1),
        end_date=datetime.date(2019, 6, 30),
        due_date=datetime.date(2019, 7, 31),
    )
    item = owner_invoice_update(invoice=invoice, user=admin, billing_period=wrong_period)
    item = erp_accept(item=erp_send(item=item, user=admin), user=approver, export=False)
    assert export_now(item).outcome == "failed"
    item = OwnerInvoice.objects.get(pk=item.pk)
    assert item.erp_state == "export_failed" and "period" in item.erp_error
    reader = adapter(tryton_server)
    first = f"erpsync:owner_invoice:{item.pk}:v{item.erp_version}"
    assert len(drafts_with(reader, first)) == 1

    # The approver rejects the failed export; the sender fixes the period and resends.
    item = erp_reject(item=item, user=approver, reason="")
    item = owner_invoice_update(invoice=item, user=admin, billing_period=right_period)
    item = erp_accept(item=erp_resend(item=item, user=admin), user=approver, export=False)
    result = export_now(item)
    assert result.outcome == "synced", result.detail

    assert invoices_with(reader, first) == []  # deleted, not merely left aside
    fixed = f"erpsync:owner_invoice:{item.pk}:v{item.erp_version}"
    (posted,) = invoices_with(reader, fixed)
    assert posted["state"] == "posted" and str(posted["id"]) == result.detail
    out = StringIO()
    call_command("erp_reconcile", "--company", item.erp_company.slug, stdout=out)
    assert "1 synced items, no drift" in out.getvalue()


def test_lookup_of_a_draft_removes_earlier_versions_drafts_before_posting_it(
    tryton_server: dict[str, str],  # noqa: F811
) -> None:
    # Both drafts left as a release without the cleanup would: version 2 created, then a crash.
    tryton = adapter(tryton_server)
    item_id = _MADE_UP_ITEMS + next(_numbers)
    first, second = (f"erpsync:owner_invoice:{item_id}:v{v}" for v in (1, 2))
    tryton.create_invoice(snapshot(), first)
    second_id = tryton.create_invoice(snapshot(), second)
    assert tryton.lookup(kind="owner_invoice", idempotency_key=second) == str(second_id)
    assert invoices_with(tryton, first) == []
    assert [i["state"] for i in invoices_with(tryton, second)] == ["posted"]


def test_a_draft_tryton_will_not_delete_is_cancelled(
    tryton_server: dict[str, str],  # noqa: F811
) -> None:
    # A Tryton user who may change invoices but not delete them.
    admin = adapter(tryton_server)
    n = next(_numbers)
    (group,) = admin.call("res.group", "create", [{"name": f"No invoice deletion {n}"}])
    admin.call(
        "ir.model.access",
        "create",
        [
            {
                "model": "account.invoice",
                "group": group,
                "perm_read": True,
                "perm_write": True,
                "perm_create": True,
                "perm_delete": False,
            }
        ],
    )
    login, password = f"clerk{n}", f"clerk-secret-{n}-erpsync"
    admin.call(
        "res.user",
        "create",
        [
            {
                "name": "Clerk",
                "login": login,
                "password": password,
                "groups": [["add", [group]]],
                "companies": [["add", [admin.company_id]]],
                "company": admin.company_id,
            }
        ],
    )
    item_id = _MADE_UP_ITEMS + next(_numbers)
    posted, stale, newer = (f"erpsync:owner_invoice:{item_id}:v{v}" for v in (1, 2, 3))
    admin.export(kind="owner_invoice", snapshot=snapshot(), idempotency_key=posted)
    stale_id = admin.create_invoice(snapshot(), stale)  # version 2's post was refused
    clerk = adapter(tryton_server, username=login, password=password)
    with pytest.raises(PermanentErpError, match="not allowed"):
        clerk.call("account.invoice", "delete", [stale_id])

    assert clerk.discard_earlier_drafts(newer) == [stale_id]
    assert [i["state"] for i in invoices_with(admin, stale)] == ["cancelled"]
    assert [i["state"] for i in invoices_with(admin, posted)] == ["posted"]  # never touched
    assert clerk.discard_earlier_drafts(newer) == []  # a retry finds nothing left


@pytest.mark.django_db
def test_erp_reconcile_lists_the_drafts_no_current_export_explains(
    tryton_invoice: OwnerInvoice,
    tryton_server: dict[str, str],  # noqa: F811
    project: Any,
    admin: Any,
    approver: Any,
    mailoutbox: list[Any],
) -> None:
    from erpsync.tasks import reconcile_erp

    synced = tryton_invoice
    assert export_now(synced).outcome == "synced"
    synced.refresh_from_db()
    # Another invoice: version 1 rejected, version 2 accepted and about to be exported.
    other = f.invoice_ready_to_send(project=project, user=admin)
    other = erp_reject(item=erp_send(item=other, user=admin), user=approver, reason="Fix it")
    other = erp_accept(item=erp_resend(item=other, user=admin), user=approver, export=False)

    # Drafts made directly in Tryton, as a crash or a person would leave them.
    tryton = adapter(tryton_server)
    duplicate = f"erpsync:owner_invoice:{synced.pk}:v1"  # a second record of a synced item
    earlier = f"erpsync:owner_invoice:{other.pk}:v1"  # a rejected version's
    exporting = f"erpsync:owner_invoice:{other.pk}:v2"  # the export in flight: not stray
    unknown = f"erpsync:owner_invoice:{_MADE_UP_ITEMS * 10}:v1"  # no such item in erpsync
    for reference in (duplicate, earlier, exporting, unknown):
        tryton.create_invoice(snapshot(), reference)
    try:
        out = StringIO()
        with pytest.raises(CommandError, match=re.escape("Drift: 0 difference(s), 3 stray")):
            call_command("erp_reconcile", "--company", synced.erp_company.slug, stdout=out)
        text = out.getvalue()
        assert "3 stray draft(s) in 1 synced items" in text
        assert duplicate in text and earlier in text and unknown in text
        assert exporting not in text
        assert f"synced as ERP id {synced.erp_id}" in text
        assert "now at version 2 (exporting)" in text
        assert f"No owner invoice {_MADE_UP_ITEMS * 10} in erpsync" in text

        out = StringIO()
        with pytest.raises(CommandError):
            call_command(
                "erp_reconcile", "--company", synced.erp_company.slug, "--json", stdout=out
            )
        report = json.loads(out.getvalue())
        assert report["drift"] == 0 and report["stray_drafts"] == 3
        (company,) = report["companies"]
        assert {(s["reference"], s["id"]) for s in company["stray_drafts"]} == {
            (duplicate, synced.pk),
            (earlier, other.pk),
            (unknown, None),
        }

        assert reconcile_erp() == 3
        [row] = OutboxEmail.objects.filter(kind="reconcile_drift")
        assert deliver_email(row.pk) == "sent"
        [mail] = mailoutbox
        assert "3 stray drafts" in mail.body and earlier in mail.body
    finally:
        delete_drafts(tryton, duplicate, earlier, exporting, unknown)
    out = StringIO()
    call_command("erp_reconcile", "--company", synced.erp_company.slug, stdout=out)
    assert "no drift" in out.getvalue()


def test_an_invoice_billed_after_its_due_date_is_posted_payable_from_today(
    tryton_server: dict[str, str],  # noqa: F811
) -> None:
    # Invoiced today (Tryton numbers invoices in date order), payable since yesterday.
    today = datetime.date.today()
    late = {
        "number": 3,
        "start_date": (today - datetime.timedelta(days=30)).isoformat(),
        "end_date": today.isoformat(),
        "due_date": (today - datetime.timedelta(days=1)).isoformat(),
    }
    data, k = snapshot(billing_period=late), key()
    erp_id = adapter(tryton_server).export(kind="owner_invoice", snapshot=data, idempotency_key=k)
    reader = adapter(tryton_server)
    (invoice,) = reader.call(
        "account.invoice", "read", [int(erp_id)], ["state", "payment_term_date"]
    )
    assert invoice["state"] == "posted"
    assert invoice["payment_term_date"] == datetime.date.today()
