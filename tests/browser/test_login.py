"""Logging in through the real login form, in Chromium, against the live server."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_user_logs_in_and_sees_their_projects(
    page: Page, live_server: Any, demo: None, login: Any
) -> None:
    login("admin")

    assert page.url == f"{live_server.url}/"
    expect(page.get_by_role("heading", name="Demo Builders")).to_be_visible()
    expect(page.get_by_role("link", name="DB-100 Riverside Medical Office")).to_be_visible()


def test_a_wrong_password_is_refused(page: Page, live_server: Any, demo: None) -> None:
    page.goto(f"{live_server.url}/login/")
    page.locator("#id_username").fill("admin")
    page.locator("#id_password").fill("not-the-password")
    page.get_by_role("button", name="Log in").click()

    expect(page.get_by_text("Please enter a correct username and password.")).to_be_visible()
    assert page.url == f"{live_server.url}/login/"
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
