"""Accounts in Chromium: a user who is not staff changes their password; a lockout page."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.django_db(transaction=True)

NEW_PASSWORD = "viewer-says-hello-2026"
PHONE = {"width": 390, "height": 844}


def test_a_user_who_is_not_staff_changes_their_password_on_a_phone(
    page: Page, live_server: Any, demo: None, login: Any
) -> None:
    page.set_viewport_size(PHONE)
    login("viewer")

    page.get_by_role("link", name="Change password").click()
    expect(page.get_by_role("heading", name="Change your password")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    expect(page.get_by_role("button", name="Log out")).to_be_in_viewport()

    page.get_by_label("Current password").fill("erpsync-demo")
    page.get_by_label("New password", exact=True).fill("password1234")
    page.get_by_label("New password again").fill("password1234")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_text("This password is too common.")).to_be_visible()

    page.get_by_label("Current password").fill("erpsync-demo")
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("heading", name="Password changed")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    login("viewer", NEW_PASSWORD)
    expect(page.get_by_role("heading", name="Demo Builders")).to_be_visible()


def test_too_many_wrong_passwords_show_the_lockout_page(
    page: Page, live_server: Any, demo: None, console_errors: list[str]
) -> None:
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/login/")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        page.locator("#id_username").fill("approver")
        page.locator("#id_password").fill("not-the-password")
        with page.expect_navigation():
            page.get_by_role("button", name="Log in").click()

    expect(page.get_by_role("heading", name="Account locked")).to_be_visible()
    expect(page.get_by_text("locked for 15 minutes")).to_be_visible()
    expect(page.get_by_text("ask an erpsync administrator")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    # Chromium logs the 429 of the page itself as a console error; that one is expected.
    assert console_errors and all("status of 429" in e for e in console_errors)
    console_errors.clear()
