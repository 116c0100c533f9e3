"""The approval policy clicked through in Chromium: an Admin's amount rule leaves an invoice
partly approved until a second approver completes it; a sender sees why they may not accept
their own item; an approver hands their approvals to a delegate while away."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from playwright.sync_api import Locator, Page, expect

from erpsync.models import ApprovalRule
from erpsync.services import erp_send
from invoicing.models import OwnerInvoice
from projects.models import CompanyMembership, OutOfOffice, ProjectMembership, ToolLevel
from subjobs.models import SubJob

pytestmark = pytest.mark.django_db(transaction=True)

TOOL = "/companies/demo-builders/erp/"


def row(page: Page, title: str) -> Locator:
    return page.locator(f'tr[data-item="{title}"]')


def log_out(page: Page) -> None:
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(re.compile(r".*/login/"))


def assert_in_window(page: Page, tip: Locator) -> None:
    """The whole tooltip shows: inside the window, not cut off by the table's card."""
    box = tip.bounding_box()
    assert box is not None
    size = page.viewport_size
    assert size is not None
    assert box["x"] >= 0 and box["x"] + box["width"] <= size["width"], box
    assert box["y"] >= 0 and box["y"] + box["height"] <= size["height"], box
    # Nothing covers its middle, the table's card among others.
    covered = tip.evaluate(
        """t => {
            const r = t.getBoundingClientRect();
            const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
            return !(hit && t.contains(hit));
        }"""
    )
    assert not covered


def open_invoices(page: Page, live_server: Any) -> None:
    page.goto(f"{live_server.url}{TOOL}owner_invoice/ready/")
    expect(page.get_by_role("heading", level=1)).to_have_text("ERP Integrations")


def test_an_admins_rule_needs_a_second_approver_to_accept_an_invoice(
    page: Page, live_server: Any, demo: None, login: Any
) -> None:
    # INV-003 is due $137,206.35: one approval was enough until the Admin's rule.
    login("controller")
    page.goto(f"{live_server.url}{TOOL}")
    page.locator("[data-approval-policy]").click()
    expect(page.locator("[data-settings-tab=policy]")).to_have_attribute("aria-current", "page")
    form = page.locator("form[data-add-rule=owner_invoice]")
    form.get_by_label("From amount ($)").fill("100000")
    form.get_by_label("Approvals needed").select_option("2")
    form.get_by_label("One of them an ERP Integrations tool Admin's").check()
    form.get_by_role("button", name="Add rule").click()
    expect(page.locator(".messages li")).to_contain_text(
        "Rule added: Owner Invoices of $100,000.00 or more need 2 approvals, one of them an ERP "
        "tool Admin's."
    )
    expect(page.locator("section[data-rules=owner_invoice] [data-rule-text]")).to_have_count(2)
    log_out(page)

    login("approver")
    open_invoices(page, live_server)
    invoice = row(page, "owner invoice INV-003")
    expect(invoice.locator("[data-progress]")).to_have_text(
        "0 of 2 approvals, one an ERP Integrations tool Admin's"
    )
    invoice.locator("[data-decision=accept]").click()
    expect(invoice.locator("[data-row-done]")).to_have_text(
        "Owner invoice INV-003 approved (1 of 2 approvals): it waits for another approver."
    )
    expect(invoice.locator("[data-progress]")).to_have_text("1 of 2 approvals")
    expect(invoice).to_contain_text("approved by Pat Approver (Admin)")
    expect(invoice.locator("button[data-decision=accept]")).to_be_disabled()
    assert OwnerInvoice.objects.get(number="INV-003").erp_state == "partially_approved"
    log_out(page)

    login("controller")
    open_invoices(page, live_server)
    row(page, "owner invoice INV-003").locator("[data-decision=accept]").click()
    expect(page.locator('tr[data-decided="owner invoice INV-003"]')).to_have_text(
        "Owner invoice INV-003 accepted."
    )
    accepted = OwnerInvoice.objects.get(number="INV-003")
    assert accepted.erp_state in ("accepted", "synced")
    assert accepted.erp_accepted_by is not None
    assert accepted.erp_accepted_by.username == "controller"
    assert ApprovalRule.objects.filter(min_amount=100000).exists()


def test_an_approver_who_sent_an_item_sees_why_accept_is_greyed_out(
    page: Page, live_server: Any, demo: None, login: Any
) -> None:
    approver = get_user_model().objects.get(username="approver")
    ProjectMembership.objects.filter(user=approver, project__number="DB-100").update(
        admin_level=ToolLevel.ADMIN
    )
    erp_send(item=SubJob.objects.get(project__number="DB-100", code="02-000"), user=approver)

    login("approver")
    page.goto(f"{live_server.url}{TOOL}sub_job/ready/")
    mine = row(page, "sub job 02-000")
    expect(mine.locator("button[data-decision=accept]")).to_be_disabled()
    tip = mine.get_by_role("tooltip")
    expect(tip).to_be_hidden()
    mine.locator("[data-why=accept]").hover()
    expect(tip).to_be_visible()
    expect(tip).to_contain_text("You sent this sub job: another approver must accept it")
    assert_in_window(page, tip)  # not cut off by the table's card, which scrolls sideways
    page.set_viewport_size({"width": 390, "height": 844})  # a phone: the row is a card
    mine.locator("[data-why=accept]").hover()
    assert_in_window(page, tip)
    page.set_viewport_size({"width": 1366, "height": 768})
    page.mouse.move(0, 0)
    expect(tip).to_be_hidden()
    # The keyboard reaches it too.
    mine.locator("[data-why=accept]").focus()
    expect(tip).to_be_visible()
    # Someone else's item keeps its Accept.
    expect(row(page, "sub job 03-000").locator("button[data-decision=accept]")).to_be_enabled()

    mine.get_by_role("link", name="Preview").click()
    top = page.locator("[data-decisions]").first
    expect(top.get_by_role("button", name="Accept version 1", exact=True)).to_be_disabled()
    top.locator("[data-why=accept]").focus()
    expect(top.get_by_role("tooltip")).to_contain_text("You sent this sub job")


def test_an_approver_sets_an_out_of_office_period_and_the_delegate_decides_for_them(
    page: Page, live_server: Any, demo: None, login: Any
) -> None:
    today = timezone.localdate()
    login("approver")
    page.goto(f"{live_server.url}{TOOL}")
    page.locator("[data-out-of-office]").click()
    expect(page.locator("[data-no-absences]")).to_be_visible()
    form = page.locator("form[data-absence-form]")
    me = CompanyMembership.objects.get(user__username="approver", company__slug="demo-builders")
    expect(form.get_by_label("Approver away")).to_have_value(str(me.pk))
    form.get_by_label("From").fill(today.isoformat())
    form.get_by_label("To (included)").fill((today + dt.timedelta(days=4)).isoformat())
    form.get_by_label("Delegate").select_option(
        label="Sam Controller (Jobs, Sub Jobs, Owner Invoices)"
    )
    form.get_by_role("button", name="Save period").click()
    expect(page.locator(".messages li")).to_contain_text("Out of office saved: Pat Approver away")
    period = page.locator("table[data-absences] tr[data-absence]")
    expect(period).to_have_count(1)
    expect(period).to_contain_text("Sam Controller")
    expect(period).to_contain_text("Away now")
    absence = OutOfOffice.objects.get()
    assert absence.membership.user.username == "approver"
    assert absence.delegate.user.username == "controller"
    log_out(page)

    # The delegate accepts an invoice: its history names whom they stood in for.
    login("controller")
    open_invoices(page, live_server)
    row(page, "owner invoice INV-003").locator("[data-decision=accept]").click()
    expect(page.locator('tr[data-decided="owner invoice INV-003"]')).to_be_visible()
    invoice = OwnerInvoice.objects.get(number="INV-003")
    page.goto(f"{live_server.url}{TOOL}owner_invoice/items/{invoice.pk}/")
    expect(page.locator("#erp-history")).to_contain_text("Sam Controller for Pat Approver")
