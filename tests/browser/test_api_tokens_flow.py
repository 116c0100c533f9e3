"""The API tokens page in Chromium, on a phone: create a token (shown once, with Copy), see it
in the list, revoke it after confirming; the page never scrolls sideways."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Dialog, Page, expect

from api.models import ApiToken

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = {"width": 390, "height": 844}
# Beside test_layout's screenshots, for people to look at (not committed).
SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots" / "390"


def fits(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0


def test_create_copy_and_revoke_a_token_on_a_phone(
    page: Page, live_server: Any, demo: None, login: Any
) -> None:
    page.set_viewport_size(PHONE)
    login("approver")
    page.get_by_role("link", name="API tokens").click()
    expect(page.get_by_role("heading", name="API tokens", exact=True)).to_be_visible()
    expect(page.get_by_text("You have no API tokens yet.")).to_be_visible()

    page.get_by_label("Name").fill("Month-end script with a rather long name for a phone")
    page.get_by_label("Read only").check()
    page.get_by_label("Expires", exact=True).select_option("30")
    page.get_by_role("button", name="Create token").click()

    value = page.locator("[data-token-value]")
    expect(value).to_be_visible()
    raw = value.input_value()
    assert re.fullmatch(r"esk_[0-9a-f]{12}_\S{40,}", raw)
    expect(page.get_by_text("This is the only time")).to_be_visible()
    page.get_by_role("button", name="Copy").click()
    expect(page.locator("[data-copy]")).not_to_have_text("Copy")
    row = page.locator("[data-token-list] tbody tr").first
    expect(row).to_contain_text("Read only")
    expect(row).to_contain_text(ApiToken.objects.get().shown_prefix)
    assert fits(page)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "approver-api-token-created.png"), full_page=True)

    page.reload()
    expect(page.locator("[data-token-value]")).to_have_count(0)
    assert raw not in page.content()

    messages: list[str] = []

    def confirm(dialog: Dialog) -> None:
        messages.append(dialog.message)
        dialog.accept()

    page.on("dialog", confirm)
    page.get_by_role("button", name="Revoke").click()
    expect(page.locator("[data-token-notice]")).to_contain_text("it no longer works")
    expect(page.locator("[data-token-list] tbody tr").first).to_contain_text("Revoked")
    assert messages and "stops working" in messages[0]
    assert ApiToken.objects.get().revoked_at is not None
    assert fits(page)
