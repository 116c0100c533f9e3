"""Writes of the webhook settings: subscribe, change, enable or disable, rotate the secret,
delete, send a test event.

Each service is one transaction that takes the company's row with select_for_update and
checks on the server that the user is an ERP tool Admin (companysettings.services.lock_company),
then the subscription's row, and writes an audit row on the Company naming the user and what
changed (erpsync.services.record_settings_event). Secrets never reach the audit row.
A subscription of another company is not found (the page answers 404).
"""

from __future__ import annotations

import secrets as random_secrets
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone

from companysettings.services import SettingsRefused, lock_company
from erpsync.adapters.base import url_problems
from erpsync.services import record_settings_event
from projects.models import Company
from webhooks.models import (
    OPEN_STATES,
    TEST_EVENT,
    URL_LIMIT,
    EventType,
    WebhookDelivery,
    WebhookSubscription,
)
from webhooks.outbox import enqueue, queue_deliveries

SECRET_PREFIX = "whsec_"
NO_EVENTS = "Choose at least one event."
HIDDEN = "***"


class SubscriptionNotFound(Exception):
    """No such subscription in this company: the page answers 404."""


@dataclass(frozen=True)
class NewSecret:
    """A subscription with the secret just made: shown once, never again."""

    subscription: WebhookSubscription
    secret: str


def new_secret() -> str:
    return SECRET_PREFIX + random_secrets.token_urlsafe(32)


def clean_url(url: Any) -> str:
    if not isinstance(url, str) or not url.strip():
        raise ValidationError({"url": "Enter the URL the events are POSTed to."})
    url = url.strip()
    if len(url) > URL_LIMIT:
        raise ValidationError({"url": f"The URL is longer than {URL_LIMIT} characters."})
    problems = url_problems(url, "URL")
    if not problems:
        try:
            URLValidator(schemes=["http", "https"])(url)
        except ValidationError:
            problems = [f"The URL {url!r} is not a valid http:// or https:// URL."]
    if problems:
        raise ValidationError({"url": problems})
    return url


def clean_events(events: Iterable[Any]) -> list[str]:
    chosen = {e for e in events if isinstance(e, str)}
    unknown = chosen - set(EventType.values)
    if unknown:
        raise ValidationError({"events": f"Unknown events: {', '.join(sorted(unknown))}."})
    if not chosen:
        raise ValidationError({"events": NO_EVENTS})
    return [e for e in EventType.values if e in chosen]  # in the page's order


def _summary(subscription: WebhookSubscription) -> str:
    return f"{subscription.url} ({', '.join(subscription.events)})"


def _audit(locked: Company, user: Any, subscription_id: int, **changes: list[Any]) -> None:
    record_settings_event(
        obj=locked, company=locked, user=user, changes=changes, webhook=subscription_id
    )


def _lock(company: Company, user: Any, subscription_id: int) -> tuple[Company, WebhookSubscription]:
    locked = lock_company(company, user)
    subscription = (
        WebhookSubscription.objects.select_for_update()
        .filter(pk=subscription_id, company=locked)
        .first()
    )
    if subscription is None:
        raise SubscriptionNotFound(subscription_id)
    return locked, subscription


def subscription_create(
    *, company: Company, user: Any, url: Any, events: Iterable[Any]
) -> NewSecret:
    """Subscribe `url` to `events`; the secret returned is shown to the Admin once."""
    url, chosen = clean_url(url), clean_events(events)
    with transaction.atomic():
        locked = lock_company(company, user)
        secret = new_secret()
        subscription = WebhookSubscription.objects.create(
            company=locked, url=url, events=chosen, secret=secret, created_by=user
        )
        _audit(locked, user, subscription.pk, webhook=["", _summary(subscription)])
    return NewSecret(subscription, secret)


def subscription_update(
    *, company: Company, user: Any, subscription_id: int, url: Any, events: Iterable[Any]
) -> WebhookSubscription:
    url, chosen = clean_url(url), clean_events(events)
    with transaction.atomic():
        locked, subscription = _lock(company, user, subscription_id)
        changes: dict[str, list[Any]] = {}
        if subscription.url != url:
            changes["webhook_url"] = [subscription.url, url]
        if subscription.events != chosen:
            changes["webhook_events"] = [
                f"{url}: {', '.join(subscription.events)}",
                f"{url}: {', '.join(chosen)}",
            ]
        if changes:
            subscription.url, subscription.events = url, chosen
            subscription.save(update_fields=["url", "events"])
            _audit(locked, user, subscription.pk, **changes)
    return subscription


def subscription_set_active(
    *, company: Company, user: Any, subscription_id: int, active: bool
) -> WebhookSubscription:
    """Disable (events are no longer recorded for it) or enable again: the failure count
    starts over, and deliveries still open are tried at once."""
    with transaction.atomic():
        locked, subscription = _lock(company, user, subscription_id)
        if subscription.active == active:
            return subscription
        now = timezone.now()
        subscription.active = active
        if active:
            subscription.disabled_at, subscription.disabled_reason = None, ""
            subscription.consecutive_failures, subscription.failing_since = 0, None
            waiting = WebhookDelivery.objects.filter(
                subscription=subscription, state__in=OPEN_STATES
            )
            ids = list(waiting.values_list("pk", flat=True)[:500])
            waiting.update(next_try_at=now)
            transaction.on_commit(partial(queue_deliveries, ids), robust=True)
        else:
            subscription.disabled_at = now
            subscription.disabled_reason = "Disabled by an Admin."
        subscription.save()
        labels = ["Disabled", "Enabled"] if active else ["Enabled", "Disabled"]
        _audit(
            locked,
            user,
            subscription.pk,
            webhook_active=[f"{subscription.url}: {labels[0]}", f"{subscription.url}: {labels[1]}"],
        )
    return subscription


def subscription_rotate_secret(*, company: Company, user: Any, subscription_id: int) -> NewSecret:
    """A new secret; the current one becomes the previous secret, and deliveries carry a
    signature with each until the rotation ends (an Admin ends it, or its hours pass)."""
    with transaction.atomic():
        locked, subscription = _lock(company, user, subscription_id)
        secret = new_secret()
        subscription.previous_secret = subscription.secret
        subscription.secret = secret
        subscription.rotated_at = timezone.now()
        subscription.save(update_fields=["secret", "previous_secret", "rotated_at"])
        _audit(
            locked,
            user,
            subscription.pk,
            webhook_secret=[
                f"{subscription.url}: {HIDDEN}",
                f"{subscription.url}: {HIDDEN} (new; the previous one signs too until the "
                "rotation ends)",
            ],
        )
    return NewSecret(subscription, secret)


def subscription_end_rotation(
    *, company: Company, user: Any, subscription_id: int
) -> WebhookSubscription:
    """Stop signing with the previous secret."""
    with transaction.atomic():
        locked, subscription = _lock(company, user, subscription_id)
        if subscription.previous_secret:
            subscription.previous_secret, subscription.rotated_at = "", None
            subscription.save(update_fields=["previous_secret", "rotated_at"])
            _audit(
                locked,
                user,
                subscription.pk,
                webhook_previous_secret=[f"{subscription.url}: {HIDDEN}", ""],
            )
    return subscription


def subscription_delete(*, company: Company, user: Any, subscription_id: int) -> None:
    """Delete the subscription with its delivery log; open deliveries are never sent."""
    with transaction.atomic():
        locked, subscription = _lock(company, user, subscription_id)
        _audit(locked, user, subscription.pk, webhook=[_summary(subscription), ""])
        subscription.delete()


def send_test_event(*, company: Company, user: Any, subscription_id: int) -> WebhookDelivery:
    """A `webhook.test` event for this subscription alone, through the same outbox."""
    with transaction.atomic():
        locked, subscription = _lock(company, user, subscription_id)
        if not subscription.active:
            raise SettingsRefused("This webhook is disabled: enable it to send a test event.")
        [row] = enqueue(
            subscriptions=[subscription],
            event_type=TEST_EVENT,
            company=locked,
            data={
                "test": True,
                "subscription": subscription.pk,
                "message": "A test event from erpsync's webhook settings.",
            },
        )
    return row
