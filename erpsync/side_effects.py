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
    from erpsync.tasks import export_item

    if action in (ErpAction.ACCEPT, ErpAction.RETRY_EXPORT) and export:
        export_item.delay(kind, item_id)
