"""The owner-invoice seed page, clicked through in Chromium, and the point-of-view terms."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from invoicing.models import OwnerInvoice
from projects.models import Company

pytestmark = pytest.mark.django_db(transaction=True)


def open_invoice(page: Page, number: str, *, tool: str = "Prime Contracts") -> None:
    page.get_by_role("link", name="DB-100 Riverside Medical Office").click()
    page.locator(f'a[data-tool="{tool}"]').click()
    page.get_by_role("link", name="PC-001").click()
    page.get_by_role("link", name="Invoices").click()
    page.get_by_role("link", name=number).click()


def test_admin_fixes_a_rejected_invoice_and_resends_it(
    page: Page, live_server: Any, demo: None, login: Any
) -> None:
    login("admin")
    open_invoice(page, "INV-002")
    expect(page.locator("[data-erp-ribbon]")).to_have_attribute("data-erp-ribbon", "rejected")
    expect(page.locator("[data-rejection-reason]")).to_contain_text("delivery tickets")

    page.get_by_role("link", name="Edit").click()
    page.locator('[name="lines-1-materials_stored"]').fill("0.00")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Saved.")).to_be_visible()

    page.get_by_role("button", name="Resend to ERP").click()
    ribbon = page.locator("[data-erp-ribbon]")
    expect(ribbon).to_have_attribute("data-erp-ribbon", "pending")
    expect(ribbon).to_have_class("ribbon blue")
    expect(page.get_by_role("button", name="Retrieve from ERP")).to_be_visible()
    expect(page.get_by_role("link", name="Edit")).to_have_count(0)

    invoice = OwnerInvoice.objects.get(number="INV-002")
    assert invoice.erp_state == "pending" and invoice.erp_version == 2
    assert invoice.lines.get(position=2).materials_stored == Decimal("0.00")


def test_a_greyed_out_send_on_an_unapproved_invoice_says_why(
    page: Page, live_server: Any, demo: None, login: Any
) -> None:
    login("admin")
    open_invoice(page, "INV-005")
    send = page.get_by_role("button", name="Send to ERP", exact=True)
    expect(send).to_be_disabled()
    page.locator('[data-why="send"]').hover()
    expect(page.get_by_role("tooltip")).to_contain_text(
        "The invoice is not in the Approved status."
    )


def test_an_owner_company_sees_its_own_terms(
    page: Page, live_server: Any, demo: None, login: Any
) -> None:
    Company.objects.filter(slug="demo-builders").update(pov_dictionary="owner")
    login("admin")
    page.get_by_role("link", name="DB-100 Riverside Medical Office").click()
    expect(page.locator('a[data-tool="Funding"]')).to_be_visible()
    expect(page.locator('a[data-tool="Prime Contracts"]')).to_have_count(0)
    page.locator('a[data-tool="Funding"]').click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Funding")


def test_a_specialty_contractor_company_sees_progress_billings(
    page: Page, live_server: Any, demo: None, login: Any
) -> None:
    Company.objects.filter(slug="demo-builders").update(pov_dictionary="specialty_contractor")
    login("admin")
    page.get_by_role("link", name="DB-100 Riverside Medical Office").click()
    expect(page.locator('a[data-tool="Progress Billings"]')).to_be_visible()
    expect(page.locator('a[data-tool="Client Contracts"]')).to_be_visible()


def test_the_invoice_contact_sees_only_their_contract(
    page: Page, live_server: Any, demo: None, login: Any
) -> None:
    login("collab")
    page.get_by_role("link", name="DB-100 Riverside Medical Office").click()
    page.locator('a[data-tool="Prime Contracts"]').click()
    expect(page.get_by_role("link", name="PC-001")).to_be_visible()
    expect(page.get_by_role("link", name="PC-002")).to_have_count(0)
    page.get_by_role("link", name="PC-001").click()
    page.get_by_role("link", name="Invoices").click()
    page.get_by_role("link", name="INV-004").click()
    expect(page.get_by_role("button", name="Send to ERP")).to_have_count(0)
    expect(page.get_by_role("link", name="Edit")).to_have_count(0)
