"""The webhooks app's answer to what the ERP core announces: a delivery row per subscription.

Registered in WebhooksConfig.ready(). The listener runs inside the transition's transaction:
the rows and their payload (the item as the transition left it) commit with the transition
or not at all, and a refused or rolled-back transition sends nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from api.representations import item_payload, item_payloads, request_payload
from erpsync.events import ItemTransitioned, subscribe
from erpsync.outbox import register_renderer
from erpsync.states import ErpAction
from erpsync.updates import UpdateTransitioned
from webhooks.emails import render_disabled
from webhooks.models import EventType
from webhooks.outbox import DISABLED_EMAIL, enqueue, enqueue_many
from webhooks.selectors import subscriptions_listening

# RETRY_EXPORT has no event: the retried export ends in item.synced or item.export_failed.
ACTION_EVENTS: dict[str, EventType] = {
    ErpAction.SEND: EventType.SENT,
    ErpAction.RESEND: EventType.RESENT,
    ErpAction.RETRIEVE: EventType.RETRIEVED,
    ErpAction.REJECT: EventType.REJECTED,
    ErpAction.APPROVE: EventType.APPROVAL_ADDED,
    ErpAction.ACCEPT: EventType.ACCEPTED,
    ErpAction.MARK_SYNCED: EventType.SYNCED,
    ErpAction.MARK_EXPORT_FAILED: EventType.EXPORT_FAILED,
    ErpAction.UNLINK: EventType.UNLINKED,
}


# UPDATE_RETRY has no event either: the retried update ends in update_synced or update_failed.
UPDATE_EVENTS: dict[str, EventType] = {
    ErpAction.UPDATE_REQUEST: EventType.UPDATE_REQUESTED,
    ErpAction.UPDATE_ACCEPT: EventType.UPDATE_ACCEPTED,
    ErpAction.UPDATE_SYNCED: EventType.UPDATE_SYNCED,
    ErpAction.UPDATE_FAILED: EventType.UPDATE_FAILED,
    ErpAction.UPDATE_REJECT: EventType.UPDATE_REJECTED,
}


def _announce(event_type: EventType | None, event: Any, data: Callable[[], dict[str, Any]]) -> None:
    """A delivery row per subscription listening to `event_type`; `data` is built only when
    someone listens."""
    if event_type is None:
        return
    subscriptions = subscriptions_listening(event.company, event_type)
    if subscriptions:
        enqueue(
            subscriptions=subscriptions,
            event_type=event_type,
            company=event.company,
            data=data(),
            created=event.created_at,
        )


def webhooks_on_update(message: UpdateTransitioned) -> None:
    _announce(
        UPDATE_EVENTS.get(message.action),
        message.event,
        lambda: {
            "item": item_payload(message.item),
            "update_request": request_payload(message.request),
        },
    )


def webhooks_on_transition(message: ItemTransitioned) -> None:
    _announce(
        ACTION_EVENTS.get(message.action),
        message.event,
        lambda: {"item": item_payload(message.item)},
    )


def webhooks_on_transitions(messages: Sequence[ItemTransitioned]) -> None:
    """webhooks_on_transition for a bulk decision: the same rows (one event per item, one row
    per item and subscription, the same payloads), with the subscriptions read and the
    payloads built once per company, event type and kind, and the rows written at once."""
    groups: defaultdict[tuple[int, str, type], list[ItemTransitioned]] = defaultdict(list)
    for message in messages:
        event_type = ACTION_EVENTS.get(message.action)
        if event_type is not None:
            key = (message.event.company_id, event_type, type(message.item))
            groups[key].append(message)
    for (_, event_type, _), group in groups.items():
        company = group[0].event.company
        subscriptions = subscriptions_listening(company, event_type)
        if subscriptions:
            payloads = item_payloads([m.item for m in group], company)
            events = [
                (event_type, {"item": payload}, m.event.created_at)
                for m, payload in zip(group, payloads, strict=True)
            ]
            enqueue_many(subscriptions=subscriptions, company=company, events=events)


def register() -> None:
    subscribe(ItemTransitioned, webhooks_on_transition, many=webhooks_on_transitions)
    subscribe(UpdateTransitioned, webhooks_on_update)
    register_renderer(DISABLED_EMAIL, render_disabled)
