"""Refresh and payments (README, Refresh and payments): synced items read back from the ERP.

The sandbox ERP is played through `manage.py erp_sandbox`; the Tryton tests at the end pay
and cancel a real invoice in a real Tryton server.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from erpsync.adapters import ErpStatus, adapter_for
from erpsync.celery import app
from erpsync.exports import erp_export
from erpsync.models import ErpEvent, OutboxEmail
from erpsync.outbox import deliver_email
from erpsync.refresh import due_for_refresh, erp_refresh
from erpsync.services import erp_accept, erp_send
from erpsync.states import ErpActionRefused
from erpsync.tasks import refresh_synced
from invoicing.models import OwnerInvoice
from jobs.models import Job
from projects.models import ToolLevel
from tests import factories as f
from tests.procs import wait_for
from tests.tryton_books import cancel_in_tryton, pay_in_tryton, tryton
from tests.tryton_server import tryton_server, use_tryton  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db


def synced(item: Any, sender: Any, approver: Any) -> Any:
    """Send, accept and export the item to the company's ERP for real (no worker needed)."""
    item = erp_accept(item=erp_send(item=item, user=sender), user=approver, export=False)
    result = erp_export(model=type(item), item_id=item.pk, try_number=1, requeue=lambda c: None)
    assert result.outcome == "synced", result.detail
    item.refresh_from_db()
    return item


def sandbox(action: str, item: Any, *args: str) -> None:
    call_command("erp_sandbox", action, item.erp_id, "--company", item.erp_company.slug, *args)


def payments(item: Any) -> list[str]:
    return list(
        ErpEvent.objects.filter(object_id=item.pk, action="payment")
        .order_by("pk")
        .values_list("reason", flat=True)
    )


@pytest.fixture
def paying_approver(approver: Any, project: Any) -> Any:
    """An accounting approver who is also on the project, so they see the invoice page."""
    f.ProjectMembershipFactory(project=project, user=approver, **f.READ_ONLY_ALL)
    return approver


@pytest.fixture
def synced_invoice(invoice: Any, admin: Any, paying_approver: Any) -> OwnerInvoice:
    return synced(invoice, admin, paying_approver)


def page(client: Any, invoice: Any) -> str:
    url = reverse("invoice_detail", args=[invoice.prime_contract.project_id, invoice.pk])
    return client.get(url).content.decode()


def refresh_url(invoice: Any) -> str:
    project_id = invoice.prime_contract.project_id
    return reverse("invoice_erp_action", args=[project_id, invoice.pk, "refresh"])


# ----- sandbox: payments ---------------------------------------------------------------------


def test_pay_then_refresh_shows_paid_badge_amounts_and_a_payment_row(
    client: Any, synced_invoice: OwnerInvoice, paying_approver: Any
) -> None:
    total = synced_invoice.amount_due
    sandbox("pay", synced_invoice, "--on", "2026-05-04", "--reference", "CHK-1")
    client.force_login(paying_approver)
    assert 'data-erp-action="refresh"' in page(client, synced_invoice)
    response = client.post(refresh_url(synced_invoice))
    assert response.status_code == 302
    synced_invoice.refresh_from_db()
    assert synced_invoice.erp_amount_paid == total
    assert synced_invoice.erp_amount_due == Decimal("0.00")
    assert synced_invoice.erp_paid_on == date(2026, 5, 4)
    assert synced_invoice.erp_paid and synced_invoice.erp_drift == ""
    [row] = payments(synced_invoice)
    assert row == f"Payment received ${total:,} on 4 May 2026 (reference CHK-1)."
    html = page(client, synced_invoice)
    assert "data-paid" in html and ">Paid</span>" in html
    assert "Payment received" in html
    refresh = ErpEvent.objects.get(object_id=synced_invoice.pk, action="refresh")
    assert refresh.actor == paying_approver and "Amount paid (erp)" in refresh.reason
    # The lists show it too.
    project_id = synced_invoice.prime_contract.project_id
    listing = client.get(reverse("invoicing", args=[project_id])).content.decode()
    assert "data-paid" in listing


def test_a_partial_payment_shows_paid_and_due_without_the_badge(
    client: Any, synced_invoice: OwnerInvoice, paying_approver: Any
) -> None:
    sandbox("pay", synced_invoice, "--amount", "1000.00")
    erp_refresh(item=synced_invoice, user=paying_approver)
    synced_invoice.refresh_from_db()
    assert synced_invoice.erp_amount_paid == Decimal("1000.00")
    assert synced_invoice.erp_amount_due == synced_invoice.amount_due - Decimal("1000.00")
    assert synced_invoice.erp_paid_on is None and not synced_invoice.erp_paid
    client.force_login(paying_approver)
    html = page(client, synced_invoice)
    assert "data-erp-amounts" in html and "data-paid" not in html


def test_refreshing_twice_records_each_payment_once(
    synced_invoice: OwnerInvoice, paying_approver: Any
) -> None:
    sandbox("pay", synced_invoice, "--amount", "1000.00", "--reference", "A")
    erp_refresh(item=synced_invoice, user=paying_approver)
    erp_refresh(item=synced_invoice, user=None)
    assert len(payments(synced_invoice)) == 1
    sandbox("pay", synced_invoice, "--reference", "B")
    erp_refresh(item=synced_invoice, user=None)
    erp_refresh(item=synced_invoice, user=paying_approver)
    rows = payments(synced_invoice)
    assert len(rows) == 2 and "reference B" in rows[1]
    synced_invoice.refresh_from_db()
    assert synced_invoice.erp_paid
    # The scheduled refresh leaves a row only when something changed.
    scheduled = ErpEvent.objects.filter(
        object_id=synced_invoice.pk, action="refresh", actor=None
    ).count()
    assert scheduled == 1


def test_the_sandbox_refuses_an_overpayment_readably(synced_invoice: OwnerInvoice) -> None:
    with pytest.raises(CommandError, match="a payment must be above 0"):
        sandbox("pay", synced_invoice, "--amount", "99999999.00")


# ----- sandbox: cancelled and deleted records ---------------------------------------------


def test_cancelled_in_the_erp_is_flagged_at_once_and_announced(
    client: Any, synced_invoice: OwnerInvoice, paying_approver: Any
) -> None:
    sandbox("cancel", synced_invoice)
    emails_before = OutboxEmail.objects.count()
    erp_refresh(item=synced_invoice, user=paying_approver)
    synced_invoice.refresh_from_db()
    assert synced_invoice.erp_drift.startswith("Cancelled in the ERP")
    assert synced_invoice.erp_state == "synced"
    client.force_login(paying_approver)
    assert "data-erp-drift" in page(client, synced_invoice)
    # DriftFound: the approvers are emailed, once, not again on the next refresh.
    after_first = OutboxEmail.objects.count()
    assert after_first > emails_before
    erp_refresh(item=synced_invoice, user=None)
    assert OutboxEmail.objects.count() == after_first
    slug = synced_invoice.erp_company.slug
    synced_list = client.get(reverse("erp_queue", args=[slug, "owner_invoice", "synced"]))
    assert "Cancelled in the ERP" in synced_list.content.decode()


def test_deleted_in_the_erp_is_flagged_for_a_sub_job(
    sub_job: Any, admin: Any, approver: Any
) -> None:
    item = synced(sub_job, admin, approver)
    sandbox("delete", item)
    item = erp_refresh(item=item, user=approver)
    assert item.erp_drift.startswith("Deleted in the ERP")
    assert adapter_for(item.erp_company).fetch("sub_job", item.erp_id).status == (ErpStatus.DELETED)


def test_a_synced_job_is_refreshed_and_flagged_when_deleted_in_the_erp(
    project: Any, admin: Any, approver: Any
) -> None:
    project.erp_synced, project.erp_job_id = False, ""
    project.save()
    job = synced(Job.objects.create(project=project), admin, approver)
    item = erp_refresh(item=job, user=approver)
    assert item.erp_drift == "" and item.erp_refreshed_at is not None
    sandbox("delete", item)
    item = erp_refresh(item=item, user=approver)
    assert item.erp_drift.startswith(f"Deleted in the ERP: it no longer holds ERP id {job.erp_id}")


# ----- permissions and adapters without fetch ------------------------------------------------


def test_a_project_viewer_may_not_refresh(
    client: Any, synced_invoice: OwnerInvoice, viewer: Any
) -> None:
    client.force_login(viewer)
    assert 'data-erp-action="refresh"' not in page(client, synced_invoice)
    assert client.post(refresh_url(synced_invoice)).status_code == 403
    assert not ErpEvent.objects.filter(action="refresh").exists()


def test_another_companys_approver_gets_404(client: Any, synced_invoice: OwnerInvoice) -> None:
    stranger = f.approver(f.CompanyFactory())
    client.force_login(stranger)
    assert client.post(refresh_url(synced_invoice)).status_code == 404
    slug = synced_invoice.erp_company.slug
    url = reverse("erp_refresh", args=[slug, "owner_invoice", synced_invoice.pk])
    assert client.post(url).status_code == 404


def test_an_erp_tool_admin_refreshes_from_the_synced_list(
    client: Any, synced_invoice: OwnerInvoice
) -> None:
    company = synced_invoice.erp_company
    tool_admin = f.UserFactory()
    f.CompanyMembershipFactory(company=company, user=tool_admin, erp_tool_level=ToolLevel.ADMIN)
    sandbox("pay", synced_invoice)
    client.force_login(tool_admin)
    listing = reverse("erp_queue", args=[company.slug, "owner_invoice", "synced"])
    assert 'data-erp-action="refresh"' in client.get(listing).content.decode()
    url = reverse("erp_refresh", args=[company.slug, "owner_invoice", synced_invoice.pk])
    assert client.post(url, {"next": listing}).status_code == 302
    synced_invoice.refresh_from_db()
    assert synced_invoice.erp_paid
    assert "data-paid" in client.get(listing).content.decode()


def test_refresh_on_an_item_not_synced_is_refused(
    invoice: Any, admin: Any, paying_approver: Any
) -> None:
    pending = erp_send(item=invoice, user=admin)
    with pytest.raises(ErpActionRefused, match="not synced"):
        erp_refresh(item=pending, user=paying_approver)


def test_an_adapter_that_cannot_fetch_greys_refresh_out_with_its_reason(
    client: Any, synced_invoice: OwnerInvoice, paying_approver: Any
) -> None:
    company = synced_invoice.erp_company
    company.erp_adapter = "webhook"
    company.erp_settings = {"url": "http://127.0.0.1:9/", "secret": "s" * 32}
    company.save()
    client.force_login(paying_approver)
    html = page(client, synced_invoice)
    assert 'disabled aria-disabled="true" data-erp-action="refresh"' in html
    assert "no endpoint to read them back" in html
    listing = reverse("erp_queue", args=[company.slug, "owner_invoice", "synced"])
    assert "no endpoint to read them back" in client.get(listing).content.decode()
    response = client.post(refresh_url(synced_invoice))
    assert response.status_code == 409
    assert "no endpoint to read them back" in response.content.decode()
    assert due_for_refresh() == []


# ----- the scheduled refresh ----------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_beat_task_refreshes_due_items_through_the_worker(
    worker: None, invoice: Any, admin: Any, approver: Any
) -> None:
    item = synced(invoice, admin, approver)
    sandbox("pay", item)
    assert due_for_refresh() == [("owner_invoice", item.pk)]
    assert refresh_synced.apply().get() == 1
    wait_for(lambda: OwnerInvoice.objects.get(pk=item.pk).erp_paid, "the scheduled refresh")
    assert len(payments(item)) == 1
    # Refreshed just now: not due again until the interval has passed.
    assert due_for_refresh() == []
    assert refresh_synced.apply().get() == 0


def test_the_beat_schedule_runs_the_refresh_at_the_configured_interval() -> None:
    from django.conf import settings

    entry = app.conf.beat_schedule["erp-refresh"]
    assert entry["task"] == "erpsync.tasks.refresh_synced"
    assert entry["schedule"] == float(settings.ERP_REFRESH_EVERY_SECONDS) == 3600.0


# ----- Tryton: a real server, a real payment ---------------------------------------------------


@pytest.fixture
def tryton_synced(
    tryton_server: dict[str, str],  # noqa: F811
    invoice: Any,
    admin: Any,
    paying_approver: Any,
) -> OwnerInvoice:
    use_tryton(invoice.erp_company, tryton_server)
    return synced(invoice, admin, paying_approver)


def test_an_invoice_paid_in_tryton_shows_paid_after_refresh(
    client: Any,
    tryton_synced: OwnerInvoice,
    paying_approver: Any,
    tryton_server: dict[str, str],  # noqa: F811
) -> None:
    total = tryton_synced.amount_due
    pay_in_tryton(tryton_server, tryton_synced.erp_id, Decimal("1000.00"))
    item = erp_refresh(item=tryton_synced, user=paying_approver)
    assert (item.erp_amount_paid, item.erp_amount_due) == (
        Decimal("1000.00"),
        total - Decimal("1000.00"),
    )
    assert not item.erp_paid and item.erp_drift == ""
    # The rest, as the demo's README has the user do it: through `manage.py erp_tryton`.
    slug = tryton_synced.erp_company.slug
    out = StringIO()
    call_command("erp_tryton", "pay", tryton_synced.erp_id, "--company", slug, stdout=out)
    assert out.getvalue().strip() == (
        f"Tryton invoice {tryton_synced.erp_id}: payment of {total - Decimal('1000.00')} booked."
    )
    with pytest.raises(CommandError, match="is already paid in full"):
        call_command("erp_tryton", "pay", tryton_synced.erp_id, "--company", slug)
    with pytest.raises(CommandError, match="Tryton holds no posted customer invoice 999999"):
        call_command("erp_tryton", "pay", "999999", "--company", slug)
    client.force_login(paying_approver)
    assert client.post(refresh_url(tryton_synced)).status_code == 302
    item.refresh_from_db()
    assert item.erp_paid and item.erp_paid_on == date.today()
    assert (item.erp_amount_paid, item.erp_amount_due) == (total, Decimal("0.00"))
    rows = payments(item)
    assert len(rows) == 2 and rows[0].startswith("Payment received $1,000.00 on ")
    # Tryton says paid; a second refresh finds nothing new.
    erp_refresh(item=item, user=paying_approver)
    assert len(payments(item)) == 2
    assert "data-paid" in page(client, item)


def test_an_invoice_cancelled_in_tryton_is_flagged_on_the_next_refresh(
    tryton_synced: OwnerInvoice,
    paying_approver: Any,
    tryton_server: dict[str, str],  # noqa: F811
) -> None:
    assert erp_refresh(item=tryton_synced, user=paying_approver).erp_drift == ""
    cancel_in_tryton(tryton_server, tryton_synced.erp_id)
    item = erp_refresh(item=tryton_synced, user=paying_approver)
    assert item.erp_drift.startswith("Cancelled in the ERP")
    assert item.erp_amount_due == Decimal("0.00")


def test_a_job_whose_code_changed_in_tryton_is_flagged(
    tryton_server: dict[str, str],  # noqa: F811
    project: Any,
    admin: Any,
    approver: Any,
) -> None:
    use_tryton(project.company, tryton_server)
    project.erp_synced, project.erp_job_id = False, ""
    project.save()
    job = synced(Job.objects.create(project=project), admin, approver)
    assert erp_refresh(item=job, user=approver).erp_drift == ""
    tryton(tryton_server).call(
        "analytic_account.account", "write", [int(job.erp_id)], {"code": "RENUMBERED"}
    )
    item = erp_refresh(item=job, user=approver)
    assert item.erp_drift == (
        f"Changed in the ERP: number is RENUMBERED in the ERP but {project.number} in erpsync."
    )


def test_the_drift_email_says_a_refresh_found_it(
    synced_invoice: OwnerInvoice, paying_approver: Any, mailoutbox: list[Any]
) -> None:
    sandbox("cancel", synced_invoice)
    erp_refresh(item=synced_invoice, user=paying_approver)
    rows = OutboxEmail.objects.filter(kind="reconcile_drift")
    assert rows.exists()
    for row in rows:
        assert deliver_email(row.pk) == "sent"
    bodies = [m.body for m in mailoutbox]
    assert any(
        "A refresh from the ERP compared" in b and "Cancelled in the ERP" in b for b in bodies
    )
