"""Issue 11, defects 7, 8 and 19, in Chromium: counts after an inline decision, the reject
dialog after a refusal, and the bulk bar (selection kept, hidden when empty, select all)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from subjobs.models import SubJob
from tests.browser.test_approvals_flow import (
    TOOL,
    decided,
    only_http_errors,
    open_tool,
    row,
    send_new_sub_jobs,
)

pytestmark = pytest.mark.django_db(transaction=True)


def is_modal(page: Page, selector: str) -> bool:
    return bool(page.locator(selector).evaluate("d => d.open && d.matches(':modal')"))


def test_an_inline_accept_updates_the_tab_and_filter_counts(
    page: Page, live_server: Any, demo: None, login: Any
) -> None:
    send_new_sub_jobs("10-000")
    login("approver")
    open_tool(page, live_server)
    tab = page.locator("[data-count=sub_job]")
    expect(tab).to_have_text("2")
    ready = page.locator("[data-filter=ready]")
    exporting = page.locator("[data-filter=exporting]")
    expect(ready).to_have_text("Ready to Export (2)")
    before = int(exporting.inner_text().split("(")[1].rstrip(")"))

    row(page, "sub job 03-000").locator("[data-decision=accept]").click()
    expect(decided(page, "sub job 03-000")).to_be_visible()
    expect(tab).to_have_text("1")
    expect(ready).to_have_text("Ready to Export (1)")
    expect(exporting).to_have_text(f"Exporting ({before + 1})")
    # Still the page's own navigation, not a second copy of it.
    expect(page.locator("#erp-tabs")).to_have_count(1)
    expect(page.locator("#erp-filters")).to_have_count(1)


def test_a_refused_reject_comes_back_as_a_modal_naming_the_item(
    page: Page, live_server: Any, demo: None, login: Any, console_errors: list[str]
) -> None:
    login("approver")
    open_tool(page, live_server)
    row(page, "sub job 03-000").locator("[data-decision=reject]").click()
    dialog = page.get_by_role("dialog", name="Reject sub job 03-000")
    expect(dialog.get_by_role("heading", name="Reject sub job 03-000")).to_be_visible()
    assert is_modal(page, "dialog[open]")
    dialog.get_by_role("textbox").fill("   ")
    dialog.get_by_role("button", name="Reject", exact=True).click()

    dialog = page.get_by_role("dialog", name="Reject sub job 03-000")
    expect(dialog.locator("[data-reason-error]")).to_contain_text("Enter a reason")
    expect(dialog.get_by_role("heading", name="Reject sub job 03-000")).to_be_visible()
    # A modal again, with its backdrop: the page behind cannot be clicked.
    assert is_modal(page, "dialog[open]")
    expect(dialog.get_by_role("textbox")).to_be_focused()
    assert only_http_errors(console_errors, 422), console_errors
    console_errors.clear()

    dialog.get_by_role("textbox").fill("Use cost code 03-100.")
    dialog.get_by_role("button", name="Reject", exact=True).click()
    expect(decided(page, "sub job 03-000")).to_have_text("Sub job 03-000 rejected.")
    assert SubJob.objects.get(project__number="DB-100", code="03-000").erp_state == "rejected"


def test_a_bulk_reject_without_reason_keeps_the_selection(
    page: Page, live_server: Any, demo: None, login: Any, console_errors: list[str]
) -> None:
    send_new_sub_jobs("10-000", "11-000")
    login("approver")
    open_tool(page, live_server)
    page.get_by_role("checkbox", name="Select sub job 03-000").check()
    page.get_by_role("checkbox", name="Select sub job 11-000").check()
    page.get_by_role("button", name="Reject selected").click()
    dialog = page.get_by_role("dialog", name="Reject the selected items")
    dialog.get_by_role("textbox").fill(" ")
    dialog.get_by_role("button", name="Reject selected").click()

    dialog = page.get_by_role("dialog", name="Reject the selected items")
    expect(dialog.locator("[data-reason-error]")).to_contain_text("Enter a reason")
    assert is_modal(page, "#bulk-reject")
    expect(page.get_by_role("checkbox", name="Select sub job 03-000")).to_be_checked()
    expect(page.get_by_role("checkbox", name="Select sub job 11-000")).to_be_checked()
    expect(page.get_by_role("checkbox", name="Select sub job 10-000")).not_to_be_checked()
    assert only_http_errors(console_errors, 422), console_errors
    console_errors.clear()

    dialog.get_by_role("textbox").fill("Wrong division")
    dialog.get_by_role("button", name="Reject selected").click()
    expect(page.locator(".messages li")).to_have_text("2 rejected")
    states = dict(SubJob.objects.filter(project__number="DB-100").values_list("code", "erp_state"))
    assert (states["03-000"], states["10-000"], states["11-000"]) == (
        "rejected",
        "pending",
        "rejected",
    )


def test_select_all_by_keyboard_then_the_bulk_bar_goes_when_the_queue_is_empty(
    page: Page, live_server: Any, demo: None, login: Any
) -> None:
    send_new_sub_jobs("10-000", "11-000")
    login("approver")
    open_tool(page, live_server)
    select_all = page.get_by_role("checkbox", name="Select all rows on this page")
    select_all.focus()
    page.keyboard.press("Space")
    boxes = page.locator("input[name=selected]")
    expect(boxes).to_have_count(3)
    for box in boxes.all():
        expect(box).to_be_checked()
    page.get_by_role("checkbox", name="Select sub job 10-000").uncheck()
    assert select_all.evaluate("box => box.indeterminate")
    page.get_by_role("checkbox", name="Select sub job 10-000").check()
    expect(select_all).to_be_checked()

    page.get_by_role("button", name="Accept selected").click()
    expect(page.locator(".messages li")).to_have_text("3 accepted")
    expect(page).to_have_url(f"{live_server.url}{TOOL}sub_job/ready/")
    expect(page.locator("table[data-queue=ready] tr[data-item]")).to_have_count(0)
    expect(page.locator("#bulk-form")).to_have_count(0)
    expect(page.get_by_role("button", name="Accept selected")).to_have_count(0)
    expect(page.get_by_role("checkbox", name="Select all rows on this page")).to_have_count(0)
