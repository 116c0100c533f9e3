"""The webhooks app's answer to what the ERP core announces: a delivery row per subscription.

Registered in WebhooksConfig.ready(). The listener runs inside the transition's transaction:
the rows and their payload (the item as the transition left it) commit with the transition
or not at all, and a refused or rolled-back transition sends nothing.
"""

from __future__ import annotations

from api.representations import item_payload
from erpsync.events import ItemTransitioned, subscribe
from erpsync.outbox import register_renderer
from erpsync.states import ErpAction
from webhooks.emails import render_disabled
from webhooks.models import EventType
from webhooks.outbox import DISABLED_EMAIL, enqueue
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


def webhooks_on_transition(message: ItemTransitioned) -> None:
    event_type = ACTION_EVENTS.get(message.action)
    if event_type is None:
        return
    company = message.event.company
    subscriptions = subscriptions_listening(company, event_type)
    if subscriptions:
        enqueue(
            subscriptions=subscriptions,
            event_type=event_type,
            company=company,
            data={"item": item_payload(message.item)},
            created=message.event.created_at,
        )


def register() -> None:
    subscribe(ItemTransitioned, webhooks_on_transition)
    register_renderer(DISABLED_EMAIL, render_disabled)
