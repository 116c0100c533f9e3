"""The Webhooks settings clicked through in Chromium at 1366 and 390 px: an Admin adds a
webhook, copies its secret from the one page that shows it, sends a test event that a real
receiver verifies, and reads the delivery log; no page scrolls sideways."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.test_webhooks import Receiver, receiver  # noqa: F401 - the receiver fixture
from webhooks.models import WebhookDelivery, WebhookSubscription
from webhooks.outbox import deliver

pytestmark = pytest.mark.django_db(transaction=True)

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
WIDTHS = {"desktop": (1366, 768), "phone": (390, 844)}


def overflow(page: Page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def fits(page: Page, name: str) -> None:
    """Nothing wider than the window, else the element that sticks out furthest; and a
    screenshot under var/screenshots/<width>/ for people to look at (not committed)."""
    size = page.viewport_size or {"width": 0}
    folder = SCREENSHOTS / str(size["width"])
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"webhooks-{name}.png"), full_page=True)
    extra = overflow(page)
    if extra > 0:
        culprit = page.evaluate(
            """() => {
                let worst = null, right = window.innerWidth;
                for (const el of document.querySelectorAll('body *')) {
                    const r = el.getBoundingClientRect();
                    if (r.right > right + 1) { right = r.right; worst = el; }
                }
                return worst ? worst.outerHTML.slice(0, 300) + ' ' + Math.round(right) : '';
            }"""
        )
        raise AssertionError(f"{extra} px too wide: {culprit}")


@pytest.mark.parametrize("viewport", list(WIDTHS))
def test_an_admin_adds_a_webhook_sees_its_secret_once_and_sends_a_test_event(
    page: Page,
    live_server: Any,
    demo: None,
    login: Callable[..., None],
    receiver: Receiver,  # noqa: F811
    console_errors: list[str],
    viewport: str,
) -> None:
    width, height = WIDTHS[viewport]
    page.set_viewport_size({"width": width, "height": height})
    login("approver")  # an Admin of Demo Builders' ERP Integrations tool
    page.goto(f"{live_server.url}/companies/demo-builders/settings/")
    page.locator("[data-settings-tab=webhooks]").click()
    expect(page.locator("[data-no-webhooks]")).to_be_visible()
    fits(page, "list")

    # Refused without an event, with the reason at the field, the URL kept.
    long_url = receiver.url + "?" + "x" * 180
    page.get_by_label("URL").fill(long_url)
    page.get_by_role("button", name="Add webhook").click()
    expect(page.locator('[data-field-error="events"]')).to_contain_text("at least one event")
    expect(page.get_by_label("URL")).to_have_value(long_url)
    # The refusal answers 422 on purpose; the browser logs that status as an error.
    assert console_errors and all("422" in error for error in console_errors), console_errors
    console_errors.clear()
    fits(page, "refused")
    page.locator('[data-event="item.sent"] input').check()
    page.locator('[data-event="item.accepted"] input').check()
    page.get_by_role("button", name="Add webhook").click()

    secret = page.locator("[data-secret]")
    expect(secret).to_be_visible()
    subscription = WebhookSubscription.objects.get()
    assert secret.input_value() == subscription.secret
    receiver.secrets = [subscription.secret]
    fits(page, "secret")
    page.get_by_role("link", name=re.compile("I have copied it")).click()
    expect(page.locator("[data-webhook-status]")).to_have_text("Active")
    assert subscription.secret not in page.content()

    page.locator("button[data-send-test]").click()
    expect(page.locator(".messages")).to_contain_text("Test event queued")
    [row] = WebhookDelivery.objects.all()
    assert deliver(row.pk) == "delivered"  # what the worker does
    page.reload()
    delivery = page.locator(f'[data-delivery="{row.pk}"]')
    expect(delivery).to_have_attribute("data-state", "delivered")
    expect(delivery.locator("[data-response]")).to_contain_text("200")
    assert receiver.received[0].refusal == ""
    fits(page, "log")

    page.locator('[data-edit-webhook] [data-event="item.synced"] input').check()
    page.get_by_role("button", name="Save webhook").click()
    expect(page.locator(".messages")).to_contain_text("Webhook saved")
    subscription.refresh_from_db()
    assert subscription.events == ["item.sent", "item.accepted", "item.synced"]
