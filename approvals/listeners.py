"""The approvals app's answers to what the ERP core announces: its emails.

Registered in ApprovalsConfig.ready(). Each listener runs inside the transaction of the
event and defers its I/O (queueing a Celery task, sending mail) until that commits.
"""

from __future__ import annotations

from functools import partial

from django.db import transaction

from approvals.emails import drift_email
from approvals.tasks import send_export_failed_email, send_rejection_email, send_submission_email
from erpsync.events import DriftFound, ItemTransitioned, subscribe
from erpsync.states import ErpAction

EVENT_EMAIL_TASKS = {
    ErpAction.SEND: send_submission_email,
    ErpAction.RESEND: send_submission_email,
    ErpAction.REJECT: send_rejection_email,
    ErpAction.MARK_EXPORT_FAILED: send_export_failed_email,
}


def email_on_transition(message: ItemTransitioned) -> None:
    task = EVENT_EMAIL_TASKS.get(ErpAction(message.action))
    if task is not None:
        # robust: a broker that cannot be reached is logged and does not undo the action.
        transaction.on_commit(partial(task.delay, message.event.pk), robust=True)


def email_on_drift(message: DriftFound) -> None:
    email = drift_email(message.company, message.report)
    if email is not None:
        transaction.on_commit(email.send)


def register() -> None:
    subscribe(ItemTransitioned, email_on_transition)
    subscribe(DriftFound, email_on_drift)
