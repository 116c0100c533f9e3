"""Company settings and the company audit log, clicked through in Chromium by the demo's
ERP Integrations tool Admin (approver)."""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from erpsync.models import ErpEvent
from projects.models import Company, CompanyMembership, ToolLevel
from tests.test_webhook_adapter import SECRET, FakeErp, erp  # noqa: F401 - the receiving ERP

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}


def open_settings(page: Page, live_server: Any) -> None:
    page.goto(f"{live_server.url}/")
    page.locator(
        'a[data-company-settings][href="/companies/demo-builders/settings/dictionary/"]'
    ).click()
    expect(page.get_by_role("heading", name="Company settings")).to_be_visible()


def make_viewer_an_approver() -> None:
    CompanyMembership.objects.filter(company__slug="demo-builders", user__username="viewer").update(
        erp_tool_level=ToolLevel.STANDARD, can_push_to_accounting=True
    )


def test_an_erp_tool_admin_changes_the_settings_and_audits_them(
    page: Page,
    live_server: Any,
    demo: None,
    login: Any,
    erp: FakeErp,  # noqa: F811
    tmp_path: Path,
) -> None:
    page.set_viewport_size(DESKTOP)
    make_viewer_an_approver()
    login("approver")
    open_settings(page, live_server)

    # The dictionary: Owners, then the tool speaks of Funding Invoices.
    preview = page.locator("[data-dictionary-preview]")
    expect(preview).to_contain_text("Funding Invoices")
    expect(preview).to_contain_text("Client Contracts")
    page.get_by_label("Owners").check()
    page.get_by_role("button", name="Save dictionary").click()
    expect(page.get_by_text("Dictionary saved")).to_be_visible()
    assert Company.objects.get(slug="demo-builders").pov_dictionary == "owner"
    page.get_by_role("link", name="Demo Builders").click()
    page.locator('a[data-erp-tool][href="/companies/demo-builders/erp/"]').click()
    expect(page.locator("[data-tab=owner_invoice]")).to_contain_text("Funding Invoices")

    # The ERP adapter: webhook with a URL and a secret, then Check connection.
    page.locator("a[data-company-settings]").click()
    page.locator("[data-settings-tab=adapter]").click()
    expect(page.locator("[data-current-adapter]")).to_have_text("Sandbox")
    page.get_by_label("ERP adapter").select_option("webhook")
    expect(page.locator("#adapter-form")).to_have_attribute("data-adapter-form", "webhook")
    page.get_by_label("URL (required)").fill(erp.url)
    page.get_by_label("Secret (required)").fill(SECRET)
    page.get_by_role("button", name="Save ERP adapter").click()
    expect(page.get_by_text("ERP adapter saved: Webhook.")).to_be_visible()
    expect(page.locator("[data-current-adapter]")).to_have_text("Webhook")
    # The secret is never shown again.
    expect(page.locator("[data-setting=secret] [data-secret-set]")).to_be_visible()
    assert SECRET not in page.content()
    page.get_by_role("button", name="Check connection").click()
    expect(page.locator("#check-result")).to_have_attribute("data-check", "ok")
    expect(page.locator("#check-result")).to_contain_text("Connection ok")
    assert [r.query for r in erp.requests] == ["check=1"] and not erp.refusals

    # The directory: turn the viewer's 'Can push to accounting' off, then on again.
    page.locator("[data-settings-tab=members]").click()
    row = page.locator('tr[data-member="viewer"]')
    expect(row.locator("[data-approver-badge]")).to_be_visible()
    row.get_by_label("Can push to accounting").uncheck()
    row.get_by_role("button", name="Save").click()
    expect(row.locator("[data-row-saved]")).to_be_visible()
    expect(row.locator("[data-approver-badge]")).to_have_count(0)
    row.get_by_label("Can push to accounting").check()
    row.get_by_role("button", name="Save").click()
    expect(row.locator("[data-approver-badge]")).to_be_visible()
    viewer = CompanyMembership.objects.get(company__slug="demo-builders", user__username="viewer")
    assert viewer.can_push_to_accounting
    row.get_by_role("link", name="History").click()
    history = page.locator("[data-member-history-table]")
    expect(history).to_contain_text("Can push to accounting: Yes → No")
    expect(history).to_contain_text("Can push to accounting: No → Yes")

    # The audit log shows every change, next to the items' transitions.
    page.locator("[data-settings-tab=audit]").click()
    expect(page.get_by_role("heading", name="Audit log")).to_be_visible()
    log = page.locator("table[data-audit]")
    expect(log).to_contain_text("Point-of-view dictionary: General Contractors (default) → Owners")
    expect(log).to_contain_text("ERP adapter: sandbox → webhook")
    expect(log).to_contain_text("ERP setting secret: — → ***")
    expect(log).to_contain_text("Can push to accounting: Yes → No")
    expect(log.locator('tr[data-event="send"]').first).to_be_visible()

    # A filter narrows it, and stays in the address.
    page.get_by_label("Item kind").select_option("directory")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(
        re.compile(r"/companies/demo-builders/audit/\?(.*&)?kind=directory(&|$)")
    )
    expect(log.locator("tbody tr")).to_have_count(2)
    expect(log.locator('tr[data-event="send"]')).to_have_count(0)

    # The CSV of that view.
    with page.expect_download() as download:
        page.locator("a[data-export]").click()
    saved = tmp_path / "audit.csv"
    download.value.save_as(saved)
    rows = list(csv.reader(saved.open(encoding="utf-8")))
    assert rows[0][:4] == ["when", "company", "item kind", "item"]
    assert [r[10] for r in rows[1:]] == [
        "Can push to accounting: No → Yes",
        "Can push to accounting: Yes → No",
    ]
    assert all(r[2] == "Directory" and r[7] == "Pat Approver" for r in rows[1:])
    assert ErpEvent.objects.filter(action="edit", actor__username="approver").count() == 4


@pytest.mark.parametrize("section", ["dictionary", "adapter", "members", "audit"])
def test_settings_and_the_audit_log_fit_a_phone(
    section: str, page: Page, live_server: Any, demo: None, login: Any
) -> None:
    page.set_viewport_size(PHONE)
    login("approver")
    open_settings(page, live_server)
    page.locator(f"[data-settings-tab={section}]").click()
    expect(page.locator("main h1")).to_be_visible()
    # What sticks out, if anything (tables scroll inside their .table-wrap instead).
    widest = page.evaluate(
        "() => [...document.querySelectorAll('body *')]"
        ".filter(e => e.getBoundingClientRect().right > innerWidth)"
        ".map(e => e.outerHTML.slice(0, 80))"
    )
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], widest
    expect(page.get_by_role("button", name="Log out")).to_be_in_viewport()


def test_a_read_only_user_reaches_the_audit_log_but_not_the_settings(
    page: Page, live_server: Any, demo: None, login: Any
) -> None:
    login("viewer")
    expect(page.locator("a[data-company-settings]")).to_have_count(0)
    page.locator('a[data-audit-log][href="/companies/demo-builders/audit/"]').click()
    expect(page.get_by_role("heading", name="Audit log")).to_be_visible()
    expect(page.locator('table[data-audit] tr[data-event="send"]').first).to_be_visible()
