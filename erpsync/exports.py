"""Exporting an accepted item to its company's ERP, exactly once.

Each try: (1) in a short transaction on the locked item, check it is still accepted and that
no other worker holds a fresh lease on it, and record the attempt; (2) outside any
transaction, call the ERP with the idempotency key of the accepted version (looking it up
first when an earlier try may have reached the ERP); (3) record the outcome through the
state machine's services. The item's state is the outbox: the sweeper requeues accepted
items whose export never finished.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from erpsync.adapters import ErpError, IdempotencyKey, PermanentErpError, adapter_for, pulls
from erpsync.models import ErpItem, ExportAttempt, ExportOutcome
from erpsync.selectors import export_checks, stale_export_items
from erpsync.services import erp_mark_export_failed, erp_mark_synced_many, storable
from erpsync.states import ErpActionRefused, ErpState


def idempotency_key(item: ErpItem) -> str:
    """The same for every try of one accepted version: the ERP makes one record of it."""
    return str(IdempotencyKey(item.erp_kind, item.pk, item.erp_version))


def backoff_seconds(try_number: int) -> float:
    """Exponential backoff with jitter, capped below the broker's visibility timeout."""
    base = settings.ERP_EXPORT_BACKOFF_SECONDS * 2 ** (try_number - 1)
    return min(base, settings.ERP_EXPORT_BACKOFF_MAX_SECONDS) * random.uniform(0.5, 1.5)


@dataclass(frozen=True)
class ExportResult:
    outcome: str
    detail: str = ""


@dataclass(frozen=True)
class _Claimed:
    item: ErpItem
    attempt: ExportAttempt
    tried: bool  # an earlier try of this key exists
    snapshot: dict[str, Any] | None


def _claim(model: type[ErpItem], item_id: int, try_number: int) -> _Claimed | ExportResult:
    with transaction.atomic():
        item = (
            model.objects.select_for_update(of=("self",))
            .select_related(*model.erp_related)
            .filter(pk=item_id)
            .first()
        )
        if item is None:
            return ExportResult("skipped", "no such item")
        if item.erp_state != ErpState.ACCEPTED:
            return ExportResult("skipped", f"state is {item.erp_state}")
        if pulls(item.erp_company):
            return ExportResult("skipped", "the company's connector pulls it")
        key = idempotency_key(item)
        # One query, after the lock: the lease, the claim, earlier tries and the snapshot.
        checks = export_checks(model, item.pk, item.erp_version, key)
        # A company that just left its connector: the claim it gave out must end first.
        if checks.connector_claimed:
            return ExportResult("skipped", "the company's connector holds a claim on it")
        if checks.leased:
            return ExportResult("skipped", "another worker is exporting it")
        attempt = ExportAttempt.objects.create(
            content_type=ContentType.objects.get_for_model(model),
            object_id=item.pk,
            company=item.erp_company,
            version=item.erp_version,
            idempotency_key=key,
            try_number=try_number,
        )
    return _Claimed(item, attempt, checks.tried, checks.snapshot)


def _finish(
    attempt: ExportAttempt, outcome: ExportOutcome, *, erp_id: str = "", error: str = ""
) -> None:
    attempt.outcome, attempt.erp_id, attempt.error = outcome, storable(erp_id), storable(error)
    attempt.finished_at = timezone.now()
    attempt.save(update_fields=["outcome", "erp_id", "error", "finished_at"])


def erp_export(
    *, model: type[ErpItem], item_id: int, try_number: int, requeue: Callable[[float], None]
) -> ExportResult:
    """One try to export the item's accepted version; `requeue(countdown)` schedules the next."""
    claimed = _claim(model, item_id, try_number)
    if isinstance(claimed, ExportResult):
        return claimed
    item, attempt = claimed.item, claimed.attempt
    key = attempt.idempotency_key
    try:
        if claimed.snapshot is None:
            raise PermanentErpError(f"No submitted snapshot of version {attempt.version}.")
        adapter = adapter_for(item.erp_company)
        # After a timeout the first try may have reached the ERP: find it rather than remake it.
        erp_id = adapter.lookup(kind=item.erp_kind, idempotency_key=key) if claimed.tried else None
        if erp_id is None:
            erp_id = adapter.export(
                kind=item.erp_kind, snapshot=claimed.snapshot, idempotency_key=key
            )
    except ErpError as error:
        return _failed(item, attempt, error, try_number, requeue)
    # The ERP has it: record the attempt's outcome and the transition in one commit.
    with transaction.atomic():
        _finish(attempt, ExportOutcome.SYNCED, erp_id=erp_id)
        # The batch service, for one: it skips (rather than raises on) an item another worker
        # recorded first, so it needs no savepoint of its own.
        if not erp_mark_synced_many(model=model, erp_ids={item.pk: erp_id}, adapter=adapter.key):
            locked = model.objects.values_list("erp_state", flat=True).get(pk=item.pk)
            return ExportResult("already", f"state is {locked}")
    return ExportResult("synced", erp_id)


def _failed(
    item: ErpItem,
    attempt: ExportAttempt,
    error: ErpError,
    try_number: int,
    requeue: Callable[[float], None],
) -> ExportResult:
    transient = not isinstance(error, PermanentErpError)
    if transient and try_number < settings.ERP_EXPORT_MAX_TRIES:
        _finish(attempt, ExportOutcome.TRANSIENT, error=error.message)
        # The item stays accepted; the tries so far and the last error are shown to approvers.
        type(item).objects.filter(pk=item.pk, erp_state=ErpState.ACCEPTED).update(
            erp_export_attempts=F("erp_export_attempts") + 1, erp_error=error.message
        )
        countdown = backoff_seconds(try_number)
        requeue(countdown)
        return ExportResult("retrying", f"{error.message} (next try in {countdown:.0f} s)")
    message = error.message
    if transient:
        message = f"{message} (gave up after {try_number} tries)"
    _finish(attempt, ExportOutcome.GAVE_UP if transient else ExportOutcome.PERMANENT, error=message)
    try:
        erp_mark_export_failed(item=item, error=message)
    except ErpActionRefused as refusal:
        return ExportResult("already", " ".join(refusal.reasons))
    return ExportResult("failed", message)


def stale_exports(model: type[ErpItem]) -> list[int]:
    """The ids of the model's stuck exports (erpsync.selectors.stale_export_items states the rule):
    their publish was lost, or no worker runs."""
    return list(stale_export_items(model).values_list("pk", flat=True))
