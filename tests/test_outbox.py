"""The email outbox: rows written with the event, delivered at least once, never lost."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from erpsync.models import EmailStatus, OutboxEmail
from erpsync.outbox import deliver_email, message_id, unsent_emails
from erpsync.services import erp_reject, erp_send
from erpsync.tasks import sweep_emails
from tests.procs import RedisServer, publishing_to


def rows(kind: str) -> list[OutboxEmail]:
    return list(OutboxEmail.objects.filter(kind=kind).order_by("pk"))


def age(row: OutboxEmail, seconds: float) -> None:
    OutboxEmail.objects.filter(pk=row.pk).update(
        created_at=timezone.now() - timedelta(seconds=seconds)
    )


@pytest.mark.django_db
def test_the_rows_are_written_in_the_transaction_of_the_event(
    sub_job: Any, admin: Any, approver: Any
) -> None:
    erp_send(item=sub_job, user=admin)

    class Undo(Exception):
        pass

    with pytest.raises(Undo), transaction.atomic():
        erp_reject(item=sub_job, user=approver, reason="Wrong name")
        assert [r.recipient for r in rows("rejection")] == [admin.email]
        raise Undo
    assert rows("rejection") == []  # rolled back with the rejection itself

    erp_reject(item=sub_job, user=approver, reason="Wrong name")
    [row] = rows("rejection")
    assert (row.status, row.tries, row.event.action) == (EmailStatus.PENDING, 0, "reject")


@pytest.mark.django_db
def test_a_live_lease_is_left_alone_and_an_expired_one_is_taken_over(
    sub_job: Any, admin: Any, approver: Any, mailoutbox: list[Any]
) -> None:
    erp_send(item=sub_job, user=admin)
    erp_reject(item=sub_job, user=approver, reason="Wrong name")
    [row] = rows("rejection")
    # Another worker claimed it and is talking to the mail server.
    OutboxEmail.objects.filter(pk=row.pk).update(
        tries=1, lease_until=timezone.now() + timedelta(seconds=30)
    )
    assert deliver_email(row.pk) == "leased"
    assert mailoutbox == []

    # That worker died before marking it sent: once the lease runs out, it is sent again,
    # with the same Message-ID (at least once; mail clients collapse a duplicate).
    OutboxEmail.objects.filter(pk=row.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    assert deliver_email(row.pk) == "sent"
    [message] = mailoutbox
    assert message.extra_headers["Message-ID"] == message_id(row)
    row.refresh_from_db()
    assert (row.status, row.tries, row.lease_until) == (EmailStatus.SENT, 2, None)
    assert deliver_email(row.pk) == "already"


@pytest.mark.django_db
def test_the_sweeper_takes_unsent_rows_after_the_delay_and_when_due(
    settings: Any, sub_job: Any, admin: Any, approver: Any
) -> None:
    settings.ERPSYNC_EMAIL_SWEEP_SECONDS = 30
    erp_send(item=sub_job, user=admin)
    erp_reject(item=sub_job, user=approver, reason="Wrong name")
    [submission] = rows("submission")
    [rejection] = rows("rejection")
    assert unsent_emails() == []  # fresh: the task their commit queued is on it

    age(submission, 31)
    age(rejection, 31)
    OutboxEmail.objects.filter(pk=rejection.pk).update(
        next_try_at=timezone.now() + timedelta(minutes=5)  # a failed send waiting for its retry
    )
    assert unsent_emails() == [submission.pk]
    deliver_email(submission.pk)
    assert unsent_emails() == []


@pytest.mark.django_db
def test_after_the_last_try_an_email_is_failed_and_erp_status_shows_it(
    settings: Any, company: Any, sub_job: Any, admin: Any, approver: Any
) -> None:
    settings.ERPSYNC_EMAIL_MAX_TRIES = 2
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": 1, "timeout": 2},
        }
    }
    erp_send(item=sub_job, user=admin)
    erp_reject(item=sub_job, user=approver, reason="Wrong name")
    [row] = rows("rejection")

    assert deliver_email(row.pk) == "retrying"
    row.refresh_from_db()
    assert row.status == EmailStatus.PENDING and row.next_try_at > timezone.now()
    assert deliver_email(row.pk) == "failed"
    row.refresh_from_db()
    assert row.status == EmailStatus.FAILED and row.tries == 2 and row.last_error

    out = StringIO()
    call_command("erp_status", "--company", company.slug, "--json", stdout=out)
    [entry] = json.loads(out.getvalue())["companies"]
    assert entry["emails"]["failed"]["count"] == 1
    [failed] = entry["emails"]["failed"]["oldest"]
    assert (failed["kind"], failed["to"], failed["tries"]) == ("rejection", admin.email, 2)
    assert entry["emails"]["unsent"]["count"] == 1  # the submission email, never delivered
    text = StringIO()
    call_command("erp_status", "--company", company.slug, stdout=text)
    assert "Failed emails (tries used up) (1" in text.getvalue()
    assert admin.email in text.getvalue()


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.mark.django_db(transaction=True)
def test_an_email_whose_publish_failed_while_redis_was_down_is_sent_after_it_returns(
    settings: Any,
    sub_job: Any,
    admin: Any,
    approver: Any,
    mailoutbox: list[Any],
    own_redis: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The defect: a reject made while the broker was unreachable succeeded, but its email was
    never sent, even after Redis returned. Now the row waits in the outbox for the sweeper."""
    settings.ERPSYNC_EMAIL_SWEEP_SECONDS = 0
    with publishing_to(own_redis.url):
        erp_send(item=sub_job, user=admin)
        own_redis.stop()
        # The commit succeeds; queueing the email's delivery fails and is only logged.
        caplog.clear()
        erp_reject(item=sub_job, user=approver, reason="Wrong name")
        assert "Error calling" in caplog.text and "_queue_delivery" in caplog.text
        sub_job.refresh_from_db()
        assert sub_job.erp_state == "rejected"
        [row] = rows("rejection")
        assert row.status == EmailStatus.PENDING and mailoutbox == []

        own_redis.start()
        # Beat's next sweep queues it; a worker delivers it (here: in this process).
        assert sweep_emails() >= 1
        assert deliver_email(row.pk) == "sent"
    [message] = [m for m in mailoutbox if m.to == [admin.email]]
    assert message.subject.startswith("Rejected: sub job")
