"""Celery tasks of the ERP core: thin, loading by id and calling erpsync.exports.

They are shared tasks: the project shell's Celery app (erpsync.celery) picks them up, so the
core never imports the shell.
"""

from __future__ import annotations

import logging

import redis
from celery import shared_task
from django.conf import settings

from erpsync.batch_exports import export_company_batch
from erpsync.counts import compact
from erpsync.exports import erp_export, stale_exports
from erpsync.kinds import erp_item_model, erp_item_models
from erpsync.outbox import send_outbox_email, unsent_emails
from erpsync.reconcile import announce_drift
from erpsync.refresh import due_for_refresh, refresh_by_id
from erpsync.update_exports import erp_export_update
from erpsync.updates import stale_updates

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def export_item(kind: str, item_id: int, try_number: int = 1) -> str:
    """Export one accepted item; safe to run twice (the state, the lease and the ERP's
    idempotency key each stop a second export)."""

    def requeue(countdown: float) -> None:
        export_item.apply_async((kind, item_id, try_number + 1), countdown=countdown)

    result = erp_export(
        model=erp_item_model(kind), item_id=item_id, try_number=try_number, requeue=requeue
    )
    logger.info(
        "export %s %s try %s: %s %s", kind, item_id, try_number, result.outcome, result.detail
    )
    return result.outcome


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def export_items(kind: str, item_ids: list[int]) -> int:
    """Queue the export of many accepted items of one company (a bulk accept) as batches: one
    message from the request; here, one export_batch per ERP_EXPORT_BATCH items, each carrying
    its chunk's first item. A lost or repeated message loses or doubles nothing: a batch
    claims with SKIP LOCKED, the lease and the idempotency key stop a second export, and the
    sweeper finds accepted items nobody exported."""
    model = erp_item_model(kind)
    company_id = (
        model.objects.filter(pk__in=item_ids[:1]).values_list(model.erp_company_path).first()
    )
    if company_id is None:
        return 0
    size = max(1, settings.ERP_EXPORT_BATCH)
    for start in range(0, len(item_ids), size):
        chunk = item_ids[start : start + size]
        export_batch.delay(company_id[0], "", kind, chunk[0], chunk)
    return len(item_ids)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def export_batch(
    company_id: int,
    adapter_key: str = "",
    kind: str = "",
    item_id: int = 0,
    item_ids: list[int] | None = None,
) -> str:
    """Export what the company has accepted right now, up to ERP_EXPORT_BATCH items in one
    batch (erpsync.batch_exports), the accepted item `kind` `item_id` that queued it first;
    safe to run twice or concurrently (SKIP LOCKED gives two runs disjoint items; the lease
    and the idempotency key do the rest). `adapter_key` only names the adapter the batch was
    queued for, in the log: the company's current adapter exports it. A transient failure
    requeues that item's own export_item with its backoff.

    `item_ids` (of `kind`, a bulk accept's chunk) are the items this batch was queued for:
    one the claim skipped because someone held its row at that moment gets its own
    export_item, which waits for the row (holding no other), rather than the sweeper's turn.
    Waiting for them all in the claim instead could deadlock with another batch's outcome."""

    def requeue(kind: str, item_id: int, try_number: int, countdown: float) -> None:
        export_item.apply_async((kind, item_id, try_number), countdown=countdown)

    first = (erp_item_model(kind), item_id) if kind and item_id else None
    result = export_company_batch(company_id=company_id, requeue=requeue, first=first)
    logger.info("export batch of company %s (%s): %s", company_id, adapter_key, result)
    for missed in sorted(set(item_ids or ()) - set(result.items.get(kind, ()))):
        # Already synced, or held by another worker's lease: export_item sees it and stops.
        export_item.delay(kind, missed)
    return str(result)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def update_item(request_id: int, try_number: int = 1) -> str:
    """Send one accepted update request to the ERP (Ready to Update); safe to run twice (the
    request's state, the lease and the update's idempotency key each stop a second one)."""

    def requeue(countdown: float) -> None:
        update_item.apply_async((request_id, try_number + 1), countdown=countdown)

    result = erp_export_update(request_id=request_id, try_number=try_number, requeue=requeue)
    logger.info("update %s try %s: %s %s", request_id, try_number, result.outcome, result.detail)
    return result.outcome


@shared_task(ignore_result=True)
def sweep_exports() -> int:
    """Requeue accepted items whose export was lost (publish failed, worker killed), and
    accepted update requests likewise."""
    requeued = 0
    for model in erp_item_models():
        for item_id in stale_exports(model):
            export_item.delay(model.erp_kind, item_id)
            requeued += 1
    for request_id in stale_updates():
        update_item.delay(request_id)
        requeued += 1
    if requeued:
        logger.warning("sweeper requeued %s exports", requeued)
    return requeued


@shared_task(ignore_result=True)
def compact_state_counts() -> int:
    """Fold the rows of the kept state counts together (erpsync.counts)."""
    return compact()


@shared_task(ignore_result=True)
def sweep_emails() -> int:
    """Queue the outbox's emails that are still unsent after a short delay (a lost publish,
    the broker down, a killed worker, a failed send due for its retry)."""
    ids = unsent_emails()
    for pk in ids:
        send_outbox_email.delay(pk)
    if ids:
        logger.warning("email sweeper queued %s unsent emails", len(ids))
    return len(ids)


@shared_task(ignore_result=True)
def noop(marker: str = "") -> None:
    """Does nothing: the yardstick for the worker's own overhead (bench/export_throughput.py).
    With `marker`, sets that Redis key, so a caller can tell the queue has drained."""
    if marker:
        redis.Redis.from_url(settings.CELERY_BROKER_URL).set(marker, "1", ex=600)


@shared_task(ignore_result=True)
def reconcile_erp() -> int:
    """Nightly: compare synced items with each company's ERP, list its stray drafts, and
    announce what differs (the approvals app emails the approvers)."""
    return announce_drift()


@shared_task(acks_late=True, ignore_result=True)
def refresh_item(kind: str, item_id: int) -> str:
    """Read one synced item back from its ERP; safe to run twice (payments are recorded once
    each; a second run finds nothing new)."""
    return refresh_by_id(kind=kind, item_id=item_id)


@shared_task(ignore_result=True)
def refresh_synced() -> int:
    """The scheduled refresh (every ERP_REFRESH_EVERY_SECONDS): queue the synced items of
    companies whose ERP can be read back that are due, ERP_REFRESH_BATCH at a time."""
    due = due_for_refresh()
    for kind, item_id in due:
        refresh_item.delay(kind, item_id)
    return len(due)
