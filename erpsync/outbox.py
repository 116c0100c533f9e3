"""The email outbox: every email is a row written in the transaction that caused it.

`enqueue_emails` writes the rows (one per recipient) and, once the transaction commits,
queues their delivery. `deliver_email` claims a row with a lease, builds the message through
the renderer registered for its kind (outside any transaction), sends it and marks it sent.
A failed send gives the claim back with a backoff; the sweeper (`unsent_emails`, run by beat)
delivers what is still unsent after ERPSYNC_EMAIL_SWEEP_SECONDS. Delivery is at least once,
with one Message-ID per row for every try.

The core knows no email of its own: apps register renderers (`register_renderer`) in their
AppConfig.ready().
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from erpsync.mail import KIND_HEADER
from erpsync.models import EmailStatus, ErpEvent, OutboxEmail

logger = logging.getLogger(__name__)

Renderer = Callable[[OutboxEmail], EmailMultiAlternatives | None]
_renderers: dict[str, Renderer] = {}
# Longest error text kept on a row.
ERROR_LIMIT = 1000


def register_renderer(kind: str, renderer: Renderer) -> None:
    """`renderer(row)` builds the email of `kind` for `row.recipient`, or None when there is
    nothing to send any more (the row is then marked sent with a note)."""
    _renderers[kind] = renderer


def renderer_for(kind: str) -> Renderer:
    try:
        return _renderers[kind]
    except KeyError:
        raise LookupError(f"No email renderer for {kind!r}: register one.") from None


@dataclass(frozen=True)
class Recipient:
    address: str
    user: Any = None


def _rows(
    kind: str,
    recipients: Iterable[Recipient],
    company: Any,
    event: ErpEvent | None,
    payload: dict[str, Any] | None,
    key: Callable[[Recipient], str] | None,
) -> list[OutboxEmail]:
    """One row per recipient, no duplicate addresses."""
    rows: list[OutboxEmail] = []
    seen: set[str] = set()
    for recipient in recipients:
        address = (recipient.address or "").strip()
        if not address or address.lower() in seen:
            continue
        seen.add(address.lower())
        rows.append(
            OutboxEmail(
                kind=kind,
                key=key(recipient) if key else None,
                company=company,
                event=event,
                recipient=address,
                user=recipient.user,
                payload=payload or {},
            )
        )
    return rows


def enqueue_emails(
    *,
    kind: str,
    recipients: Iterable[Recipient],
    company: Any = None,
    event: ErpEvent | None = None,
    payload: dict[str, Any] | None = None,
    key: Callable[[Recipient], str] | None = None,
    deliver: bool = True,
) -> list[OutboxEmail]:
    """Write one row per recipient (no duplicate addresses) in the caller's transaction and
    queue their delivery when it commits (unless `deliver` is False: the caller delivers them
    itself, and the sweeper is the safety net). With `key`, a recipient whose key exists
    already gets no second row (e.g. a daily summary run twice), and the rows returned are
    those of the keys given that are still unsent."""
    rows = _rows(kind, recipients, company, event, payload, key)
    if not rows:
        return []
    if key is None:
        created = OutboxEmail.objects.bulk_create(rows)
    else:
        # A concurrent run may insert the same key: the database keeps one row.
        OutboxEmail.objects.bulk_create(rows, ignore_conflicts=True)
        created = list(
            OutboxEmail.objects.filter(key__in=[r.key for r in rows], status=EmailStatus.PENDING)
        )
    if deliver and created:
        # robust: a broker that cannot be reached is logged; the sweeper sends them later.
        transaction.on_commit(partial(_queue_delivery, [r.pk for r in created]), robust=True)
    return created


def enqueue_event_emails(emails: Iterable[tuple[str, Iterable[Recipient], Any, ErpEvent]]) -> None:
    """enqueue_emails for many events at once (kind, recipients, company, event): the same
    rows, in one INSERT, and their delivery queued in one message when the transaction
    commits (send_outbox_emails)."""
    rows = [
        r
        for kind, to, company, event in emails
        for r in _rows(kind, to, company, event, None, None)
    ]
    if rows:
        ids = [row.pk for row in OutboxEmail.objects.bulk_create(rows)]
        transaction.on_commit(partial(send_outbox_emails.delay, ids), robust=True)


def _queue_delivery(ids: list[int]) -> None:
    for pk in ids:
        send_outbox_email.delay(pk)


def message_id(row: OutboxEmail) -> str:
    """Stable for the row: every try of one delivery carries the same Message-ID."""
    domain = urlsplit(settings.ERPSYNC_BASE_URL).hostname or "erpsync.localhost"
    return f"<erpsync.{row.kind}.{row.pk}@{domain}>"


def doubling_backoff(tries: int, *, first: float, most: float) -> timedelta:
    """The wait after the `tries`-th failed try of an outbox row: `first` seconds, doubling
    with each try, never more than `most`. Shared by every outbox (emails, webhooks)."""
    return timedelta(seconds=min(first * 2 ** min(max(tries - 1, 0), 30), most))


def free_of_leases(now: datetime) -> Q:
    """Outbox rows no worker holds: never leased, or their lease has run out."""
    return Q(lease_until__isnull=True) | Q(lease_until__lte=now)


def _claim(pk: int) -> OutboxEmail | str:
    now = timezone.now()
    with transaction.atomic():
        row = (
            OutboxEmail.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("event", "company")
            .filter(pk=pk)
            .first()
        )
        if row is None:
            return "busy"  # gone, or another worker holds the row this instant
        if row.status != EmailStatus.PENDING:
            return "already"
        if row.lease_until is not None and row.lease_until > now:
            return "leased"
        row.tries += 1
        row.lease_until = now + timedelta(seconds=settings.ERPSYNC_EMAIL_LEASE_SECONDS)
        row.save(update_fields=["tries", "lease_until"])
    return row


def deliver_email(pk: int) -> str:
    """Send one outbox row; returns 'sent', 'already', 'leased', 'busy', 'nothing',
    'retrying' or 'failed'. Safe to run twice: a sent row is never sent again, and a row
    another worker is sending (its lease) is left to it."""
    claimed = _claim(pk)
    if isinstance(claimed, str):
        return claimed
    row = claimed
    try:
        message = renderer_for(row.kind)(row)
        if message is not None:
            message.to = [row.recipient]
            message.extra_headers = {
                **message.extra_headers,
                "Message-ID": message_id(row),
                # Says which email this is (rejection, submission…), e.g. to name mail files.
                KIND_HEADER: row.kind,
            }
            message.send()
    except Exception as error:  # the mail server, a template, a renderer: all retried
        return _failed(row, error)
    OutboxEmail.objects.filter(pk=row.pk).update(
        status=EmailStatus.SENT,
        sent_at=timezone.now(),
        lease_until=None,
        last_error="" if message is not None else "Nothing to send any more.",
    )
    if message is None:
        return "nothing"
    logger.info("Sent the %s email %s to %s.", row.kind, row.pk, row.recipient)
    return "sent"


def _failed(row: OutboxEmail, error: Exception) -> str:
    text = (str(error) or type(error).__name__)[:ERROR_LIMIT]
    gave_up = row.tries >= settings.ERPSYNC_EMAIL_MAX_TRIES
    OutboxEmail.objects.filter(pk=row.pk).update(
        status=EmailStatus.FAILED if gave_up else EmailStatus.PENDING,
        lease_until=None,
        next_try_at=timezone.now() + doubling_backoff(row.tries, first=30, most=3600),
        last_error=text,
    )
    logger.warning(
        "The %s email %s to %s failed (try %s): %s",
        row.kind,
        row.pk,
        row.recipient,
        row.tries,
        text,
    )
    return "failed" if gave_up else "retrying"


def unsent_emails(limit: int = 500) -> list[int]:
    """Rows the sweeper should deliver: unsent, due, not held by a live lease, and older than
    the sweep delay (a fresh row is being delivered by the task its commit queued)."""
    now = timezone.now()
    grace = now - timedelta(seconds=settings.ERPSYNC_EMAIL_SWEEP_SECONDS)
    return list(
        OutboxEmail.objects.filter(
            status=EmailStatus.PENDING, next_try_at__lte=now, created_at__lte=grace
        )
        .filter(free_of_leases(now))
        .order_by("next_try_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def send_outbox_email(pk: int) -> str:
    """Deliver one outbox row (thin: erpsync.outbox.deliver_email does the work)."""
    return deliver_email(pk)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def send_outbox_emails(ids: list[int]) -> int:
    """Queue the delivery of many outbox rows (a bulk decision's): one message from the
    request, the per-row tasks published here. Delivery is once per row whatever repeats
    (the row's lease and state); a lost message is the sweeper's."""
    for pk in ids:
        send_outbox_email.delay(pk)
    return len(ids)
