"""The company ERP Integrations tool, clicked through in Chromium by the accounting approver."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import Locator, Page, expect

from erpsync.services import erp_resend, erp_retrieve, erp_send
from invoicing.models import OwnerInvoice
from projects.models import Project
from subjobs.models import SubJob, SubJobStatus
from subjobs.services import sub_job_create, sub_job_update

pytestmark = pytest.mark.django_db(transaction=True)

TOOL = "/companies/demo-builders/erp/"


def open_tool(page: Page, live_server: Any, slug: str = "demo-builders") -> None:
    """From the home page, follow the company's ERP Integrations link."""
    page.goto(f"{live_server.url}/")
    page.locator(f'a[data-erp-tool][href="/companies/{slug}/erp/"]').click()
    expect(page.get_by_role("heading", level=1)).to_have_text("ERP Integrations")


def row(page: Page, title: str) -> Locator:
    return page.locator(f'tr[data-item="{title}"]')


def decided(page: Page, title: str) -> Locator:
    return page.locator(f'tr[data-decided="{title}"]')


def admin() -> Any:
    return get_user_model().objects.get(username="admin")


def sub_job(code: str) -> SubJob:
    return SubJob.objects.get(project__number="DB-100", code=code)


def send_new_sub_jobs(*codes: str) -> None:
    """More sub jobs of DB-100 waiting in Ready to Export, sent by the demo admin."""
    project = Project.objects.get(number="DB-100")
    for code in codes:
        item = sub_job_create(
            project=project,
            user=admin(),
            code=code,
            name=f"Division {code}",
            status=SubJobStatus.APPROVED,
        )
        erp_send(item=item, user=admin())


def open_sub_jobs(page: Page) -> None:
    page.get_by_role("link", name="DB-100 Riverside Medical Office").click()
    page.get_by_role("link", name="Admin").first.click()
    page.get_by_role("link", name="Sub Jobs").click()
    expect(page.get_by_role("heading", name="Sub Jobs", exact=True)).to_be_visible()


def only_http_errors(console_errors: list[str], status: int) -> bool:
    return bool(console_errors) and all(str(status) in error for error in console_errors)


def test_rejecting_a_sub_job_with_a_reason_sends_it_back_to_the_sender(
    page: Page, live_server: Any, demo: None, login: Any
) -> None:
    reason = "Use cost code 03-100 for cast-in-place concrete."
    login("approver")
    open_tool(page, live_server)
    expect(page).to_have_url(f"{live_server.url}{TOOL}sub_job/ready/")

    row(page, "sub job 03-000").locator("[data-decision=reject]").click()
    dialog = page.get_by_role("dialog", name="Reject sub job 03-000")
    expect(dialog).to_be_visible()
    dialog.get_by_role("textbox").fill(reason)
    dialog.get_by_role("button", name="Reject", exact=True).click()
    expect(decided(page, "sub job 03-000")).to_have_text("Sub job 03-000 rejected.")
    expect(row(page, "sub job 03-000")).to_have_count(0)

    page.reload()
    expect(page.locator("table[data-queue=ready]")).to_be_visible()
    expect(row(page, "sub job 03-000")).to_have_count(0)
    expect(page.locator("tr[data-decided]")).to_have_count(0)

    item = sub_job("03-000")
    assert item.erp_state == "rejected"
    assert item.erp_rejection_reason == reason

    with page.expect_navigation(url=f"{live_server.url}/login/"):
        page.get_by_role("button", name="Log out").click()
    login("admin")
    open_sub_jobs(page)
    page.locator('tr[data-sub-job="03-000"]').get_by_role("link", name="View").click()
    expect(page.locator("[data-erp-ribbon]")).to_have_attribute("data-erp-ribbon", "rejected")
    expect(page.locator("[data-rejection-reason]")).to_contain_text(reason)
    expect(page.locator("[data-rejection-reason]")).to_contain_text("Pat Approver")
    expect(page.get_by_role("button", name="Resend to ERP", exact=True)).to_be_enabled()
    expect(page.locator("[data-lock-banner]")).to_have_count(0)
    expect(page.get_by_role("link", name="Edit Sub Job ID and name")).to_be_visible()


def test_a_blank_rejection_reason_is_refused_and_the_item_stays_pending(
    page: Page, live_server: Any, demo: None, login: Any, console_errors: list[str]
) -> None:
    login("approver")
    open_tool(page, live_server)
    row(page, "sub job 03-000").locator("[data-decision=reject]").click()
    dialog = page.get_by_role("dialog", name="Reject sub job 03-000")
    dialog.get_by_role("textbox").fill("   ")
    dialog.get_by_role("button", name="Reject", exact=True).click()

    # The row comes back with its dialog open and the reason it was refused.
    dialog = page.get_by_role("dialog", name="Reject sub job 03-000")
    expect(dialog).to_be_visible()
    expect(dialog.locator("[data-reason-error]")).to_contain_text("Enter a reason")
    expect(decided(page, "sub job 03-000")).to_have_count(0)
    expect(row(page, "sub job 03-000")).to_have_attribute("data-state", "pending")
    # The browser logs the server's 422 refusal; that refusal is what this test wants.
    assert only_http_errors(console_errors, 422), console_errors
    console_errors.clear()

    item = sub_job("03-000")
    assert item.erp_state == "pending"
    assert item.erp_rejection_reason == ""


def test_accepting_an_owner_invoice_moves_it_to_exporting(
    page: Page, live_server: Any, demo: None, login: Any
) -> None:
    login("approver")
    open_tool(page, live_server)
    page.locator("[data-tab=owner_invoice]").click()
    expect(page.locator("[data-tab=owner_invoice]")).to_have_attribute("aria-current", "page")

    row(page, "owner invoice INV-003").locator("[data-decision=accept]").click()
    expect(decided(page, "owner invoice INV-003")).to_have_text("Owner invoice INV-003 accepted.")

    invoice = OwnerInvoice.objects.get(number="INV-003")
    assert invoice.erp_state == "accepted"
    assert invoice.erp_accepted_by is not None
    assert invoice.erp_accepted_by.username == "approver"

    page.locator("[data-filter=exporting]").click()
    expect(page.locator("table[data-queue=exporting]")).to_be_visible()
    expect(row(page, "owner invoice INV-003")).to_contain_text("Pat Approver")


def test_the_decided_row_names_the_invoice_number_as_written(
    page: Page, live_server: Any, demo: None, login: Any
) -> None:
    login("approver")
    open_tool(page, live_server)
    page.locator("[data-tab=owner_invoice]").click()
    row(page, "owner invoice INV-003").locator("[data-decision=accept]").click()
    expect(decided(page, "owner invoice INV-003")).to_have_text(
        "Owner invoice INV-003 accepted.", timeout=2_000
    )


def test_accepting_every_selected_row_at_once(
    page: Page, live_server: Any, demo: None, login: Any
) -> None:
    send_new_sub_jobs("10-000", "11-000", "12-000")
    login("approver")
    open_tool(page, live_server)
    boxes = page.locator("input[name=selected]")
    expect(boxes).to_have_count(4)
    for box in boxes.all():
        box.check()

    page.get_by_role("button", name="Accept selected").click()
    expect(page.locator(".messages li")).to_have_text("4 accepted")
    expect(page.locator(".messages li")).to_have_class("success")
    expect(page.locator("table[data-queue=ready] tr[data-item]")).to_have_count(0)

    codes = ["03-000", "10-000", "11-000", "12-000"]
    states = set(SubJob.objects.filter(code__in=codes).values_list("erp_state", flat=True))
    assert states == {"accepted"}


def test_a_bulk_accept_names_the_item_retrieved_meanwhile(
    page: Page, live_server: Any, demo: None, login: Any
) -> None:
    send_new_sub_jobs("10-000")
    login("approver")
    open_tool(page, live_server)
    page.get_by_role("checkbox", name="Select sub job 03-000").check()
    page.get_by_role("checkbox", name="Select sub job 10-000").check()

    # Meanwhile the sender takes 03-000 back.
    erp_retrieve(item=sub_job("03-000"), user=admin())

    page.get_by_role("button", name="Accept selected").click()
    message = page.locator(".messages li")
    expect(message).to_contain_text("1 accepted")
    expect(message).to_contain_text("sub job 03-000")
    expect(message).to_contain_text("already retrieved")
    expect(message).to_have_class("warning")

    assert sub_job("03-000").erp_state == "retrieved"
    assert sub_job("10-000").erp_state == "accepted"


def test_the_preview_of_a_resent_item_shows_what_changed_since_its_rejection(
    page: Page, live_server: Any, demo: None, login: Any
) -> None:
    item = sub_job_update(sub_job=sub_job("04-000"), user=admin(), name="Unit Masonry")
    erp_resend(item=item, user=admin())

    login("approver")
    open_tool(page, live_server)
    page.locator("[data-tab=sub_job]").click()
    page.locator("[data-filter=ready]").click()
    expect(row(page, "sub job 04-000")).to_contain_text("(version 2)")
    row(page, "sub job 04-000").get_by_role("link", name="Preview").click()

    since = page.locator("[data-since-rejection]")
    expect(since).to_be_visible()
    expect(since.locator("[data-earlier-reason]")).to_contain_text("is a division header")
    change = since.locator('tr[data-change="Name"]')
    expect(change.locator("del")).to_have_text("Masonry")
    expect(change.locator("ins")).to_have_text("Unit Masonry")

    # Accept sits at the top and at the bottom of the preview; either will do.
    page.get_by_role("button", name="Accept version 2").first.click()
    expect(page).to_have_url(f"{live_server.url}{TOOL}sub_job/ready/")
    expect(page.locator(".messages li.success")).to_have_text("Sub job 04-000 accepted.")
    expect(row(page, "sub job 04-000")).to_have_count(0)
    assert sub_job("04-000").erp_state == "accepted"


def test_accepting_a_version_that_changed_meanwhile_is_refused(
    page: Page, live_server: Any, demo: None, login: Any, console_errors: list[str]
) -> None:
    login("approver")
    open_tool(page, live_server)
    row(page, "sub job 03-000").get_by_role("link", name="Preview").click()
    accept = page.get_by_role("button", name="Accept version 1").first
    expect(accept).to_be_visible()

    # Meanwhile the sender retrieves it and sends it again: version 2.
    retrieved = erp_retrieve(item=sub_job("03-000"), user=admin())
    erp_send(item=retrieved, user=admin())

    accept.click()
    refusal = page.locator("[data-refusal]")
    expect(refusal).to_contain_text("Not done")
    expect(refusal).to_contain_text("changed since you opened it")
    expect(refusal).to_contain_text("version 1 is now 2")
    # The browser logs the server's 409 refusal; that refusal is what this test wants.
    assert only_http_errors(console_errors, 409), console_errors
    console_errors.clear()

    item = sub_job("03-000")
    assert item.erp_state == "pending"
    assert item.erp_version == 2


def test_retrying_a_failed_export_queues_it_again(
    page: Page, live_server: Any, demo: None, login: Any
) -> None:
    login("approver")
    open_tool(page, live_server)
    page.locator("[data-filter=failed]").click()
    failed = row(page, "sub job 08-000")
    expect(failed.locator("[data-erp-error]")).to_contain_text(
        "cost code 08-000 is closed for posting"
    )
    expect(failed.locator("[data-tries]")).to_have_text("1")

    failed.locator("[data-decision=retry]").click()
    expect(decided(page, "sub job 08-000")).to_have_text("Sub job 08-000 queued for export again.")
    assert sub_job("08-000").erp_state == "accepted"


def test_a_read_only_user_sees_the_queue_without_any_decision(
    page: Page, live_server: Any, demo: None, login: Any
) -> None:
    login("viewer")
    open_tool(page, live_server)
    expect(row(page, "sub job 03-000")).to_be_visible()
    expect(row(page, "sub job 03-000").get_by_role("link", name="Preview")).to_be_visible()
    expect(page.locator("[data-decision]")).to_have_count(0)
    expect(page.locator("input[name=selected]")).to_have_count(0)
    expect(page.get_by_role("button", name="Accept selected")).to_have_count(0)
    expect(page.get_by_role("button", name="Reject selected")).to_have_count(0)


def test_another_companys_approver_sees_only_their_own_company(
    page: Page, live_server: Any, demo: None, login: Any, console_errors: list[str]
) -> None:
    outsider = get_user_model().objects.get(username="outsider")
    erp_send(item=SubJob.objects.get(project__number="OC-1", code="01-000"), user=outsider)

    login("outsider")
    page.goto(f"{live_server.url}{TOOL}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
    expect(page.locator("tr[data-item]")).to_have_count(0)
    expect(page.locator("body")).not_to_contain_text("Demo Builders")
    # The browser logs the 404 of the page itself; that 404 is what this test wants.
    assert only_http_errors(console_errors, 404), console_errors
    console_errors.clear()

    open_tool(page, live_server, "other-co")
    expect(page.locator("header .company")).to_have_text("Other Co")
    expect(row(page, "sub job 01-000")).to_contain_text("OC-1")
    for filter_key in ("ready", "exporting", "failed", "synced"):
        page.locator(f"[data-filter={filter_key}]").click()
        expect(page.locator(f"table[data-queue={filter_key}]")).to_be_visible()
        expect(page.locator("table.erp-queue")).not_to_contain_text("DB-100")
    page.locator("[data-tab=owner_invoice]").click()
    for filter_key in ("ready", "exporting", "failed", "synced"):
        page.locator(f"[data-filter={filter_key}]").click()
        expect(page.locator(f"table[data-queue={filter_key}]")).to_be_visible()
        expect(page.locator("tr[data-item]")).to_have_count(0)
    expect(page.locator("body")).not_to_contain_text("Demo Builders")
