"""The webhook outbox: one row per event and subscription, written in the event's
transaction, POSTed by a worker after commit, retried by the sweeper.

It follows the email outbox (erpsync.outbox): `enqueue` writes the rows and queues their
delivery on commit; `deliver` claims a row with a lease (a second worker leaves it alone),
POSTs it outside any transaction and records the answer. A 2xx delivers it. Anything else (a
3xx, 4xx or 5xx, a timeout, a refused connection) is a failed try, retried after a doubling
backoff (WEBHOOK_BACKOFF_SECONDS up to WEBHOOK_BACKOFF_MAX_SECONDS) until
WEBHOOK_GIVE_UP_HOURS after the event: then the row has given up. 410 Gone gives up at once
and disables the subscription. A subscription whose tries have all failed, at least
WEBHOOK_DISABLE_AFTER_FAILURES of them over at least WEBHOOK_DISABLE_AFTER_HOURS, is disabled
too, and the company's ERP tool Admins are emailed (through the email outbox, in the same
transaction). Delivery is at least once: receivers dedupe on the event id.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from celery import shared_task
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from erpsync.outbox import doubling_backoff, enqueue_emails, free_of_leases
from projects.models import Company
from webhooks.http import Answer, post, signed_headers
from webhooks.models import OPEN_STATES, DeliveryState, WebhookDelivery, WebhookSubscription
from webhooks.selectors import admin_recipients

logger = logging.getLogger(__name__)

DISABLED_EMAIL = "webhook_disabled"
GONE = 410


def event_payload(
    *, event_id: uuid.UUID, event_type: str, created: datetime, company: Company, data: Any
) -> dict[str, Any]:
    return {
        "id": str(event_id),
        "type": event_type,
        "created": created.isoformat(),
        "company": company.slug,
        "data": data,
    }


def enqueue(
    *,
    subscriptions: Iterable[WebhookSubscription],
    event_type: str,
    company: Company,
    data: Any,
    created: datetime | None = None,
) -> list[WebhookDelivery]:
    """One row per subscription, all with the same event id and payload, written in the
    caller's transaction; their delivery is queued when it commits."""
    subscriptions = list(subscriptions)
    if not subscriptions:
        return []
    event_id = uuid.uuid4()
    payload = event_payload(
        event_id=event_id,
        event_type=event_type,
        created=created or timezone.now(),
        company=company,
        data=data,
    )
    rows = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            subscription=subscription, event_id=event_id, event_type=event_type, payload=payload
        )
        for subscription in subscriptions
    )
    # robust: a broker that cannot be reached is logged; the sweeper sends them later.
    transaction.on_commit(partial(queue_deliveries, [row.pk for row in rows]), robust=True)
    return rows


def enqueue_many(
    *,
    subscriptions: Sequence[WebhookSubscription],
    company: Company,
    events: Sequence[tuple[str, Any, datetime]],
) -> list[WebhookDelivery]:
    """enqueue for many events (event type, data, created) of one company to the same
    subscriptions: each event its own id and payload, as enqueue writes them, in one INSERT
    and one queueing on commit."""
    rows = []
    for event_type, data, created in events:
        event_id = uuid.uuid4()
        payload = event_payload(
            event_id=event_id, event_type=event_type, created=created, company=company, data=data
        )
        rows += [
            WebhookDelivery(
                subscription=subscription, event_id=event_id, event_type=event_type, payload=payload
            )
            for subscription in subscriptions
        ]
    if not rows:
        return []
    rows = WebhookDelivery.objects.bulk_create(rows)
    # One message from the request for all of them (deliver_webhooks fans them out).
    transaction.on_commit(partial(deliver_webhooks.delay, [row.pk for row in rows]), robust=True)
    return rows


def queue_deliveries(ids: list[int]) -> None:
    for pk in ids:
        deliver_webhook.delay(pk)


def body_of(row: WebhookDelivery) -> bytes:
    """The exact bytes POSTed, the same on every try: compact JSON with sorted keys."""
    return json.dumps(
        row.payload, sort_keys=True, separators=(",", ":"), cls=DjangoJSONEncoder
    ).encode("utf-8")


def backoff(tries: int) -> timedelta:
    """The wait after the `tries`-th failed try: 1, 2, 4… minutes, then hourly (defaults)."""
    return doubling_backoff(
        tries, first=settings.WEBHOOK_BACKOFF_SECONDS, most=settings.WEBHOOK_BACKOFF_MAX_SECONDS
    )


def gives_up_at(row: WebhookDelivery) -> datetime:
    return row.created_at + timedelta(hours=settings.WEBHOOK_GIVE_UP_HOURS)


# ----- a worker's delivery ------------------------------------------------------------------


def _claim(pk: int) -> WebhookDelivery | str:
    now = timezone.now()
    with transaction.atomic():
        row = (
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("subscription")
            .filter(pk=pk)
            .first()
        )
        if row is None:
            return "busy"  # gone, or another worker holds the row this instant
        if row.state not in OPEN_STATES:
            return "already"
        if row.lease_until is not None and row.lease_until > now:
            return "leased"
        if not row.subscription.active:
            return "disabled"  # kept: sent once the subscription is enabled again
        if row.next_try_at > now:
            return "not_due"
        if now >= gives_up_at(row):
            row.state, row.last_error = DeliveryState.GAVE_UP, _too_late()
            row.save(update_fields=["state", "last_error"])
            return "gave_up"
        row.tries += 1
        row.lease_until = now + timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS)
        row.last_try_at = now
        row.save(update_fields=["tries", "lease_until", "last_try_at"])
    return row


def _too_late() -> str:
    return f"Not delivered within {settings.WEBHOOK_GIVE_UP_HOURS} h of the event."


def deliver(pk: int) -> str:
    """POST one delivery; returns 'delivered', 'retrying' or 'gave_up', or why it was not
    tried: 'already', 'leased', 'busy', 'disabled', 'not_due'. Safe to run twice."""
    claimed = _claim(pk)
    if isinstance(claimed, str):
        return claimed
    row = claimed
    subscription = row.subscription
    body = body_of(row)
    headers = signed_headers(
        secrets=subscription.secrets(),
        body=body,
        event_id=str(row.event_id),
        event_type=row.event_type,
    )
    answer = post(subscription.url, body, headers, settings.WEBHOOK_TIMEOUT_SECONDS)
    return _record(row, answer)


def _record(row: WebhookDelivery, answer: Answer) -> str:
    now = timezone.now()
    fields: dict[str, Any] = {
        "lease_until": None,
        "last_status": answer.status,
        "last_response": answer.body,
        "last_error": "" if answer.ok else (answer.error or f"Answered {answer.status}."),
        "last_duration_ms": answer.duration_ms,
    }
    if answer.ok:
        fields |= {"state": DeliveryState.DELIVERED, "delivered_at": now}
        with transaction.atomic():
            WebhookDelivery.objects.filter(pk=row.pk).update(**fields)
            WebhookSubscription.objects.filter(
                pk=row.subscription_id, consecutive_failures__gt=0
            ).update(consecutive_failures=0, failing_since=None)
        return "delivered"

    next_try = now + backoff(row.tries)
    gone = answer.status == GONE
    gave_up = gone or next_try >= gives_up_at(row)
    if gave_up:
        fields["state"] = DeliveryState.GAVE_UP
        if not gone:
            fields["last_error"] += " " + _too_late()
    else:
        fields |= {"state": DeliveryState.FAILED, "next_try_at": next_try}
    with transaction.atomic():
        WebhookDelivery.objects.filter(pk=row.pk).update(**fields)
        subscription = (
            WebhookSubscription.objects.select_for_update()
            .select_related("company")
            .filter(pk=row.subscription_id)
            .first()
        )
        if subscription is not None:
            _count_failure(subscription, now, gone=gone)
    logger.warning(
        "Webhook delivery %s (%s) to subscription %s failed on try %s: %s",
        row.pk,
        row.event_type,
        row.subscription_id,
        row.tries,
        fields["last_error"],
    )
    return "gave_up" if gave_up else "retrying"


def _count_failure(subscription: WebhookSubscription, now: datetime, *, gone: bool) -> None:
    subscription.consecutive_failures += 1
    subscription.failing_since = subscription.failing_since or now
    update = ["consecutive_failures", "failing_since"]
    reason = ""
    if gone:
        reason = "The receiver answered 410 Gone: it no longer wants these events."
    elif subscription.consecutive_failures >= settings.WEBHOOK_DISABLE_AFTER_FAILURES and (
        now - subscription.failing_since >= timedelta(hours=settings.WEBHOOK_DISABLE_AFTER_HOURS)
    ):
        reason = (
            f"{subscription.consecutive_failures} tries in a row failed, since "
            f"{subscription.failing_since:%Y-%m-%d %H:%M} UTC."
        )
    if reason and subscription.active:
        subscription.active = False
        subscription.disabled_at = now
        subscription.disabled_reason = reason
        update += ["active", "disabled_at", "disabled_reason"]
        _email_admins(subscription)
    subscription.save(update_fields=update)


def _email_admins(subscription: WebhookSubscription) -> None:
    enqueue_emails(
        kind=DISABLED_EMAIL,
        recipients=admin_recipients(subscription.company),
        company=subscription.company,
        payload={
            "subscription": subscription.pk,
            "url": subscription.url,
            "reason": subscription.disabled_reason,
        },
    )


# ----- the sweeper --------------------------------------------------------------------------


def due_deliveries(limit: int = 500) -> list[int]:
    """Rows the sweeper should queue: open, due, not held by a live lease, of an active
    subscription; a row never tried only once the sweep delay has passed (the task its commit
    queued is sending it)."""
    now = timezone.now()
    grace = now - timedelta(seconds=settings.WEBHOOK_SWEEP_SECONDS)
    return list(
        WebhookDelivery.objects.filter(
            state__in=OPEN_STATES, next_try_at__lte=now, subscription__active=True
        )
        .filter(Q(state=DeliveryState.FAILED) | Q(created_at__lte=grace))
        .filter(free_of_leases(now))
        .order_by("next_try_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def deliver_webhook(pk: int) -> str:
    """Deliver one webhook row (thin: webhooks.outbox.deliver does the work)."""
    return deliver(pk)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def deliver_webhooks(ids: list[int]) -> int:
    """Queue the delivery of many webhook rows (a bulk decision's): one message from the
    request, the per-row tasks published here; each row's lease and state keep its delivery
    single whatever repeats, and the sweeper finds a lost one."""
    queue_deliveries(ids)
    return len(ids)
