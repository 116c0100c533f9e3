"""Exporting an accepted update request to its company's ERP, exactly once.

As for exports (erpsync.exports): (1) in a short transaction on the locked request, check it
is still accepted and that no other worker holds a fresh lease on its key, and record an
ExportAttempt under the update's own idempotency key before the ERP is called; (2) outside
any transaction, call the adapter's `update` with that key (the ERP applies one key once, so
a retry after a lost answer changes nothing more); (3) record the outcome through
erpsync.updates. The accepted request is the outbox: the sweeper queues the ones left behind.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from erpsync.adapters import ErpError, PermanentErpError, adapter_for
from erpsync.exports import ExportResult, backoff_seconds
from erpsync.models import ErpItem, ExportAttempt, ExportOutcome, UpdateRequest, UpdateState
from erpsync.services import storable
from erpsync.updates import erp_mark_update


def _claim(
    request_id: int, try_number: int
) -> tuple[UpdateRequest, ErpItem, ExportAttempt] | ExportResult:
    with transaction.atomic():
        request = (
            UpdateRequest.objects.select_for_update(of=("self",))
            .select_related("content_type")
            .filter(pk=request_id)
            .first()
        )
        if request is None:
            return ExportResult("skipped", "no such update")
        if request.state != UpdateState.ACCEPTED:
            return ExportResult("skipped", f"state is {request.state}")
        item = request.item
        if item is None:
            return ExportResult("skipped", "the item is gone")
        key = request.idempotency_key
        lease = timezone.now() - timedelta(seconds=settings.ERP_EXPORT_LEASE_SECONDS)
        if ExportAttempt.objects.filter(
            idempotency_key=key, outcome=ExportOutcome.STARTED, started_at__gte=lease
        ).exists():
            return ExportResult("skipped", "another worker is sending it")
        attempt = ExportAttempt.objects.create(
            content_type=request.content_type,
            object_id=request.object_id,
            company=request.company,
            version=request.item_version,
            idempotency_key=key,
            try_number=try_number,
        )
    return request, item, attempt


def _finish(attempt: ExportAttempt, outcome: ExportOutcome, *, error: str = "") -> None:
    attempt.outcome, attempt.error = outcome, storable(error)
    attempt.finished_at = timezone.now()
    attempt.save(update_fields=["outcome", "error", "finished_at"])


def erp_export_update(
    *, request_id: int, try_number: int, requeue: Callable[[float], None]
) -> ExportResult:
    """One try to send the accepted update to the ERP; `requeue(countdown)` schedules the next."""
    claimed = _claim(request_id, try_number)
    if isinstance(claimed, ExportResult):
        return claimed
    request, item, attempt = claimed
    try:
        if not item.erp_id:
            raise PermanentErpError("The item has no ERP id: there is nothing to update.")
        adapter_for(item.erp_company).update(
            kind=request.kind,
            erp_id=item.erp_id,
            changes=request.requested,
            snapshot=request.snapshot,
            idempotency_key=attempt.idempotency_key,
        )
    except ErpError as error:
        transient = not isinstance(error, PermanentErpError)
        if transient and try_number < settings.ERP_EXPORT_MAX_TRIES:
            _finish(attempt, ExportOutcome.TRANSIENT, error=error.message)
            UpdateRequest.objects.filter(pk=request.pk, state=UpdateState.ACCEPTED).update(
                error=storable(error.message), attempts=request.attempts + 1
            )
            countdown = backoff_seconds(try_number)
            requeue(countdown)
            return ExportResult("retrying", f"{error.message} (next try in {countdown:.0f} s)")
        message = error.message
        if transient:
            message = f"{message} (gave up after {try_number} tries)"
        with transaction.atomic():
            _finish(
                attempt,
                ExportOutcome.GAVE_UP if transient else ExportOutcome.PERMANENT,
                error=message,
            )
            done = erp_mark_update(request_id=request.pk, error=storable(message))
        return ExportResult("failed" if done else "already", message)
    with transaction.atomic():
        _finish(attempt, ExportOutcome.SYNCED)
        done = erp_mark_update(request_id=request.pk)
    return ExportResult("synced" if done else "already", attempt.idempotency_key)
