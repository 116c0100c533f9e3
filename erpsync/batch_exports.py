"""Exporting a company's accepted items in batches, each still exactly once.

A batch is one company's (so one adapter's) accepted items, up to ERP_EXPORT_BATCH of them:

1. Claim, in one short transaction: lock the items with SELECT … FOR UPDATE SKIP LOCKED (two
   workers claiming at once take disjoint sets), leave out those a live lease, a scheduled
   retry or a connector's claim holds (asked again once the rows are ours: a claim committed
   after the statement began is invisible to it), and record one ExportAttempt per item (one
   INSERT) before the ERP is called.
2. Outside any transaction: look each key up first where an earlier try may have reached the
   ERP (as erpsync.exports does for one item), then export the rest in one call when the
   adapter declares Capability.EXPORT_MANY, else one item at a time, renewing the batch's
   lease whenever half of it has passed (so that a long batch of slow
   calls is not taken for a dead worker's).
3. Record every outcome and transition in one transaction: the synced items through
   erpsync.services.erp_mark_synced_many (one UPDATE, one INSERT of audit rows), a permanent
   failure through erp_mark_export_failed for that item alone. A transient failure requeues
   that item's own export_item task with its backoff, as a single export would; the batch
   claim leaves it alone until then (erpsync.selectors.export_holds).

A worker killed anywhere leaves the attempts started: the leases run out, the sweeper
requeues the items, and the next try finds what the ERP made by its key.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from erpsync.adapters import (
    Adapter,
    ErpError,
    ExportRequest,
    ExportResults,
    PermanentErpError,
    adapter_for,
    pulls,
)
from erpsync.exports import backoff_seconds, idempotency_key
from erpsync.kinds import erp_item_models
from erpsync.models import ErpEvent, ErpItem, ExportAttempt, ExportOutcome
from erpsync.rows import write_fields
from erpsync.selectors import (
    export_holds,
    held_ids,
    live_connector_claims,
    lock_unheld_accepted,
)
from erpsync.services import erp_mark_export_failed, erp_mark_synced_many, storable
from erpsync.states import ErpActionRefused, ErpState
from projects.models import Company

# requeue(kind, item id, next try number, countdown): schedules one item's retry.
Requeue = Callable[[str, int, int, float], None]


@dataclass
class Claimed:
    item: ErpItem
    attempt: ExportAttempt
    snapshot: dict[str, Any] | None
    # An earlier try of the same key exists: it may have reached the ERP, so look it up first.
    earlier: bool


@dataclass
class BatchResult:
    claimed: int = 0
    synced: list[int] = field(default_factory=list)  # attempt ids
    items: dict[str, list[int]] = field(default_factory=dict)  # kind -> the ids claimed
    retrying: int = 0
    failed: int = 0
    already: int = 0

    def __str__(self) -> str:
        return (
            f"claimed {self.claimed}: synced {len(self.synced)}, retrying {self.retrying}, "
            f"failed {self.failed}, already done {self.already}"
        )


def _holds(model: type[ErpItem]) -> tuple[QuerySet[Any], ...]:
    """What keeps an accepted item from a batch claim: an attempt (a worker's lease, a
    scheduled retry) or the company connector's live claim."""
    return (export_holds(model), live_connector_claims(model))


def _lock_claimable(
    model: type[ErpItem], company: Company, limit: int, *, taken: list[int]
) -> list[ErpItem]:
    """Up to `limit` of the company's accepted items of this kind that nothing holds, besides
    `taken`, locked; rows another worker has locked are skipped, not waited for. Call inside a
    transaction."""
    return lock_unheld_accepted(
        model,
        company,
        limit,
        holds=_holds(model),
        seen=taken,
    )


def _lock_first(model: type[ErpItem], company: Company, item_id: int) -> list[ErpItem]:
    """The item whose acceptance queued the batch, locked by waiting for its row rather than
    skipping it: anyone may hold that row for a moment (the refusal of a concurrent second
    approval, say), and SKIP LOCKED would then leave it to the sweeper. Nothing, or it, when
    it is still accepted and nothing holds it."""
    rows = list(
        model.objects.select_for_update(of=("self",))
        .select_related(*model.erp_related)
        .for_company(company)
        .filter(pk=item_id, erp_state=ErpState.ACCEPTED)
    )
    held = held_ids(model, [row.pk for row in rows], _holds(model))
    return [row for row in rows if row.pk not in held]


def _start_attempts(model: type[ErpItem], company: Company, items: list[ErpItem]) -> list[Claimed]:
    """One attempt row per item (one INSERT), with what the ERP call needs."""
    keys = {item.pk: idempotency_key(item) for item in items}
    tried = set(
        ExportAttempt.objects.filter(idempotency_key__in=list(keys.values())).values_list(
            "idempotency_key", flat=True
        )
    )
    snapshots = ErpEvent.objects.submitted_snapshots(items)
    content_type = ContentType.objects.get_for_model(model)
    now = timezone.now()
    attempts = ExportAttempt.objects.bulk_create(
        ExportAttempt(
            content_type=content_type,
            object_id=item.pk,
            company=company,
            version=item.erp_version,
            idempotency_key=keys[item.pk],
            # Transient failures count the tries (erp_export_attempts); this is the next.
            try_number=item.erp_export_attempts + 1,
            started_at=now,
        )
        for item in items
    )
    return [
        Claimed(item, attempt, snapshots.get(item.pk), attempt.idempotency_key in tried)
        for item, attempt in zip(items, attempts, strict=True)
    ]


def claim_batch(
    company: Company, limit: int, *, first: tuple[type[ErpItem], int] | None = None
) -> list[Claimed]:
    """Lock up to `limit` of the company's accepted items that nothing holds, `first` (the
    item whose acceptance queued the batch) then the oldest accepted, and record an attempt
    for each; commit before anything calls the ERP."""
    if pulls(company):
        return []  # its connector claims them (erpsync.connector)
    with transaction.atomic():
        chosen: dict[type[ErpItem], list[ErpItem]] = {}
        count = 0
        if first is not None:
            chosen[first[0]] = _lock_first(first[0], company, first[1])
            count = len(chosen[first[0]])
        for model in erp_item_models():
            if count >= limit:
                break
            mine = chosen.setdefault(model, [])
            mine += _lock_claimable(model, company, limit - count, taken=[i.pk for i in mine])
            count = sum(len(items) for items in chosen.values())
        claimed: list[Claimed] = []
        for model, items in chosen.items():
            if items:
                claimed += _start_attempts(model, company, items)
    return claimed


class _Lease:
    """The batch's lease, taken at the claim (the attempts' started_at). One call at a time
    may outlast it: `keep()`, before each call, renews it for the whole batch once half of it
    has passed (the items answered already wait for the batch's record too), so that the
    sweeper leaves them to this worker."""

    def __init__(self, batch: list[Claimed]) -> None:
        self.attempts = [c.attempt.pk for c in batch]
        self.renewed = time.monotonic()

    def keep(self) -> None:
        if time.monotonic() - self.renewed > settings.ERP_EXPORT_LEASE_SECONDS / 2:
            ExportAttempt.objects.filter(
                pk__in=self.attempts, outcome=ExportOutcome.STARTED
            ).update(started_at=timezone.now())
            self.renewed = time.monotonic()


def _call_erp(adapter: Adapter, batch: list[Claimed]) -> ExportResults:
    """The ERP's answer for every claimed key, outside any transaction."""
    results: ExportResults = {}
    lease = _Lease(batch)
    to_export: list[ExportRequest] = []
    for claimed in batch:
        key = claimed.attempt.idempotency_key
        if claimed.snapshot is None:
            results[key] = PermanentErpError(
                f"No submitted snapshot of version {claimed.attempt.version}."
            )
            continue
        if claimed.earlier:
            # An earlier try may have reached the ERP: find it rather than remake it.
            lease.keep()
            try:
                found = adapter.lookup(kind=claimed.item.erp_kind, idempotency_key=key)
            except ErpError as error:
                results[key] = error
                continue
            if found is not None:
                results[key] = found
                continue
        to_export.append(ExportRequest(claimed.item.erp_kind, claimed.snapshot, key))
    if to_export and adapter.can_export_many():
        lease.keep()
        try:
            answered = adapter.export_many(to_export)
        except ErpError as error:
            answered = {}
            results.update({r.idempotency_key: error for r in to_export})
        for request in to_export:
            results.setdefault(
                request.idempotency_key,
                answered.get(
                    request.idempotency_key,
                    PermanentErpError("The ERP's batch answer left this item out."),
                ),
            )
        return results
    for request in to_export:
        lease.keep()
        try:
            results[request.idempotency_key] = adapter.export(
                kind=request.kind,
                snapshot=request.snapshot,
                idempotency_key=request.idempotency_key,
            )
        except ErpError as error:
            results[request.idempotency_key] = error
    return results


def _record(
    adapter: Adapter, batch: list[Claimed], results: ExportResults, requeue: Requeue
) -> BatchResult:
    """Every outcome and transition of the batch in one transaction."""
    outcome = BatchResult(claimed=len(batch))
    for claimed in batch:
        outcome.items.setdefault(claimed.item.erp_kind, []).append(claimed.item.pk)
    now = timezone.now()
    retries: list[tuple[str, int, int, float]] = []
    with transaction.atomic():
        synced: dict[type[ErpItem], dict[int, str]] = {}
        for claimed in batch:
            attempt, item = claimed.attempt, claimed.item
            answer = results[attempt.idempotency_key]
            attempt.finished_at = now
            if isinstance(answer, str):
                attempt.outcome, attempt.erp_id = ExportOutcome.SYNCED, storable(answer)
                synced.setdefault(type(item), {})[item.pk] = answer
                outcome.synced.append(attempt.pk)
                continue
            transient = not isinstance(answer, PermanentErpError)
            message = answer.message
            if transient and attempt.try_number < settings.ERP_EXPORT_MAX_TRIES:
                attempt.outcome, attempt.error = ExportOutcome.TRANSIENT, storable(message)
                type(item).objects.filter(pk=item.pk, erp_state=ErpState.ACCEPTED).update(
                    erp_export_attempts=F("erp_export_attempts") + 1, erp_error=message
                )
                countdown = backoff_seconds(attempt.try_number)
                retries.append((item.erp_kind, item.pk, attempt.try_number + 1, countdown))
                outcome.retrying += 1
                continue
            if transient:
                message = f"{message} (gave up after {attempt.try_number} tries)"
            attempt.outcome = ExportOutcome.GAVE_UP if transient else ExportOutcome.PERMANENT
            attempt.error = storable(message)
            try:
                # A savepoint: one item's refusal leaves the rest of the batch as it is.
                with transaction.atomic():
                    erp_mark_export_failed(item=item, error=message)
                outcome.failed += 1
            except ErpActionRefused:
                outcome.already += 1
        write_fields(
            ExportAttempt, [c.attempt for c in batch], ["outcome", "erp_id", "error", "finished_at"]
        )
        for model, erp_ids in synced.items():
            marked = erp_mark_synced_many(model=model, erp_ids=erp_ids, adapter=adapter.key)
            outcome.already += len(erp_ids) - len(marked)
        for retry in retries:
            transaction.on_commit(lambda retry=retry: requeue(*retry), robust=True)
    return outcome


def export_company_batch(
    *,
    company_id: int,
    requeue: Requeue,
    limit: int | None = None,
    first: tuple[type[ErpItem], int] | None = None,
) -> BatchResult:
    """Claim, export and record one batch of the company's accepted items, `first` (the item
    whose acceptance queued it) among them unless something else holds it."""
    company = Company.objects.filter(pk=company_id).first()
    if company is None:
        return BatchResult()
    batch = claim_batch(company, limit or settings.ERP_EXPORT_BATCH, first=first)
    if not batch:
        return BatchResult()
    adapter = adapter_for(company)
    results = _call_erp(adapter, batch)
    return _record(adapter, batch, results, requeue)
