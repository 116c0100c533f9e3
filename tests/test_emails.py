"""The emails an ERP event sets off: rejection, send/resend, failed export.

Events are made through the real services, whose listeners write one outbox row per
recipient; the rows are delivered directly (synchronously), the way a worker delivers them
after the transition commits.
"""

from __future__ import annotations

import socket
import time
from email import message_from_bytes
from email.message import Message
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.contrib.contenttypes.models import ContentType
from django.core.mail import EmailMultiAlternatives
from django.urls import reverse

from approvals.emails import item_url, rejection_email
from erpsync.models import EmailStatus, ErpEvent, OutboxEmail
from erpsync.outbox import deliver_email
from erpsync.services import erp_reject, erp_resend, erp_send
from projects.models import ToolLevel
from tests import factories as f

pytestmark = pytest.mark.django_db

BASE = "http://127.0.0.1:8000"


def last_event(item: Any, action: str) -> ErpEvent:
    return ErpEvent.objects.filter(
        content_type=ContentType.objects.get_for_model(item), object_id=item.pk, action=action
    ).latest("id")


def deliver(event: ErpEvent) -> list[str]:
    """Deliver the event's outbox emails as the worker does; the addresses they went to."""
    rows = OutboxEmail.objects.filter(event=event).order_by("pk")
    return [row.recipient for row in rows if deliver_email(row.pk) == "sent"]


def html_of(message: Any) -> str:
    assert isinstance(message, EmailMultiAlternatives)
    [(html, mimetype)] = [(a.content, a.mimetype) for a in message.alternatives]
    assert mimetype == "text/html"
    return html


def named(user: Any, first: str, last: str) -> Any:
    user.first_name, user.last_name = first, last
    user.save(update_fields=["first_name", "last_name"])
    return user


# ----- rejection ----------------------------------------------------------------------------


def test_it_emails_the_sender_and_the_creator_on_rejection(
    project: Any, sub_job: Any, admin: Any, approver: Any, mailoutbox: list[Any]
) -> None:
    project.name = "Riverside Medical Office"
    project.save()
    sender = f.member(project, admin=True)
    named(approver, "Pat", "Approver")
    erp_send(item=sub_job, user=sender)
    erp_reject(item=sub_job, user=approver, reason="Wrong cost code 01-100")

    sent_to = deliver(last_event(sub_job, "reject"))

    assert sent_to == [sender.email, admin.email]
    # One email per recipient, each with its own Message-ID.
    assert [m.to for m in mailoutbox] == [[sender.email], [admin.email]]
    assert len({m.extra_headers["Message-ID"] for m in mailoutbox}) == 2
    message = mailoutbox[0]
    assert message.subject == f"Rejected: sub job {sub_job.code} (Riverside Medical Office)"
    assert message.from_email == django_settings.DEFAULT_FROM_EMAIL
    url = f"{BASE}/projects/{project.pk}/sub-jobs/{sub_job.pk}/"
    for part in (message.body, html_of(message)):
        assert "Wrong cost code 01-100" in part
        assert "Pat Approver" in part
        assert "Edit it, then click Resend to ERP." in part
        assert url in part
    assert f'href="{url}"' in html_of(message)


def test_the_creator_who_sent_the_item_gets_one_copy(
    sub_job: Any, admin: Any, approver: Any, mailoutbox: list[Any]
) -> None:
    erp_send(item=sub_job, user=admin)
    erp_reject(item=sub_job, user=approver, reason="Wrong name")

    deliver(last_event(sub_job, "reject"))

    [message] = mailoutbox
    assert message.to == [admin.email]


def test_users_without_an_email_address_are_skipped(
    project: Any, sub_job: Any, admin: Any, approver: Any, mailoutbox: list[Any]
) -> None:
    sender = f.member(project, admin=True)
    sender.email = ""
    sender.save()
    erp_send(item=sub_job, user=sender)
    erp_reject(item=sub_job, user=approver, reason="Wrong name")

    deliver(last_event(sub_job, "reject"))

    [message] = mailoutbox
    assert message.to == [admin.email]


def test_no_rejection_email_when_nobody_has_an_address(
    sub_job: Any, admin: Any, approver: Any, mailoutbox: list[Any]
) -> None:
    admin.email = ""
    admin.save()
    erp_send(item=sub_job, user=admin)
    erp_reject(item=sub_job, user=approver, reason="Wrong name")
    event = last_event(sub_job, "reject")

    assert rejection_email(event) is None
    assert deliver(event) == []
    assert mailoutbox == []


def test_a_failed_export_rejected_without_a_comment_says_no_comment(
    sub_job: Any, approver: Any, drive: Any, mailoutbox: list[Any]
) -> None:
    drive(sub_job, "export_failed")  # the ERP said "Period closed"
    erp_reject(item=sub_job, user=approver, reason="")

    deliver(last_event(sub_job, "reject"))

    [message] = mailoutbox
    for part in (message.body, html_of(message)):
        assert "Reason: No comment" in part.replace("<strong>", "").replace("</strong>", "")
        assert "Period closed" in part


def test_owner_companies_get_their_terms(
    company: Any, project: Any, invoice: Any, admin: Any, approver: Any, mailoutbox: list[Any]
) -> None:
    company.pov_dictionary = "owner"
    company.save()
    erp_send(item=invoice, user=admin)
    erp_reject(item=invoice, user=approver, reason="Retainage should be 5%")

    deliver(last_event(invoice, "reject"))

    [message] = mailoutbox
    assert message.subject == f"Rejected: Funding Invoice {invoice.number} ({project.name})"
    assert "owner invoice" not in message.body.lower()
    assert f"Funding Invoice {invoice.number}" in message.body
    url = BASE + reverse("invoice_detail", args=[project.pk, invoice.pk])
    assert url in message.body
    assert item_url(invoice) == url


def test_general_contractors_keep_the_default_terms(
    project: Any, invoice: Any, admin: Any, approver: Any, mailoutbox: list[Any]
) -> None:
    erp_send(item=invoice, user=admin)
    erp_reject(item=invoice, user=approver, reason="Retainage should be 5%")

    deliver(last_event(invoice, "reject"))

    [message] = mailoutbox
    assert message.subject == f"Rejected: Owner Invoice {invoice.number} ({project.name})"


def test_links_start_with_the_configured_base_url(
    settings: Any, project: Any, sub_job: Any, admin: Any, approver: Any, mailoutbox: list[Any]
) -> None:
    settings.ERPSYNC_BASE_URL = "https://erp.example.com/"
    erp_send(item=sub_job, user=admin)
    erp_reject(item=sub_job, user=approver, reason="Wrong name")

    deliver(last_event(sub_job, "reject"))

    [message] = mailoutbox
    assert f"https://erp.example.com/projects/{project.pk}/sub-jobs/{sub_job.pk}/" in message.body


def test_what_users_typed_is_escaped_in_html_and_verbatim_in_text(
    sub_job: Any, admin: Any, approver: Any, mailoutbox: list[Any]
) -> None:
    erp_send(item=sub_job, user=admin)
    erp_reject(item=sub_job, user=approver, reason='Use <b>"01-100"</b> & resend')

    deliver(last_event(sub_job, "reject"))

    [message] = mailoutbox
    assert 'Use <b>"01-100"</b> & resend' in message.body
    assert "Use &lt;b&gt;&quot;01-100&quot;&lt;/b&gt; &amp; resend" in html_of(message)


def test_a_rejection_email_is_sent_once_when_the_task_runs_twice(
    sub_job: Any, admin: Any, approver: Any, mailoutbox: list[Any]
) -> None:
    erp_send(item=sub_job, user=admin)
    erp_reject(item=sub_job, user=approver, reason="Wrong name")
    event = last_event(sub_job, "reject")

    deliver(event)
    assert deliver(event) == []

    assert len(mailoutbox) == 1
    [row] = OutboxEmail.objects.filter(event=event)
    assert (row.recipient, row.status, row.tries) == (admin.email, EmailStatus.SENT, 1)


def test_an_event_writes_only_its_own_email_rows(
    sub_job: Any, admin: Any, approver: Any, mailoutbox: list[Any]
) -> None:
    erp_send(item=sub_job, user=admin)
    send_event = last_event(sub_job, "send")
    erp_reject(item=sub_job, user=approver, reason="Wrong name")

    assert list(OutboxEmail.objects.filter(event=send_event).values_list("kind", "recipient")) == [
        ("submission", approver.email)
    ]
    assert list(
        OutboxEmail.objects.filter(event=last_event(sub_job, "reject")).values_list(
            "kind", "recipient"
        )
    ) == [("rejection", admin.email)]
    assert not OutboxEmail.objects.filter(kind="export_failed").exists()
    assert deliver_email(10**9) == "busy"
    assert mailoutbox == []


# ----- send and resend ----------------------------------------------------------------------


def test_every_accounting_approver_is_emailed_on_send(
    company: Any, project: Any, sub_job: Any, admin: Any, approver: Any, mailoutbox: list[Any]
) -> None:
    second = f.approver(company, erp_tool_level=ToolLevel.ADMIN)
    f.approver(company, can_push_to_accounting=False)  # Standard, without the privilege
    f.approver(company, erp_tool_level=ToolLevel.READ_ONLY)  # the privilege, Read Only
    inactive = f.approver(company)
    inactive.is_active = False
    inactive.save()
    named(admin, "Alex", "Admin")
    erp_send(item=sub_job, user=admin)

    sent_to = deliver(last_event(sub_job, "send"))

    assert sorted(sent_to) == sorted([approver.email, second.email])
    assert sorted(m.to[0] for m in mailoutbox) == sorted([approver.email, second.email])
    assert all(len(m.to) == 1 for m in mailoutbox)
    message = mailoutbox[0]
    assert message.subject == f"Sent to ERP: sub job {sub_job.code} ({project.name})"
    url = BASE + reverse("erp_item", args=[company.slug, "sub_job", sub_job.pk])
    for part in (message.body, html_of(message)):
        assert f"sub job {sub_job.code}" in part
        assert "Alex Admin" in part
        assert project.name in part
        assert url in part


def test_a_resend_email_quotes_the_latest_rejection_before_it(
    company: Any, project: Any, sub_job: Any, admin: Any, approver: Any, mailoutbox: list[Any]
) -> None:
    erp_send(item=sub_job, user=admin)
    erp_reject(item=sub_job, user=approver, reason="First: wrong code")
    erp_resend(item=sub_job, user=admin)
    erp_reject(item=sub_job, user=approver, reason="Second: wrong name")
    erp_resend(item=sub_job, user=admin)

    deliver(last_event(sub_job, "resend"))

    [message] = mailoutbox
    assert message.subject == f"Resent to ERP: sub job {sub_job.code} ({project.name})"
    for part in (message.body, html_of(message)):
        assert "Second: wrong name" in part
        assert "First: wrong code" not in part


def test_an_earlier_resend_quotes_the_rejection_it_answered(
    sub_job: Any, admin: Any, approver: Any, mailoutbox: list[Any]
) -> None:
    erp_send(item=sub_job, user=admin)
    erp_reject(item=sub_job, user=approver, reason="First: wrong code")
    erp_resend(item=sub_job, user=admin)
    first_resend = last_event(sub_job, "resend")
    erp_reject(item=sub_job, user=approver, reason="Second: wrong name")

    deliver(first_resend)

    [message] = mailoutbox
    assert "First: wrong code" in message.body
    assert "Second: wrong name" not in message.body


def test_owner_companies_get_their_terms_on_send(
    company: Any, invoice: Any, admin: Any, approver: Any, mailoutbox: list[Any]
) -> None:
    company.pov_dictionary = "owner"
    company.save()
    erp_send(item=invoice, user=admin)

    deliver(last_event(invoice, "send"))

    [message] = mailoutbox
    assert message.subject.startswith(f"Sent to ERP: Funding Invoice {invoice.number} (")


def test_no_submission_email_without_approvers(
    company: Any, sub_job: Any, admin: Any, mailoutbox: list[Any]
) -> None:
    erp_send(item=sub_job, user=admin)

    assert deliver(last_event(sub_job, "send")) == []
    assert mailoutbox == []


# ----- failed export ------------------------------------------------------------------------


def test_the_approvers_get_the_erps_error_when_an_export_fails(
    company: Any, project: Any, sub_job: Any, approver: Any, drive: Any, mailoutbox: list[Any]
) -> None:
    drive(sub_job, "export_failed")

    assert deliver(last_event(sub_job, "mark_export_failed")) == [approver.email]

    [message] = mailoutbox
    assert message.subject == f"Export failed: sub job {sub_job.code} ({project.name})"
    url = BASE + reverse("erp_queue", args=[company.slug, "sub_job", "failed"])
    for part in (message.body, html_of(message)):
        assert "Period closed" in part
        assert "Failed to Export" in part
        assert url in part


def test_an_export_failed_email_is_sent_once_when_the_task_runs_twice(
    sub_job: Any, drive: Any, mailoutbox: list[Any]
) -> None:
    drive(sub_job, "export_failed")
    event = last_event(sub_job, "mark_export_failed")

    deliver(event)
    deliver(event)

    assert len(mailoutbox) == 1


def test_a_failed_send_stays_in_the_outbox_so_a_retry_sends_it(
    settings: Any, sub_job: Any, admin: Any, approver: Any, mailoutbox: list[Any]
) -> None:
    erp_send(item=sub_job, user=admin)
    erp_reject(item=sub_job, user=approver, reason="Wrong name")
    event = last_event(sub_job, "reject")
    locmem = settings.MAILERS
    settings.MAILERS = smtp_mailers(closed_port())

    assert deliver(event) == []
    [row] = OutboxEmail.objects.filter(event=event)
    assert row.status == EmailStatus.PENDING and row.tries == 1
    assert "Connection refused" in row.last_error

    settings.MAILERS = locmem
    assert deliver(event) == [admin.email]
    assert len(mailoutbox) == 1
    row.refresh_from_db()
    assert row.status == EmailStatus.SENT and row.tries == 2


# ----- over real SMTP -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


closed_port = free_port  # nothing listens on a port just released


def smtp_mailers(port: int) -> dict[str, Any]:
    return {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 5},
        }
    }


class Inbox:
    """An aiosmtpd handler keeping what the server received."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], Message]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content)))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server() -> Any:
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller.port, inbox
    finally:
        controller.stop()


def test_the_rejection_email_goes_out_over_real_smtp(
    settings: Any, smtp_server: Any, project: Any, sub_job: Any, admin: Any, approver: Any
) -> None:
    port, inbox = smtp_server
    settings.MAILERS = smtp_mailers(port)
    sender = f.member(project, admin=True)
    erp_send(item=sub_job, user=sender)
    erp_reject(item=sub_job, user=approver, reason="Wrong cost code")

    deliver(last_event(sub_job, "reject"))

    deadline = time.monotonic() + 5
    while len(inbox.received) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    [(recipients, message), (second, _)] = inbox.received
    assert (recipients, second) == ([sender.email], [admin.email])
    first_row = OutboxEmail.objects.filter(kind="rejection").earliest("pk")
    assert message["Message-ID"] == f"<erpsync.rejection.{first_row.pk}@127.0.0.1>"
    assert message["Subject"] == f"Rejected: sub job {sub_job.code} ({project.name})"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message.get_content_type() == "multipart/alternative"
    [text, html] = message.get_payload()
    assert "Wrong cost code" in text.get_payload(decode=True).decode()
    assert html.get_content_type() == "text/html"
