"""The email of Ready to Update: a rejected update, to the person who requested it (as a
rejection goes to an item's sender), with the reason and the change that was not made.

Written to the core's outbox (erpsync.outbox) in the rejection's transaction by the listener
below, and built when it is sent.
"""

from __future__ import annotations

from django.core.mail import EmailMultiAlternatives

from approvals.emails import _event_context, event_item, item_url, recipients_of, render_email
from erpsync.events import subscribe
from erpsync.models import ErpEvent, OutboxEmail, UpdateRequest
from erpsync.outbox import enqueue_emails, register_renderer
from erpsync.snapshots import edit_changes
from erpsync.states import ErpAction
from erpsync.updates import UpdateTransitioned
from projects.terms import terms_for

UPDATE_REJECTION_KIND = "update_rejection"
NEXT_STEP = "It is back to what the ERP has. Change it again to request another update."


def update_rejection_email(
    event: ErpEvent, to: list[str] | None = None
) -> EmailMultiAlternatives | None:
    """To the requester (or `to`): who rejected the update, why, and the change not made."""
    if event.action != ErpAction.UPDATE_REJECT:
        raise ValueError(f"Event {event.pk} is a {event.action!r} event, not update_reject.")
    item = event_item(event)
    if item is None:
        return None
    if to is None:
        request = UpdateRequest.objects.filter(
            content_type_id=event.content_type_id,
            object_id=event.object_id,
            number=(event.details or {}).get("update"),
        ).first()
        to = [r.address for r in recipients_of([request.requested_by if request else None])]
    if not to:
        return None
    context = _event_context(event, item) | {
        "reason": event.reason,
        "changes": edit_changes(
            item.erp_snapshot_format,
            (event.details or {}).get("changes", {}),
            terms_for(event.company),
        ),
        "next_step": NEXT_STEP,
        "url": item_url(item),
    }
    subject = f"Update rejected: {context['item_name']} ({context['project'].name})"
    return render_email("update_rejection", subject=subject, context=context, to=to)


def email_on_update_rejection(message: UpdateTransitioned) -> None:
    if message.action != ErpAction.UPDATE_REJECT:
        return
    enqueue_emails(
        kind=UPDATE_REJECTION_KIND,
        recipients=recipients_of([message.request.requested_by]),
        company=message.event.company,
        event=message.event,
    )


def render_update_rejection(row: OutboxEmail) -> EmailMultiAlternatives | None:
    return update_rejection_email(row.event, to=[row.recipient]) if row.event else None


def register() -> None:
    subscribe(UpdateTransitioned, email_on_update_rejection)
    register_renderer(UPDATE_REJECTION_KIND, render_update_rejection)
