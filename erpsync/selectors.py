"""Reads of the ERP core shared by every page, command and email: one home each."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db.models import Count, Exists, JSONField, OuterRef, QuerySet, Subquery
from django.utils import timezone

from erpsync.adapters import pull_adapter_keys
from erpsync.counts import counts_of
from erpsync.kinds import erp_item_models
from erpsync.models import ConnectorClaim, ErpEvent, ErpItem, ExportAttempt, ExportOutcome
from erpsync.snapshots import Change, edit_changes
from erpsync.states import ErpAction, ErpState
from projects.models import Company
from projects.terms import terms_for


def state_counts(company: Company) -> dict[str, dict[str, int]]:
    """{kind: {state: count}} with every kind and state present, in one query of the counts
    the database keeps (erpsync.counts), whatever the number of items."""
    kept = counts_of(company.pk)
    return {
        model.erp_kind: {
            state.value: kept.get(model.erp_kind, {}).get(state.value, 0) for state in ErpState
        }
        for model in erp_item_models()
    }


def counted_state_counts(company: Company) -> dict[str, dict[str, int]]:
    """state_counts by counting the items themselves (one grouped query per kind, reading
    every item of the company): what the kept counts must always equal."""
    counts: dict[str, dict[str, int]] = {}
    for model in erp_item_models():
        by_state = dict(
            model.objects.for_company(company)
            .values_list("erp_state")
            .annotate(n=Count("pk"))
            .values_list("erp_state", "n")
            .order_by()
        )
        counts[model.erp_kind] = {state.value: by_state.get(state.value, 0) for state in ErpState}
    return counts


def _submissions(model: type[ErpItem], item_id: Any, version: int) -> QuerySet[ErpEvent]:
    """The send and resend events that submitted `version` of the item, newest first."""
    return ErpEvent.objects.filter(
        content_type=ContentType.objects.get_for_model(model),
        object_id=item_id,
        action__in=[ErpAction.SEND, ErpAction.RESEND],
        version=version,
    ).order_by("-id")


def submitted_snapshot(item: ErpItem, version: int | None = None) -> ErpEvent | None:
    """The send or resend event that submitted `version` (default: the item's latest)."""
    return _submissions(
        type(item), item.pk, version if version is not None else item.erp_version
    ).first()


@dataclass(frozen=True)
class ExportChecks:
    """What an export worker asks about an item it has locked, in one query (erpsync.exports)."""

    connector_claimed: bool  # a live claim of the company's connector holds it
    leased: bool  # another worker's live lease holds it
    tried: bool  # an attempt with this key exists: an earlier try may have reached the ERP
    snapshot: dict[str, Any] | None  # what `version` was submitted with


def export_checks(model: type[ErpItem], item_id: int, version: int, key: str) -> ExportChecks:
    """One statement of its own, run once the item's row is locked, so that it sees every
    lease and claim committed until now (erpsync.exports._claim)."""
    row = (
        model.objects.filter(pk=item_id)
        .annotate(
            claimed=Exists(live_connector_claims(model).filter(object_id=OuterRef("pk"))),
            leased=Exists(worker_leases(model).filter(object_id=OuterRef("pk"))),
            tried=Exists(ExportAttempt.objects.filter(idempotency_key=key)),
            snapshot=Subquery(
                _submissions(model, OuterRef("pk"), version).values("snapshot")[:1],
                output_field=JSONField(),
            ),
        )
        .values_list("claimed", "leased", "tried", "snapshot")
        .get()
    )
    return ExportChecks(*row)


def latest_event_id(item: ErpItem) -> int:
    """The id of the item's newest audit row (0 when it has none): a form carries it, so that a
    save can tell whether anything changed since the form was opened."""
    return (
        ErpEvent.objects.filter(
            content_type=ContentType.objects.get_for_model(item), object_id=item.pk
        )
        .order_by("-id")
        .values_list("id", flat=True)
        .first()
        or 0
    )


def events_since(item: ErpItem, event_id: int) -> list[ErpEvent]:
    """The item's audit rows written after `event_id`, oldest first, with their actors."""
    return list(
        ErpEvent.objects.filter(
            content_type=ContentType.objects.get_for_model(item),
            object_id=item.pk,
            id__gt=event_id,
        )
        .select_related("actor")
        .order_by("id")
    )


def erp_history(item: ErpItem) -> list[ErpEvent]:
    """Every audit row of the item, oldest first, with its actor."""
    return list(
        ErpEvent.objects.filter(
            content_type=ContentType.objects.get_for_model(item), object_id=item.pk
        )
        .select_related("actor")
        .order_by("created_at", "id")
    )


@dataclass(frozen=True)
class HistoryRow:
    """One audit row as an item page shows it: the version it concerned, as it was submitted
    then (not as the item is now), and an edit's changes labelled in the company's terms."""

    event: ErpEvent
    version_summary: str
    changes: list[Change]


def history_rows(item: ErpItem) -> list[HistoryRow]:
    events = erp_history(item)
    submitted = {
        e.version: e.snapshot
        for e in events
        if e.action in (ErpAction.SEND, ErpAction.RESEND) and e.snapshot
    }
    fmt, terms = item.erp_snapshot_format, terms_for(item.erp_company)
    rows = []
    for event in events:
        snapshot = submitted.get(event.version) if event.version else None
        summary = type(item).erp_snapshot_summary(snapshot) if snapshot else ""
        changes = (event.details or {}).get("changes") or {}
        rows.append(HistoryRow(event, summary, edit_changes(fmt, changes, terms)))
    return rows


def live_connector_claims(model: type[ErpItem]) -> QuerySet[ConnectorClaim]:
    """The model's connector claims that hold their item now: neither reported nor expired."""
    return ConnectorClaim.objects.filter(
        content_type=ContentType.objects.get_for_model(model),
        reported_at__isnull=True,
        expires_at__gt=timezone.now(),
    )


def worker_leases(model: type[ErpItem]) -> QuerySet[ExportAttempt]:
    """The model's exports a worker is running now (a live lease, erpsync.exports)."""
    lease = timezone.now() - timedelta(seconds=settings.ERP_EXPORT_LEASE_SECONDS)
    return ExportAttempt.objects.filter(
        content_type=ContentType.objects.get_for_model(model),
        outcome=ExportOutcome.STARTED,
        started_at__gte=lease,
    )


def export_holds(model: type[ErpItem]) -> QuerySet[ExportAttempt]:
    """The model's export attempts that hold their item now: a worker's live lease, or a
    transient failure whose retry is still scheduled (its backoff has not run out). The sweeper
    leaves such items alone, and so does a batch claim (erpsync.batch_exports): the retry's own
    task takes the item when its countdown ends."""
    now = timezone.now()
    lease = timedelta(seconds=settings.ERP_EXPORT_LEASE_SECONDS)
    retry_window = lease + timedelta(seconds=settings.ERP_EXPORT_BACKOFF_MAX_SECONDS * 1.5)
    attempts = ExportAttempt.objects.filter(content_type=ContentType.objects.get_for_model(model))
    return worker_leases(model) | attempts.filter(
        outcome=ExportOutcome.TRANSIENT, finished_at__gte=now - retry_window
    )


def held_ids(model: type[ErpItem], ids: list[int], holds: Iterable[QuerySet[Any]]) -> set[int]:
    """Which of `ids` one of `holds` (querysets with an `object_id`) holds now: one query, a
    statement of its own so that it sees whatever committed until now."""
    held = [Exists(h.filter(object_id=OuterRef("pk"))) for h in holds]
    if not ids or not held:
        return set()
    either = held[0]
    for more in held[1:]:
        either |= more
    return set(model.objects.filter(pk__in=ids).filter(either).values_list("pk", flat=True))


def lock_unheld_accepted[Item: ErpItem](
    model: type[Item],
    company: Company,
    limit: int,
    *,
    holds: Iterable[QuerySet[Any]],
    seen: Iterable[int] = (),
) -> list[Item]:
    """Up to `limit` of the company's accepted items of this kind, oldest accepted first, that
    none of `holds` (querysets with an `object_id`) holds and not in `seen`, locked with SKIP
    LOCKED: rows another worker or claimer has locked are passed over, not waited for. Call
    inside a transaction. Whoever committed a hold after a statement began, but before its
    rows were locked, is invisible to it: the holds are asked again (held_ids) once the rows
    are ours, and the held ones are left out (and looked past)."""
    holds = list(holds)
    found: list[Item] = []
    passed = list(seen)
    while len(found) < limit:
        rows = model.objects.select_for_update(skip_locked=True, of=("self",))
        rows = rows.select_related(*model.erp_related).for_company(company)
        rows = rows.filter(erp_state=ErpState.ACCEPTED)
        for held in holds:
            rows = rows.exclude(pk__in=held.values("object_id"))
        batch = list(
            rows.exclude(pk__in=passed).order_by("erp_changed_at", "pk")[: limit - len(found)]
        )
        if not batch:
            break
        passed += [row.pk for row in batch]
        held_now = held_ids(model, [row.pk for row in batch], holds)
        found += [row for row in batch if row.pk not in held_now]
        if not held_now:
            break
    return found


def stale_export_items[Item: ErpItem](model: type[Item]) -> QuerySet[Item]:
    """Accepted items whose export has not finished in time and that nothing is working on:
    accepted more than ERP_SWEEP_AFTER_SECONDS ago, no worker holding a live lease, no retry
    still scheduled, and not queued again by an approver within that time either. Their
    publish was lost, or no worker runs. The one statement of the rule: beat's sweeper
    requeues these, and approvers get "Export now" on them.

    Never an item of a company whose own connector pulls its items (Capability.PULL): it waits
    for the connector, which nothing here can hurry; nor one a connector's claim still holds."""
    now = timezone.now()
    cutoff = now - timedelta(seconds=settings.ERP_SWEEP_AFTER_SECONDS)
    content_type = ContentType.objects.get_for_model(model)
    held = export_holds(model).values("object_id")
    requeued = ErpEvent.objects.filter(
        content_type=content_type,
        object_id=OuterRef("pk"),
        action=ErpAction.REQUEUE_EXPORT,
        created_at__gt=cutoff,
    )
    pulling = {f"{model.erp_company_path}__erp_adapter__in": pull_adapter_keys()}
    return (
        model.objects.filter(erp_state=ErpState.ACCEPTED, erp_changed_at__lte=cutoff)
        .exclude(**pulling)
        .exclude(pk__in=held)
        .exclude(pk__in=live_connector_claims(model).values("object_id"))
        .exclude(Exists(requeued))
    )


# ----- the pull connector's export queue (erpsync.connector) ---------------------------------


@dataclass(frozen=True)
class QueueRow:
    """An accepted item waiting for the company's connector, with the live claim on it."""

    item: ErpItem
    claim: ConnectorClaim | None


@dataclass(frozen=True)
class ConnectorQueue:
    waiting: int  # accepted and not claimed: the next claim may take them
    claimed: int  # held by a live claim
    oldest_accepted_at: datetime | None
    rows: list[QueueRow]  # the oldest, claimed or not


def connector_claims_of(model: type[ErpItem], ids: list[int]) -> dict[int, ConnectorClaim]:
    """Item id → the live connector claim holding it, for these items of one kind."""
    claims = live_connector_claims(model).filter(object_id__in=ids).order_by("expires_at")
    return {claim.object_id: claim for claim in claims.select_related("claimed_by")}


def connector_queue(company: Company, *, limit: int = 100) -> ConnectorQueue:
    """What waits for the company's connector: every kind's accepted items, oldest accepted
    (or retried) first, with who holds a claim on each until when. A fixed number of queries
    per kind."""
    waiting = claimed = 0
    oldest: datetime | None = None
    rows: list[QueueRow] = []
    for model in erp_item_models():
        accepted = model.objects.for_company(company).filter(erp_state=ErpState.ACCEPTED)
        held = accepted.filter(pk__in=live_connector_claims(model).values("object_id")).count()
        total = accepted.count()
        waiting, claimed = waiting + total - held, claimed + held
        items = list(
            accepted.select_related(*model.erp_related).order_by("erp_changed_at", "pk")[:limit]
        )
        if (
            items
            and items[0].erp_changed_at
            and (oldest is None or items[0].erp_changed_at < oldest)
        ):
            oldest = items[0].erp_changed_at
        claims = connector_claims_of(model, [item.pk for item in items])
        rows += [QueueRow(item, claims.get(item.pk)) for item in items]
    rows.sort(key=lambda r: (r.item.erp_changed_at or timezone.now(), r.item.erp_kind, r.item.pk))
    return ConnectorQueue(waiting, claimed, oldest, rows[:limit])
