"""Deciding from an email in the browser: the sender sends a sub job, the submission email is
written to a mail file, and the approver follows its "Review and accept" link, logs in,
confirms on a phone-sized page, and the sub job is accepted."""

from __future__ import annotations

import re
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from erpsync.config import FILE_BACKEND
from erpsync.models import ErpEvent, OutboxEmail
from erpsync.outbox import deliver_email
from subjobs.models import SubJob

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = {"width": 390, "height": 844}


def read_eml(path: Path) -> EmailMessage:
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def no_sideways_scroll(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width} px wide at {PHONE['width']} px"


def test_the_approver_accepts_from_the_link_in_the_submission_email(
    page: Page,
    live_server: Any,
    demo: None,
    login: Any,
    settings: Any,
    tmp_path: Path,
    console_errors: list[str],
) -> None:
    mail_dir = tmp_path / "mail"
    settings.MAILERS = {"default": {"BACKEND": FILE_BACKEND, "OPTIONS": {"file_path": mail_dir}}}
    settings.ERPSYNC_BASE_URL = live_server.url
    already = set(OutboxEmail.objects.values_list("pk", flat=True))

    # The sender sends 02-000 from its page.
    login("admin")
    sub_job = SubJob.objects.get(project__number="DB-100", code="02-000")
    page.goto(f"{live_server.url}{sub_job.get_absolute_url()}")
    page.get_by_role("button", name="Send to ERP").click()
    expect(page.locator("[data-erp-ribbon]")).to_have_attribute("data-erp-ribbon", "pending")
    page.get_by_role("button", name="Log out").click()

    # A worker delivers the submission emails (the file backend writes one file each).
    rows = OutboxEmail.objects.filter(kind="submission").exclude(pk__in=already)
    assert {row.recipient for row in rows} == {"approver@example.com", "controller@example.com"}
    for row in rows:
        assert deliver_email(row.pk) == "sent"
    [eml] = mail_dir.glob("*_submission_approver@example.com.eml")
    message = read_eml(eml)
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    assert "sub job 02-000" in text
    [link] = re.findall(r"Review and accept: (\S+)", text)
    assert link.startswith(f"{live_server.url}/email-links/")

    # The approver opens it on a phone, logs in, and lands on the confirm page.
    page.set_viewport_size(PHONE)
    page.goto(link)
    expect(page).to_have_url(re.compile(r"/login/\?next="))
    page.locator("#id_username").fill("approver")
    page.locator("#id_password").fill("erpsync-demo")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("Accept sub job 02-000?")
    expect(page.locator("[data-item-summary]")).to_contain_text("version 1")
    expect(page.locator("dd[data-field]").first).to_be_visible()
    no_sideways_scroll(page)
    assert SubJob.objects.get(pk=sub_job.pk).erp_state == "pending"  # opening decided nothing

    page.get_by_role("button", name="Accept version 1").click()

    expect(page.locator("ul.messages")).to_have_text("Sub job 02-000 accepted.")
    expect(page.locator("[data-erp-ribbon]")).to_have_attribute("data-erp-ribbon", "accepted")
    item = SubJob.objects.get(pk=sub_job.pk)
    assert item.erp_state == "accepted"
    assert item.erp_accepted_by is not None and item.erp_accepted_by.username == "approver"
    assert ErpEvent.objects.filter(object_id=item.pk, action="accept").count() == 1

    # The link works once: opened again, it says who used it.
    page.goto(link)
    expect(page.locator("[data-refusal]")).to_contain_text(
        "This link was already used: Accepted by Pat Approver at "
    )
    expect(
        page.get_by_role("link", name="Open sub job 02-000 in the ERP Integrations tool")
    ).to_be_visible()
    no_sideways_scroll(page)
    # Chromium logs the page's 409 as a failed load: expected here.
    assert len(console_errors) == 1 and "status of 409" in console_errors[0]
    console_errors.clear()
