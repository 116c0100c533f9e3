"""The company ERP Integrations tool, as accounting approvers use it."""

from __future__ import annotations

import html
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from approvals.diff import changes_since_rejection
from approvals.kinds import kinds_for
from erpsync.models import ErpEvent
from erpsync.services import erp_reject, erp_resend, erp_retrieve, erp_send
from erpsync.snapshots import SnapshotFormat, snapshot_changes
from subjobs.models import SubJob
from subjobs.services import sub_job_update
from tests import factories as f

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def queue(company: Any, kind: str = "sub_job", filter_: str = "ready") -> str:
    return reverse("erp_queue", args=[company.slug, kind, filter_])


def decide_url(item: Any, decision: str) -> str:
    return reverse("erp_decide", args=[item.erp_company.slug, item.erp_kind, item.pk, decision])


def text(response: Any) -> str:
    return html.unescape(response.content.decode())


@pytest.fixture
def pending(sub_job: Any, drive: Any) -> Any:
    return drive(sub_job, "pending")


def test_the_tool_opens_on_the_first_tabs_ready_to_export(company: Any, approver: Any) -> None:
    response = client_for(approver).get(reverse("erp_tool", args=[company.slug]))
    assert response.status_code == 302 and response["Location"] == queue(company, "job")


def test_ready_to_export_rows_show_project_item_sender_and_wait(
    company: Any, approver: Any, pending: Any, admin: Any
) -> None:
    body = text(client_for(approver).get(queue(company)))
    assert f'data-item="{pending.erp_title}"' in body
    assert pending.project.number in body and pending.code in body and pending.name in body
    assert admin.username in body
    assert "data-waiting" in body and 'data-decision="accept"' in body


def test_invoice_rows_show_contract_period_and_amount_due(
    company: Any, approver: Any, invoice: Any, drive: Any
) -> None:
    drive(invoice, "pending")
    body = text(client_for(approver).get(queue(company, "owner_invoice")))
    assert invoice.number in body and invoice.prime_contract.number in body
    assert f"Period {invoice.billing_period.number}" in body
    assert "$22,500.00" in body


def test_each_tab_shows_its_count(company: Any, approver: Any, project: Any, admin: Any) -> None:
    for _ in range(3):
        erp_send(item=f.SubJobFactory(project=project, status="approved"), user=admin)
    body = client_for(approver).get(queue(company)).content.decode()
    assert 'data-count="sub_job">3<' in body
    assert 'data-count="owner_invoice">0<' in body
    assert "Ready to Export (3)" in body


def test_accept_decides_the_version_shown(company: Any, approver: Any, pending: Any) -> None:
    response = client_for(approver).post(
        decide_url(pending, "accept"), {"version": pending.erp_version}, **HTMX
    )
    assert response.status_code == 200 and b"data-decided" in response.content
    pending.refresh_from_db()
    assert pending.erp_state == "accepted" and pending.erp_accepted_by == approver


def test_accept_on_a_stale_page_is_refused(
    company: Any, approver: Any, pending: Any, admin: Any
) -> None:
    erp_retrieve(item=pending, user=admin)
    erp_send(item=pending, user=admin)  # now version 2
    response = client_for(approver).post(decide_url(pending, "accept"), {"version": 1})
    assert response.status_code == 409
    assert "changed since you opened it" in text(response)
    pending.refresh_from_db()
    assert pending.erp_state == "pending"


def test_it_rejects_empty_reason(company: Any, approver: Any, pending: Any) -> None:
    response = client_for(approver).post(decide_url(pending, "reject"), {"reason": "  "}, **HTMX)
    assert response.status_code == 422
    assert "data-reason-error" in text(response) and "Enter a reason" in text(response)
    pending.refresh_from_db()
    assert pending.erp_state == "pending"
    assert not ErpEvent.objects.filter(action="reject").exists()


def test_a_rejected_item_leaves_the_list_and_is_editable_again(
    company: Any, approver: Any, pending: Any, admin: Any
) -> None:
    client = client_for(approver)
    response = client.post(decide_url(pending, "reject"), {"reason": "Use 04-200"}, **HTMX)
    assert response.status_code == 200 and b"rejected" in response.content
    assert f'data-item="{pending.erp_title}"' not in text(client.get(queue(company)))
    renamed = sub_job_update(sub_job=pending, user=admin, name="Fixed")
    assert renamed.name == "Fixed"
    history = text(client.get(queue(company, filter_="history")))
    assert "Use 04-200" in history and approver.username in history


def test_a_failed_export_shows_the_error_and_tries_and_can_be_retried(
    company: Any, approver: Any, sub_job: Any, drive: Any
) -> None:
    failed = drive(sub_job, "export_failed")
    client = client_for(approver)
    body = text(client.get(queue(company, filter_="failed")))
    assert "Period closed" in body and "data-tries>1<" in body
    assert 'data-decision="retry"' in body
    assert client.post(decide_url(failed, "retry"), **HTMX).status_code == 200
    failed.refresh_from_db()
    assert failed.erp_state == "accepted"


def test_a_failed_export_may_be_rejected_without_a_comment(
    company: Any, approver: Any, sub_job: Any, drive: Any
) -> None:
    failed = drive(sub_job, "export_failed")
    response = client_for(approver).post(decide_url(failed, "reject"), {"reason": ""})
    assert response.status_code == 302
    failed.refresh_from_db()
    assert failed.erp_state == "rejected"


def test_synced_items_show_the_erp_id_and_who_accepted_grouped_by_project(
    company: Any, approver: Any, sub_job: Any, drive: Any
) -> None:
    drive(sub_job, "synced")
    other_project = f.ProjectFactory(company=company, erp_synced=True, erp_job_id="J-2")
    body = text(client_for(approver).get(queue(company, filter_="synced")))
    assert "ERP-42" in body and approver.username in body
    assert f'<tr class="group"><th colspan="5">{sub_job.project.number}' in body
    # The project filter offers every project of the company; the list groups only its rows.
    assert other_project.number not in body[body.index('<table class="erp-queue') :]


def test_bulk_accept_decides_each_item_and_reports_each(
    company: Any, approver: Any, project: Any, admin: Any
) -> None:
    items = [
        erp_send(item=f.SubJobFactory(project=project, status="approved"), user=admin)
        for _ in range(3)
    ]
    erp_retrieve(item=items[0], user=admin)
    client = client_for(approver)
    response = client.post(
        reverse("erp_bulk", args=[company.slug, "sub_job"]),
        {"decision": "accept", "selected": [f"{i.pk}:{i.erp_version}" for i in items]},
        follow=True,
    )
    body = text(response)
    assert "2 accepted" in body
    assert f"{items[0].erp_title}: This sub job was already retrieved from ERP by" in body
    states = dict(SubJob.objects.values_list("pk", "erp_state"))
    assert [states[i.pk] for i in items] == ["retrieved", "accepted", "accepted"]


def test_bulk_reject_needs_one_reason_and_changes_nothing_without(
    company: Any, approver: Any, pending: Any
) -> None:
    response = client_for(approver).post(
        reverse("erp_bulk", args=[company.slug, "sub_job"]),
        {"decision": "reject", "selected": [f"{pending.pk}:1"], "reason": " "},
        follow=True,
    )
    assert "Enter a reason" in text(response)
    pending.refresh_from_db()
    assert pending.erp_state == "pending"


def test_bulk_cannot_reach_another_companys_items(company: Any, approver: Any) -> None:
    elsewhere = f.ProjectFactory(erp_synced=True, erp_job_id="X")
    their_admin = f.member(elsewhere, admin=True)
    theirs = erp_send(item=f.SubJobFactory(project=elsewhere, status="approved"), user=their_admin)
    response = client_for(approver).post(
        reverse("erp_bulk", args=[company.slug, "sub_job"]),
        {"decision": "accept", "selected": [f"{theirs.pk}:1"]},
        follow=True,
    )
    assert "0 accepted" in text(response) and "No such item." in text(response)
    theirs.refresh_from_db()
    assert theirs.erp_state == "pending"


def test_the_preview_shows_exactly_the_submitted_snapshot(
    company: Any, approver: Any, pending: Any
) -> None:
    url = reverse("erp_item", args=[company.slug, "sub_job", pending.pk])
    body = text(client_for(approver).get(url))
    assert "Submitted (version 1)" in body and pending.code in body
    assert "Accept version 1" in body and "data-since-rejection" not in body


def test_the_preview_shows_what_changed_since_the_last_rejection(
    company: Any, approver: Any, invoice: Any, drive: Any, admin: Any
) -> None:
    from decimal import Decimal

    from invoicing.services import invoice_line_update

    invoice = drive(invoice, "rejected")
    invoice_line_update(line=invoice.lines.first(), user=admin, materials_stored=Decimal("100.00"))
    invoice = erp_resend(item=invoice, user=admin)
    since = changes_since_rejection(invoice)
    assert since is not None and since.rejection.reason == "Wrong cost code"
    fields = {c.field: (c.old, c.new) for c in since.changes}
    # Labelled and formatted as people read them, not as stored.
    assert fields["Line 1 › Materials stored"] == ("$2,500.00", "$100.00")
    # (10,000 + 100) less 10% retainage, plus the untouched line (11,250.00).
    assert fields["Totals › Amount due"] == ("$22,500.00", "$20,340.00")
    url = reverse("erp_item", args=[company.slug, "owner_invoice", invoice.pk])
    body = text(client_for(approver).get(url))
    assert "data-since-rejection" in body and "Wrong cost code" in body
    assert "<del>$2,500.00</del>" in body and "<ins>$100.00</ins>" in body


def test_an_unchanged_resend_says_so(company: Any, approver: Any, pending: Any, admin: Any) -> None:
    erp_reject(item=pending, user=approver, reason="Check it")
    resent = erp_resend(item=pending, user=admin)
    since = changes_since_rejection(resent)
    assert since is not None and since.changes == []


def test_snapshot_changes_report_added_and_removed_fields() -> None:
    old = {"lines": [{"amount": "1.00"}], "name": "A"}
    new = {"lines": [{"amount": "1.00"}, {"amount": "2.00"}], "name": "B"}
    fmt = SnapshotFormat(money=frozenset({"amount"}), singular={"lines": "Line"})
    changes = [(c.field, c.old, c.new) for c in snapshot_changes(fmt, old, new, {})]
    assert changes == [("Name", "A", "B"), ("Line 2 › Amount", "—", "$2.00")]


def test_read_only_sees_the_lists_without_buttons(company: Any, pending: Any) -> None:
    reader = f.approver(company, erp_tool_level=10, can_push_to_accounting=False)
    client = client_for(reader)
    body = text(client.get(queue(company)))
    assert f'data-item="{pending.erp_title}"' in body
    assert "data-decision" not in body and "bulk-form" not in body
    assert client.post(decide_url(pending, "accept"), {"version": 1}).status_code == 403
    pending.refresh_from_db()
    assert pending.erp_state == "pending"


def test_no_tool_access_is_refused(company: Any, admin: Any) -> None:
    # The project admin is a company member with no level on the ERP Integrations tool.
    response = client_for(admin).get(queue(company))
    assert response.status_code == 403
    assert "no access to the company's ERP Integrations tool" in text(response)


def test_another_companys_approver_gets_404_and_no_row(company: Any, pending: Any) -> None:
    outsider = f.approver(f.CompanyFactory())
    client = client_for(outsider)
    assert client.get(queue(company)).status_code == 404
    assert client.post(decide_url(pending, "accept"), {"version": 1}).status_code == 404
    own = outsider.company_memberships.get().company
    own_page = client.get(reverse("erp_item", args=[own.slug, "sub_job", pending.pk]))
    assert own_page.status_code == 404
    pending.refresh_from_db()
    assert pending.erp_state == "pending"


def test_tabs_follow_the_point_of_view_dictionary(company: Any) -> None:
    company.pov_dictionary = "owner"
    assert [k.label for k in kinds_for(company)] == ["Jobs", "Sub Jobs", "Funding Invoices"]


def test_the_home_page_links_the_tool_for_users_with_access(company: Any, admin: Any) -> None:
    reader = f.approver(company, erp_tool_level=10, can_push_to_accounting=False)
    link = reverse("erp_tool", args=[company.slug])
    assert link in client_for(reader).get(reverse("home")).content.decode()
    assert link not in client_for(admin).get(reverse("home")).content.decode()
