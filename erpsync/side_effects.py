"""What a committed transition sets off: exports and emails, always through Celery.

Called by transaction.on_commit(..., robust=True): a broker that cannot be reached is logged
and does not undo the user's action; the item's state is the outbox, and the sweeper
requeues exports whose publish was lost.
"""

from __future__ import annotations

from erpsync.states import ErpAction


def after_transition(
    *, action: ErpAction, event_id: int, kind: str, item_id: int, export: bool
) -> None:
    from approvals.tasks import (
        send_export_failed_email,
        send_rejection_email,
        send_submission_email,
    )
    from erpsync.tasks import export_item

    if action in (ErpAction.ACCEPT, ErpAction.RETRY_EXPORT) and export:
        export_item.delay(kind, item_id)
    elif action in (ErpAction.SEND, ErpAction.RESEND):
        send_submission_email.delay(event_id)
    elif action == ErpAction.REJECT:
        send_rejection_email.delay(event_id)
    elif action == ErpAction.MARK_EXPORT_FAILED:
        send_export_failed_email.delay(event_id)
