"""The approval policy in the ERP Integrations tool and on item pages: partly approved rows and
ribbons, buttons only for the kinds an approver holds, a greyed-out Accept with each policy
reason, bulk accept skipping what the user may not accept, and the queries a page costs."""

from __future__ import annotations

import html
import re
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from approvals.kinds import kind_for
from approvals.selectors import queue_item
from erpsync.approval import accept_decisions, membership_of
from erpsync.models import ApprovalRule
from erpsync.services import erp_accept, erp_send
from erpsync.states import ErpAction
from invoicing.models import OwnerInvoice
from projects.models import Company, ToolLevel
from subjobs.models import SubJob
from subjobs.services import sub_job_update
from tests import factories as f

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
DUE = Decimal("22500.00")  # an invoice of the factories with two lines


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def text(response: Any) -> str:
    return html.unescape(response.content.decode())


def name(user: Any) -> str:
    return user.get_full_name() or user.get_username()


def queue(company: Any, kind: str = "owner_invoice", filter_: str = "ready") -> str:
    return reverse("erp_queue", args=[company.slug, kind, filter_])


def preview(item: Any) -> str:
    return reverse("erp_item", args=[item.erp_company.slug, item.erp_kind, item.pk])


def decide_url(item: Any, decision: str) -> str:
    return reverse("erp_decide", args=[item.erp_company.slug, item.erp_kind, item.pk, decision])


def row_of(body: str, item: Any) -> str:
    found = re.search(rf'<tr id="erp-{item.erp_kind}-{item.pk}".*?</tr>', body, re.S)
    assert found is not None, f"no row for {item.erp_title}"
    return found.group(0)


def tooltip(fragment: str) -> str:
    found = re.search(r'role="tooltip"[^>]*>(.*?)</span>', fragment, re.S)
    assert found is not None, "no greyed-out Accept with a tooltip"
    return found.group(1)


def two_approvals(company: Any, *, admin: bool = False, kind: str = "owner_invoice") -> None:
    ApprovalRule.objects.create(
        company=company,
        kind=kind,
        min_amount=Decimal("20000.00") if kind == "owner_invoice" else 0,
        approvals_required=2,
        needs_tool_admin=admin,
    )


@pytest.fixture
def erp_admin(company: Any) -> Any:
    """An ERP tool Admin who approves every kind."""
    return f.approver(company, erp_tool_level=ToolLevel.ADMIN)


@pytest.fixture
def sent_invoice(invoice: Any, admin: Any) -> OwnerInvoice:
    return erp_send(item=invoice, user=admin)


# ----- partly approved items ----------------------------------------------------------------------


def test_a_partly_approved_invoice_waits_under_ready_with_its_progress_and_approver(
    company: Any, admin: Any, approver: Any, erp_admin: Any, sent_invoice: Any
) -> None:
    two_approvals(company, admin=True)
    erp_accept(item=sent_invoice, user=erp_admin)
    sent_invoice.refresh_from_db()
    assert sent_invoice.erp_state == "partially_approved"

    body = text(client_for(approver).get(queue(company)))
    row = row_of(body, sent_invoice)
    assert 'data-state="partially_approved"' in row
    assert '<span class="erp-icon blue" data-progress>1 of 2 approvals</span>' in row
    assert f"approved by {name(erp_admin)} (Admin)" in row
    assert 'data-decision="accept"' in row and "disabled" not in row
    assert f'value="{sent_invoice.pk}:1"' in row  # selectable for bulk decisions

    # The preview lists the approvals so far, and the rule they follow.
    page = text(client_for(approver).get(preview(sent_invoice)))
    assert "Owner Invoices of $20,000.00 or more need 2 approvals, one of them" in page
    approvals = re.findall(r"<li data-approval>(.*?)</li>", page, re.S)
    assert len(approvals) == 1
    assert f"{name(erp_admin)}, as ERP Integrations tool Admin" in approvals[0]
    assert "ERP: Partly approved — <span data-ribbon-progress>1 of 2 approvals</span>" in page

    # The item's own page: the ribbon, who approved, and the history row.
    item_page = text(client_for(admin).get(sent_invoice.get_absolute_url()))
    assert "ERP: Partly approved — <span data-ribbon-progress>1 of 2 approvals</span>" in item_page
    assert f"Approved by {name(erp_admin)} (ERP Integrations tool Admin) at" in item_page
    assert "Approved (1 of 2 approvals)" in item_page

    # Another approver completes it.
    response = client_for(approver).post(decide_url(sent_invoice, "accept"), {"version": "1"})
    assert response.status_code == 302
    sent_invoice.refresh_from_db()
    assert sent_invoice.erp_state in ("accepted", "synced")
    assert "Accepted (2 of 2 approvals)" in text(
        client_for(admin).get(sent_invoice.get_absolute_url())
    )


def test_a_pending_invoice_under_a_rule_says_how_many_approvals_it_needs(
    company: Any, approver: Any, sent_invoice: Any
) -> None:
    two_approvals(company, admin=True)
    row = row_of(text(client_for(approver).get(queue(company))), sent_invoice)
    assert "0 of 2 approvals, one an ERP Integrations tool Admin's" in row


def test_an_htmx_approval_keeps_the_row_with_its_progress(
    company: Any, approver: Any, erp_admin: Any, sent_invoice: Any
) -> None:
    two_approvals(company)
    response = client_for(approver).post(
        decide_url(sent_invoice, "accept"), {"version": "1"}, **HTMX
    )
    assert response.status_code == 200
    body = text(response)
    row = row_of(body, sent_invoice)
    assert "1 of 2 approvals" in row
    assert (
        f"Owner invoice {sent_invoice.number} approved (1 of 2 approvals): it waits for "
        "another approver." in row
    )
    # The same approver cannot give the second approval: Accept is greyed out, with why.
    assert "You already approved version 1" in tooltip(row)
    assert 'hx-swap-oob="true"' in body


# ----- rights per kind ----------------------------------------------------------------------------


def test_an_approver_decides_only_the_kinds_they_hold(
    company: Any, project: Any, admin: Any, sent_invoice: Any
) -> None:
    sub_jobs_only = f.approver(company, kinds=("sub_job",))
    pending_sub_job = erp_send(item=f.SubJobFactory(project=project, status="approved"), user=admin)
    client = client_for(sub_jobs_only)
    mine = text(client.get(queue(company, "sub_job")))
    assert 'data-decision="accept"' in row_of(mine, pending_sub_job)
    assert "data-rights-note" not in mine

    theirs = text(client.get(queue(company)))
    row = row_of(theirs, sent_invoice)
    assert "data-decision" not in row and 'name="selected"' not in row
    assert "data-bulk" not in theirs
    assert "you hold no right to export Owner Invoices" in theirs
    page = text(client.get(preview(sent_invoice)))
    assert "data-decisions" not in page and "you hold no right to export Owner Invoices" in page

    # Forged requests are refused with 403 and change nothing.
    for decision, data in (("accept", {"version": "1"}), ("reject", {"reason": "No"})):
        response = client.post(decide_url(sent_invoice, decision), data)
        assert response.status_code == 403
        assert "Only an accounting approver for owner invoices can do this" in text(response)
    response = client.post(
        reverse("erp_bulk", args=[company.slug, "owner_invoice"]),
        {"decision": "accept", "selected": [f"{sent_invoice.pk}:1"]},
    )
    assert response.status_code == 403
    sent_invoice.refresh_from_db()
    assert sent_invoice.erp_state == "pending"


# ----- a greyed-out Accept with the policy's reasons ----------------------------------------------


def test_the_sender_sees_accept_greyed_out_on_the_queue_and_the_preview(
    company: Any, project: Any, sub_job: Any
) -> None:
    sender = f.approver(company)
    f.ProjectMembershipFactory(project=project, user=sender, **f.ADMIN_ALL)
    item = erp_send(item=sub_job, user=sender)
    client = client_for(sender)
    row = row_of(text(client.get(queue(company, "sub_job"))), item)
    assert "You sent this sub job: another approver must accept it" in tooltip(row)
    assert 'data-decision="reject"' in row  # rejecting stays possible
    page = text(client.get(preview(item)))
    assert page.count('aria-label="Why is Accept version 1 unavailable?"') == 2
    assert "You sent this sub job" in tooltip(page)
    assert len(set(re.findall(r'id="(why-accept-[^"]+)"', page))) == 2  # top and bottom
    response = client.post(decide_url(item, "accept"), {"version": "1"})
    assert response.status_code == 403
    item.refresh_from_db()
    assert item.erp_state == "pending"

    # Without the company's block, the sender may accept.
    Company.objects.filter(pk=company.pk).update(block_self_approval=False)
    row = row_of(text(client.get(queue(company, "sub_job"))), item)
    assert 'role="tooltip"' not in row


def test_the_last_editor_sees_why_they_may_not_accept(
    company: Any, project: Any, admin: Any, sub_job: Any
) -> None:
    editor = f.approver(company)
    f.ProjectMembershipFactory(project=project, user=editor, **f.ADMIN_ALL)
    sub_job_update(sub_job=sub_job, user=editor, name="Renamed")
    item = erp_send(item=SubJob.objects.get(pk=sub_job.pk), user=admin)
    row = row_of(text(client_for(editor).get(queue(company, "sub_job"))), item)
    assert "You last edited this sub job" in tooltip(row)


def test_an_admins_approval_is_needed_for_the_last_one(
    company: Any, approver: Any, sent_invoice: Any
) -> None:
    two_approvals(company, admin=True)
    erp_accept(item=sent_invoice, user=f.approver(company))
    client = client_for(approver)
    row = row_of(text(client.get(queue(company))), sent_invoice)
    reasons = tooltip(row)
    assert (
        "One of this owner invoice's 2 approvals must be an ERP Integrations tool Admin's"
        in reasons
    )
    assert "One of this owner invoice's 2 approvals" in tooltip(
        text(client.get(preview(sent_invoice)))
    )
    response = client.post(decide_url(sent_invoice, "accept"), {"version": "1"})
    assert response.status_code == 403


def test_the_page_decisions_are_erp_decides_own(
    company: Any, project: Any, admin: Any, approver: Any, erp_admin: Any
) -> None:
    """accept_decisions reads a page at once; it must answer what erp_decide answers."""
    two_approvals(company, admin=True)
    invoices = [
        erp_send(item=f.invoice_ready_to_send(project=project, user=admin), user=admin)
        for _ in range(4)
    ]
    erp_accept(item=invoices[0], user=approver)
    erp_accept(item=invoices[1], user=f.approver(company))
    small = erp_send(item=f.invoice_ready_to_send(project=project, user=admin, lines=1), user=admin)
    accepted = erp_send(
        item=f.invoice_ready_to_send(project=project, user=admin, lines=1), user=admin
    )
    erp_accept(item=accepted, user=erp_admin)  # no longer awaiting: the state's reason only
    sub_jobs_only = f.approver(company, kinds=("sub_job",))
    kind = kind_for(company, "owner_invoice")
    items = [queue_item(company, kind, i.pk) for i in [*invoices, small, accepted]]
    for user in (approver, erp_admin, admin, sub_jobs_only):
        decisions = accept_decisions(items, user, membership_of(user, company), company)
        for item in items:
            fresh = OwnerInvoice.objects.get(pk=item.pk)
            expected = fresh.erp_decide(ErpAction.ACCEPT, user)
            assert decisions[item.pk].reasons == expected.reasons, (user, item)
            assert decisions[item.pk].allowed == expected.allowed


# ----- bulk accept --------------------------------------------------------------------------------


def test_bulk_accept_approves_partly_and_skips_what_the_user_may_not_accept(
    company: Any, project: Any, admin: Any, erp_admin: Any
) -> None:
    two_approvals(company, admin=True)
    sender = f.approver(company, erp_tool_level=ToolLevel.ADMIN)
    f.ProjectMembershipFactory(project=project, user=sender, **f.ADMIN_ALL)
    big = erp_send(item=f.invoice_ready_to_send(project=project, user=admin), user=admin)
    small = erp_send(item=f.invoice_ready_to_send(project=project, user=admin, lines=1), user=admin)
    own = erp_send(item=f.invoice_ready_to_send(project=project, user=admin, lines=1), user=sender)
    done = erp_send(item=f.invoice_ready_to_send(project=project, user=admin), user=admin)
    erp_accept(item=done, user=sender)  # partly approved by `sender`
    response = client_for(sender).post(
        reverse("erp_bulk", args=[company.slug, "owner_invoice"]),
        {
            "decision": "accept",
            "selected": [f"{i.pk}:{i.erp_version}" for i in (big, small, own, done)],
        },
        follow=True,
    )
    body = text(response)
    message = re.search(r'<ul class="messages".*?</ul>', body, re.S)
    assert message is not None
    summary = message.group(0)
    assert "1 accepted" in summary
    assert f"{big.erp_title} approved (1 of 2), waiting for another approver" in summary
    assert "2 skipped" in summary
    assert f"{own.erp_title}: You sent this owner invoice" in summary
    assert f"{done.erp_title}: You already approved version 1" in summary
    assert "accepted (1 of 2)" not in summary
    states = dict(OwnerInvoice.objects.values_list("pk", "erp_state"))
    assert states[big.pk] == "partially_approved"
    assert states[small.pk] in ("accepted", "synced")
    assert states[own.pk] == "pending"
    assert states[done.pk] == "partially_approved"


# ----- queries ------------------------------------------------------------------------------------


def queries_for(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx)


def test_a_page_of_partly_approved_invoices_costs_the_same_queries_at_any_size(
    company: Any, project: Any, admin: Any, approver: Any
) -> None:
    """With amount rules (the submitted amounts are read) and approvals to show, the Ready to
    Export page and its buttons still cost a fixed number of queries."""
    two_approvals(company, admin=True)
    others = [f.approver(company, erp_tool_level=ToolLevel.ADMIN) for _ in range(2)]

    def add(count: int) -> None:
        for n in range(count):
            item = erp_send(item=f.invoice_ready_to_send(project=project, user=admin), user=admin)
            if n % 2:
                erp_accept(item=item, user=others[n % 4 // 2])

    client = client_for(approver)
    add(4)
    few = queries_for(client, queue(company))
    add(26)
    body = text(client.get(queue(company)))
    assert body.count("1 of 2 approvals") == 15
    assert queries_for(client, queue(company)) == few
    invoice = OwnerInvoice.objects.filter(erp_state="partially_approved").first()
    one = queries_for(client, preview(invoice))
    erp_accept(item=OwnerInvoice.objects.filter(erp_state="pending").first(), user=others[0])
    assert queries_for(client, preview(invoice)) == one
