"""The approvals app's answers to what the ERP core announces: its emails.

Registered in ApprovalsConfig.ready(). Each listener runs inside the transaction of the
event and writes the email's outbox rows there (erpsync.outbox), so an email is never lost
to a broker outage or a killed worker; the delivery is queued when the transaction commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import prefetch_related_objects

from approvals import update_emails
from approvals.digest import DIGEST_KIND, render_daily_summary
from approvals.emails import (
    BUILDERS,
    EVENT_EMAILS,
    approver_recipients,
    event_recipients,
    render_drift_email,
    render_event_email,
)
from approvals.reminders import ESCALATION_KIND, REMINDER_KIND, render_reminder
from erpsync.events import DriftFound, ItemTransitioned, subscribe
from erpsync.outbox import enqueue_emails, enqueue_event_emails, register_renderer

DRIFT_KIND = "reconcile_drift"


def email_on_transition(message: ItemTransitioned) -> None:
    kind = EVENT_EMAILS.get(message.action)
    if kind is None or (message.event.details or {}).get("direct_export"):
        return  # a Direct Export skips the approvers: nobody needs to be told to review it
    company = message.event.company
    enqueue_emails(
        kind=kind,
        recipients=event_recipients(kind, message.item, company),
        company=company,
        event=message.event,
    )


def emails_on_transitions(messages: Sequence[ItemTransitioned]) -> None:
    """email_on_transition for a bulk decision: the same rows, with the approvers read once
    per company and kind and the items' creators once, written in one INSERT."""
    wanted = [
        (kind, m)
        for m in messages
        if (kind := EVENT_EMAILS.get(m.action)) is not None
        and not (m.event.details or {}).get("direct_export")
    ]
    creators = [m.item for kind, m in wanted if kind == "rejection"]
    if creators and any(f.name == "created_by" for f in type(creators[0])._meta.fields):
        prefetch_related_objects(creators, "created_by")  # rejection_recipients reads it
    approvers: dict[tuple[str, int, str], Any] = {}
    emails = []
    for kind, m in wanted:
        company = m.event.company
        if kind == "rejection":  # to the item's own people
            recipients = event_recipients(kind, m.item, company)
        else:  # to the kind's approvers: the same for every item
            key = (kind, company.pk, m.item.erp_kind)
            if key not in approvers:
                approvers[key] = event_recipients(kind, m.item, company)
            recipients = approvers[key]
        emails.append((kind, recipients, company, m.event))
    enqueue_event_emails(emails)


def email_on_drift(message: DriftFound) -> None:
    enqueue_emails(
        kind=DRIFT_KIND,
        recipients=approver_recipients(message.company),
        company=message.company,
        payload={"report": message.report},
    )


def register() -> None:
    subscribe(ItemTransitioned, email_on_transition, many=emails_on_transitions)
    subscribe(DriftFound, email_on_drift)
    for kind in BUILDERS:
        register_renderer(kind, render_event_email)
    register_renderer(DRIFT_KIND, render_drift_email)
    register_renderer(DIGEST_KIND, render_daily_summary)
    register_renderer(REMINDER_KIND, render_reminder)
    register_renderer(ESCALATION_KIND, render_reminder)
    update_emails.register()
