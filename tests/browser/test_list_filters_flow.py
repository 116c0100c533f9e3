"""Search, filters, sort and CSV in Chromium: the Ready to Export queue and the Sub Jobs list,
at 1366 px and at 390 px (issue 11, item 2)."""

from __future__ import annotations

import csv
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from subjobs.models import SubJob
from tests.browser.test_approvals_flow import (
    TOOL,
    only_http_errors,
    open_sub_jobs,
    open_tool,
    row,
    send_new_sub_jobs,
)

pytestmark = pytest.mark.django_db(transaction=True)


def query_of(page: Page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def ready_rows(page: Page) -> list[str]:
    return page.locator("table[data-queue=ready] tr[data-item]").evaluate_all(
        "rows => rows.map(r => r.dataset.item)"
    )


def test_searching_and_filtering_the_ready_to_export_queue(
    page: Page, live_server: Any, demo: None, login: Any, console_errors: list[str]
) -> None:
    send_new_sub_jobs("10-000", "11-000", "12-000")
    # The demo's own pending sub job was sent three days ago.
    SubJob.objects.filter(project__number="DB-100", code="03-000").update(
        erp_sent_at=timezone.now() - timedelta(days=3)
    )
    login("approver")
    open_tool(page, live_server)
    expect(page.locator("table[data-queue=ready] tr[data-item]")).to_have_count(4)

    page.get_by_role("searchbox", name="Search").fill("division 11")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("table[data-queue=ready] tr[data-item]")).to_have_count(1)
    expect(row(page, "sub job 11-000")).to_be_visible()
    assert query_of(page)["q"] == ["division 11"]
    expect(page.locator("[data-list-summary]")).to_contain_text("1 of 4 match")
    # The tab keeps the unfiltered count.
    expect(page.locator("[data-count=sub_job]")).to_have_text("4")

    page.reload()
    expect(page.get_by_role("searchbox", name="Search")).to_have_value("division 11")
    assert ready_rows(page) == ["sub job 11-000"]

    # More filters: a project and a day range, with the search cleared.
    page.get_by_role("searchbox", name="Search").fill("")
    page.locator("summary", has_text="Filters").click()
    page.get_by_label("Project", exact=True).select_option(label="DB-100 Riverside Medical Office")
    today = timezone.localdate().isoformat()
    page.get_by_label("Sent from", exact=True).fill(today)
    page.get_by_label("Sent to", exact=True).fill(today)
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("table[data-queue=ready] tr[data-item]")).to_have_count(3)
    assert query_of(page)["sent_from"] == [today]
    expect(page.locator("details.more-filters")).to_have_attribute("open", "")

    # Sort by the Item heading, then the other way; the filters stay.
    page.locator("th a[data-sort=item]").click()
    expect(page.locator("th[aria-sort=ascending] a[data-sort=item]")).to_be_visible()
    page.locator("th a[data-sort=item]").click()
    expect(page.locator("th[aria-sort=descending] a[data-sort=item]")).to_be_visible()
    assert ready_rows(page) == ["sub job 12-000", "sub job 11-000", "sub job 10-000"]
    assert query_of(page)["sort"] == ["-item"] and query_of(page)["sent_to"] == [today]

    # An unreadable filter in a shared link: the reason at its field, no rows, no 500.
    page.goto(f"{live_server.url}{TOOL}sub_job/ready/?sent_from=2026-13-40")
    expect(page.locator("[data-error-for=sent_from]")).to_contain_text("Enter a valid date")
    expect(page.locator("tr[data-item]")).to_have_count(0)
    # The browser logs the page's 400; that refusal is what this step wants.
    assert only_http_errors(console_errors, 400), console_errors
    console_errors.clear()


def test_the_csv_download_matches_the_filtered_view(
    page: Page, live_server: Any, demo: None, login: Any
) -> None:
    send_new_sub_jobs("10-000", "11-000", "12-000")
    login("approver")
    open_tool(page, live_server)
    page.get_by_role("searchbox", name="Search").fill("division")
    page.get_by_role("button", name="Apply").click()
    page.locator("th a[data-sort=item]").click()
    page.locator("th a[data-sort=item]").click()
    expect(page.locator("th[aria-sort=descending]")).to_be_visible()
    shown = [title.removeprefix("sub job ") for title in ready_rows(page)]
    assert shown == ["12-000", "11-000", "10-000"]

    with page.expect_download() as info:
        page.get_by_role("link", name="Download CSV").click()
    download = info.value
    assert download.suggested_filename.startswith("demo-builders-sub_job-ready-filtered-")
    with open(download.path(), newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert [r[rows[0].index("Sub Job ID")] for r in rows[1:]] == shown
    assert {r[rows[0].index("Sent by")] for r in rows[1:]} == {"Alex Admin"}


def test_searching_the_sub_jobs_list(page: Page, live_server: Any, demo: None, login: Any) -> None:
    login("admin")
    open_sub_jobs(page)
    codes = page.locator("table.sub-jobs tr[data-sub-job]")
    expect(codes).to_have_count(8)
    page.get_by_role("searchbox", name="Search").fill("MASONRY")
    page.get_by_role("searchbox", name="Search").press("Enter")
    expect(codes).to_have_count(1)
    expect(page.locator('tr[data-sub-job="04-000"]')).to_be_visible()
    assert query_of(page)["q"] == ["MASONRY"]
    page.reload()
    expect(codes).to_have_count(1)

    page.get_by_role("link", name="Clear").click()
    expect(codes).to_have_count(8)
    page.locator("summary", has_text="Filters").click()
    page.get_by_label("ERP state", exact=True).select_option(label="Synced")
    page.get_by_role("button", name="Apply").click()
    expect(codes).to_have_count(1)
    expect(page.locator('tr[data-sub-job="07-000"]')).to_be_visible()
    assert query_of(page)["erp_state"] == ["synced"]

    with page.expect_download() as info:
        page.get_by_role("link", name="Download CSV").click()
    with open(info.value.path(), newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert [r[0] for r in rows[1:]] == ["07-000"]


@pytest.mark.parametrize("width", [390, 1366])
def test_the_filter_bar_fits_the_screen(
    page: Page, live_server: Any, demo: None, login: Any, width: int
) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    login("approver")
    open_tool(page, live_server)
    page.locator("summary", has_text="Filters").click()
    search = page.get_by_role("searchbox", name="Search")
    expect(search).to_be_visible()
    expect(page.get_by_label("Sent to", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Download CSV")).to_be_visible()
    # Nothing pushes the page sideways: wide tables scroll inside their .table-wrap.
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, overflow
    box = search.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width
    if width == 390:
        # Stacked: the date fields sit one under the other.
        first = page.get_by_label("Sent from", exact=True).bounding_box()
        second = page.get_by_label("Sent to", exact=True).bounding_box()
        assert first and second and second["y"] > first["y"] + first["height"] - 1
