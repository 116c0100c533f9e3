"""The ERP core's own listener: an acceptance queues an export batch of the item's company
(erpsync.tasks.export_batch), an approver's "Export now" the item's own export, once it
commits.

The item's state is the outbox for exports: if the publish is lost (broker down, process
killed), the sweeper (erpsync.tasks.sweep_exports) finds the accepted item and queues it.
A company with a pull connector (Capability.PULL) gets nothing queued: its items wait for it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from functools import partial

from django.db import transaction

from erpsync.adapters import pulls
from erpsync.events import ExportRequeued, ItemTransitioned, subscribe
from erpsync.states import ErpAction
from erpsync.tasks import export_batch, export_item, export_items, update_item
from erpsync.updates import UpdateTransitioned

EXPORTING_ACTIONS = frozenset({ErpAction.ACCEPT, ErpAction.RETRY_EXPORT})


def _exports(message: ItemTransitioned | ExportRequeued) -> bool:
    """Whether the message's commit queues its item's export."""
    if isinstance(message, ItemTransitioned) and not (
        message.action in EXPORTING_ACTIONS and message.queue_export
    ):
        return False
    # A pull connector claims its company's items from the export queue (erpsync.connector).
    return not pulls(message.item.erp_company)


def queue_export(message: ItemTransitioned | ExportRequeued) -> None:
    if _exports(message):
        item = message.item
        # robust: a broker that cannot be reached is logged and does not undo the decision.
        if isinstance(message, ExportRequeued):
            task = partial(export_item.delay, item.erp_kind, item.pk)
        else:
            # An acceptance exports at once, with whatever else the company has accepted and
            # nothing holds (erpsync.batch_exports): one batch instead of one task per item.
            company = item.erp_company
            task = partial(
                export_batch.delay, company.pk, company.erp_adapter, item.erp_kind, item.pk
            )
        transaction.on_commit(task, robust=True)


def queue_exports(messages: Sequence[ItemTransitioned | ExportRequeued]) -> None:
    """queue_export for a bulk decision: one message per kind on commit (export_items), not
    one per item: publishing costs about a millisecond a message (measured: 500 took 0.4 s)."""
    ids: defaultdict[str, list[int]] = defaultdict(list)
    for message in messages:
        if _exports(message):
            ids[message.item.erp_kind].append(message.item.pk)
    for kind, item_ids in ids.items():
        transaction.on_commit(partial(export_items.delay, kind, item_ids), robust=True)


UPDATING_ACTIONS = frozenset({ErpAction.UPDATE_ACCEPT, ErpAction.UPDATE_RETRY})


def queue_update(message: UpdateTransitioned) -> None:
    """An accepted (or retried) update request is sent to the ERP once it commits; the request
    is the outbox, so a lost publish is found by the sweeper."""
    if message.action in UPDATING_ACTIONS:
        transaction.on_commit(partial(update_item.delay, message.request.pk), robust=True)


def register() -> None:
    subscribe(ItemTransitioned, queue_export, many=queue_exports)
    subscribe(ExportRequeued, queue_export, many=queue_exports)
    subscribe(UpdateTransitioned, queue_update)
