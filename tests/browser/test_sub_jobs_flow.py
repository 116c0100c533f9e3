"""The sub job seed page, clicked through in Chromium by the demo admin."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from projects.models import Project
from subjobs.models import SubJob

pytestmark = pytest.mark.django_db(transaction=True)


def open_sub_jobs(page: Page, project: str = "DB-100 Riverside Medical Office") -> None:
    page.get_by_role("link", name=project).click()
    page.get_by_role("link", name="Admin").first.click()
    page.get_by_role("link", name="Sub Jobs").click()
    expect(page.get_by_role("heading", name="Sub Jobs", exact=True)).to_be_visible()


def row(page: Page, code: str) -> Any:
    return page.locator(f'tr[data-sub-job="{code}"]')


def test_admin_adds_approves_renames_sends_and_retrieves_a_sub_job(
    page: Page, live_server: Any, demo: None, login: Any
) -> None:
    login("admin")
    open_sub_jobs(page)

    page.get_by_label("Sub Job ID").fill("09-000")
    page.get_by_label("Name").fill("Finishes")
    page.get_by_role("button", name="Add").click()
    expect(row(page, "09-000")).to_contain_text("Draft")

    # Double-click the name, type, Enter saves.
    row(page, "09-000").locator("[data-name]").dblclick()
    editor = row(page, "09-000").get_by_label("Name of 09-000")
    expect(editor).to_be_focused()
    editor.fill("Finishes and Paint")
    editor.press("Enter")
    expect(row(page, "09-000").locator("[data-name]")).to_have_text("Finishes and Paint")

    # Escape cancels without saving.
    row(page, "09-000").locator("[data-name]").dblclick()
    row(page, "09-000").get_by_label("Name of 09-000").fill("Not this")
    row(page, "09-000").get_by_label("Name of 09-000").press("Escape")
    expect(row(page, "09-000").locator("[data-name]")).to_have_text("Finishes and Paint")

    row(page, "09-000").get_by_role("button", name="Approve").click()
    expect(row(page, "09-000").locator("[data-status]")).to_have_text("Approved")

    row(page, "09-000").get_by_role("link", name="View").click()
    page.get_by_role("button", name="Send to ERP").click()
    ribbon = page.locator("[data-erp-ribbon]")
    expect(ribbon).to_have_attribute("data-erp-ribbon", "pending")
    expect(ribbon).to_have_class("ribbon blue")
    expect(page.locator("[data-lock-banner]")).to_contain_text("retrieve it to edit")

    # Retrieve asks first: dismissing the question leaves it with the approvers.
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="Retrieve from ERP").click()
    expect(ribbon).to_have_attribute("data-erp-ribbon", "pending")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Retrieve from ERP").click()
    expect(ribbon).to_have_attribute("data-erp-ribbon", "retrieved")
    expect(page.get_by_role("button", name="Send to ERP")).to_be_enabled()
    assert SubJob.objects.get(code="09-000").erp_state == "retrieved"


def test_renaming_a_pending_sub_job_shows_why_it_is_refused(
    page: Page, live_server: Any, demo: None, login: Any, console_errors: list[str]
) -> None:
    login("admin")
    open_sub_jobs(page)
    row(page, "03-000").locator("[data-name]").dblclick()
    expect(row(page, "03-000").locator("[data-row-error]")).to_contain_text("retrieve it to edit")
    expect(row(page, "03-000").get_by_role("textbox")).to_have_count(0)
    # The browser logs the server's 409 refusal; that refusal is what this test wants.
    assert console_errors and all("409" in error for error in console_errors)
    console_errors.clear()


def test_a_rejected_sub_job_is_resent_and_turns_blue(
    page: Page, live_server: Any, demo: None, login: Any
) -> None:
    login("admin")
    open_sub_jobs(page)
    row(page, "04-000").get_by_role("link", name="View").click()
    expect(page.locator("[data-rejection-reason]")).to_contain_text("division header")
    page.get_by_role("button", name="Resend to ERP").click()
    expect(page.locator("[data-erp-ribbon]")).to_have_attribute("data-erp-ribbon", "pending")
    expect(page.locator(".ribbon")).to_have_class("ribbon blue")


def test_a_greyed_out_resend_tells_why_on_hover(
    page: Page, live_server: Any, demo: None, login: Any
) -> None:
    Project.objects.filter(number="DB-100").update(erp_synced=False)
    login("admin")
    open_sub_jobs(page)
    row(page, "04-000").get_by_role("link", name="View").click()
    resend = page.get_by_role("button", name="Resend to ERP", exact=True)
    expect(resend).to_be_disabled()
    tooltip = page.get_by_role("tooltip")
    expect(tooltip).to_be_hidden()
    page.locator('[data-why="resend"]').hover()
    expect(tooltip).to_be_visible()
    expect(tooltip).to_contain_text("The project is not synced with the ERP.")


def test_a_read_only_user_sees_sub_jobs_without_any_button(
    page: Page, live_server: Any, demo: None, login: Any
) -> None:
    login("viewer")
    open_sub_jobs(page)
    expect(page.get_by_role("button", name="Add")).to_have_count(0)
    row(page, "02-000").get_by_role("link", name="View").click()
    expect(page.get_by_role("button", name="Send to ERP")).to_have_count(0)


def test_a_narrow_screen_still_shows_the_ribbon_and_buttons(
    page: Page, live_server: Any, demo: None, login: Any
) -> None:
    page.set_viewport_size({"width": 375, "height": 740})
    login("admin")
    open_sub_jobs(page)
    row(page, "02-000").get_by_role("link", name="View").click()
    expect(page.get_by_role("button", name="Send to ERP")).to_be_in_viewport()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375


def settled(page: Page) -> None:
    """htmx attaches a swapped-in row's triggers once the swap settles: keys pressed before
    that would meet a row that does not listen yet (a person is never that fast)."""
    page.wait_for_function(
        "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling, "
        ".htmx-added')"
    )


def test_renaming_and_changing_the_sub_job_id_by_keyboard_alone(
    page: Page, live_server: Any, demo: None, login: Any
) -> None:
    login("admin")
    open_sub_jobs(page)
    # Tab to the name cell, F2 opens the editor; the Sub Job ID is editable too.
    name = row(page, "02-000").locator("[data-name]")
    name.focus()
    expect(name).to_be_focused()
    page.keyboard.press("F2")
    editor = row(page, "02-000").get_by_label("Name of 02-000")
    expect(editor).to_be_focused()
    editor.fill("Sitework, revised")
    row(page, "02-000").get_by_label("Sub Job ID of 02-000").fill("02-010")
    editor.press("Enter")
    expect(row(page, "02-010").locator("[data-name]")).to_have_text("Sitework, revised")
    settled(page)
    # Enter on a focused name opens the editor as well; Escape cancels.
    cell = row(page, "02-010").locator("[data-name]")
    cell.focus()
    page.keyboard.press("Enter")
    expect(row(page, "02-010").get_by_label("Name of 02-010")).to_be_focused()
    page.keyboard.press("Escape")
    expect(row(page, "02-010").get_by_role("textbox")).to_have_count(0)
    settled(page)
    # The Edit button does the same, reached with Tab like any button.
    row(page, "02-010").get_by_role("link", name="Edit").click()
    expect(row(page, "02-010").get_by_label("Name of 02-010")).to_be_focused()
    sub_job = SubJob.objects.get(code="02-010")
    assert sub_job.name == "Sitework, revised"
