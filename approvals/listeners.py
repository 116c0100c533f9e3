"""The approvals app's answers to what the ERP core announces: its emails.

Registered in ApprovalsConfig.ready(). Each listener runs inside the transaction of the
event and writes the email's outbox rows there (erpsync.outbox), so an email is never lost
to a broker outage or a killed worker; the delivery is queued when the transaction commits.
"""

from __future__ import annotations

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
from erpsync.outbox import enqueue_emails, register_renderer

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


def email_on_drift(message: DriftFound) -> None:
    enqueue_emails(
        kind=DRIFT_KIND,
        recipients=approver_recipients(message.company),
        company=message.company,
        payload={"report": message.report},
    )


def register() -> None:
    subscribe(ItemTransitioned, email_on_transition)
    subscribe(DriftFound, email_on_drift)
    for kind in BUILDERS:
        register_renderer(kind, render_event_email)
    register_renderer(DRIFT_KIND, render_drift_email)
    register_renderer(DIGEST_KIND, render_daily_summary)
    register_renderer(REMINDER_KIND, render_reminder)
    register_renderer(ESCALATION_KIND, render_reminder)
    update_emails.register()
