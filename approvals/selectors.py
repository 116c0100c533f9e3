"""Reads for the ERP Integrations tool. Each page costs the same few queries however many
items wait: one count query per kind, one page of rows with everything a row shows joined."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.contrib.contenttypes.prefetch import GenericPrefetch
from django.core.paginator import Page
from django.db.models import QuerySet
from django.http import QueryDict
from django.urls import reverse

from approvals.filters import HistoryFilterSet, queue_filterset
from approvals.kinds import Kind
from erpsync.approval import accept_decisions, approval_states
from erpsync.filters import erp_csv_columns
from erpsync.models import ErpEvent, ErpItem
from erpsync.selectors import connector_claims_of, stale_export_items, state_counts
from erpsync.states import ErpAction, ErpState
from erpsync.updates import with_update_state
from projects.listing import Column, Listing, attr, build_listing
from projects.models import Company, CompanyMembership


@dataclass(frozen=True)
class Filter:
    key: str
    label: str
    states: tuple[str, ...]
    order: tuple[str, ...]


FILTERS = {
    f.key: f
    for f in (
        Filter(
            "ready",
            "Ready to Export",
            (ErpState.PENDING, ErpState.PARTIALLY_APPROVED),
            ("erp_sent_at", "pk"),
        ),
        # Synced items with a change waiting (erpsync.updates): update requests, not states.
        Filter("update", "Ready to Update", (), ()),
        Filter("exporting", "Exporting", (ErpState.ACCEPTED,), ("erp_accepted_at", "pk")),
        Filter("failed", "Failed to Export", (ErpState.EXPORT_FAILED,), ("-erp_changed_at", "pk")),
        Filter("synced", "Synced", (ErpState.SYNCED,), ("-erp_changed_at", "pk")),
        Filter("history", "Rejected and Retrieved", (), ()),
        # Items unlinked from the ERP (erpsync.unlink), whatever they are now; no count.
        Filter("archived", "Archived", (), ("-erp_unlinked_at", "pk")),
    )
}
ARCHIVED = "archived"


def filter_counts(company: Company) -> dict[str, dict[str, int]]:
    """{kind: {filter: count}}, from the core's counts per state (one query per kind). Ready to
    Update is counted on its own page only, which has the count anyway: the other lists keep
    their queries."""
    return {
        kind: {
            f.key: sum(by_state.get(s, 0) for s in f.states) for f in FILTERS.values() if f.states
        }
        for kind, by_state in state_counts(company).items()
    }


def queue_listing(
    company: Company, kind: Kind, filter_: Filter, data: QueryDict, *, total: int | None = None
) -> Listing:
    """One page of a state's items, searched, filtered and sorted as `data` (request.GET) asks.

    The same few queries at any size: the page's count and rows, and the filter bar's project
    and people choices. Synced stays grouped by project whatever the sort.
    """
    model = kind.model
    rows: QuerySet[ErpItem] = model.erp_queue(company)
    if filter_.key == ARCHIVED:
        rows = rows.filter(erp_unlinked_at__isnull=False).select_related("erp_unlinked_by")
    else:
        rows = rows.filter(erp_state__in=filter_.states)
    if filter_.key == "synced":
        rows = with_update_state(rows)  # "Update pending" beside the GREEN icon
    lead = (f"{model.erp_project_path}__number",) if filter_.key == "synced" else ()
    filters = queue_filterset(model)(data, rows, company=company, default=filter_.order, lead=lead)
    path = reverse("erp_queue", args=[company.slug, kind.key, filter_.key])
    listing = build_listing(filters, path, total=total)
    if filter_.key == "exporting" and listing.page is not None:
        _mark_stuck(model, listing.page)
    return listing


def _mark_stuck(model: type[ErpItem], page: Page) -> None:
    """Set `erp_export_stuck` on each row of an Exporting page (one query for the page): its
    export has not finished in time and nothing is working on it, so approvers get Export
    now (the sweeper's own rule, erpsync.selectors.stale_export_items). For a company whose
    connector pulls its items, set `erp_connector_claim` instead (the live claim, or None
    while the item waits to be claimed)."""
    items = list(page.object_list)
    if items and items[0].erp_pulled:
        # The company's own connector pulls them: they wait for it, none is ever "stuck".
        claims = connector_claims_of(model, [i.pk for i in items])
        for item in items:
            item.erp_export_stuck = False
            item.erp_connector_claim = claims.get(item.pk)
        page.object_list = items
        return
    stuck = set(
        stale_export_items(model).filter(pk__in=[i.pk for i in items]).values_list("pk", flat=True)
    )
    for item in items:
        item.erp_export_stuck = item.pk in stuck
    page.object_list = items


def history_listing(company: Company, kind: Kind, data: QueryDict) -> Listing:
    """Who rejected or retrieved which item, newest first: the items that left the tool."""
    events = (
        ErpEvent.objects.filter(
            company=company,
            content_type=ContentType.objects.get_for_model(kind.model),
            action__in=[ErpAction.REJECT, ErpAction.RETRIEVE],
        )
        .select_related("actor")
        .prefetch_related(GenericPrefetch("item", [kind.model.erp_queue(company)]))
    )
    filters = HistoryFilterSet(data, events, company=company, model=kind.model)
    listing = build_listing(filters, reverse("erp_queue", args=[company.slug, kind.key, "history"]))
    if listing.page is not None:
        _attach_versions(kind.model, listing.page)
    return listing


def _attach_versions(model: type[ErpItem], page: Page) -> None:
    """Set `version_summary` on each event of a history page: the version it concerned, as it
    was submitted then (one query for the page), never the item as it is now."""
    events = list(page.object_list)
    wanted = {(e.object_id, e.version) for e in events if e.version}
    snapshots = {
        (s.object_id, s.version): s.snapshot
        for s in ErpEvent.objects.filter(
            content_type=ContentType.objects.get_for_model(model),
            object_id__in={object_id for object_id, _ in wanted},
            action__in=[ErpAction.SEND, ErpAction.RESEND],
        ).only("object_id", "version", "snapshot")
        if (s.object_id, s.version) in wanted
    }
    for event in events:
        snapshot = snapshots.get((event.object_id, event.version))
        event.version_summary = model.erp_snapshot_summary(snapshot) if snapshot else ""
    page.object_list = events


def _of_project(kind: Kind, name: str) -> Column:
    return ("Project" if name == "number" else "Project name"), attr(
        kind.model.erp_project_path.replace("__", ".") + "." + name
    )


def queue_csv_columns(company: Company, kind: Kind) -> list[Column]:
    """Project, the kind's own columns, then the ERP columns every item has."""
    own = [(title, attr(path)) for title, path in kind.model.erp_csv_columns(company)]
    return [_of_project(kind, "number"), _of_project(kind, "name"), *own, *erp_csv_columns()]


def history_csv_columns(company: Company, kind: Kind) -> list[Column]:
    """When, the item (as in the queues), what happened, who and why."""

    def of_item(column: Column) -> Column:
        title, get = column
        return title, lambda event: None if event.item is None else get(event.item)

    own = [(title, attr(path)) for title, path in kind.model.erp_csv_columns(company)]
    return [
        ("When", attr("created_at")),
        *(of_item(c) for c in [_of_project(kind, "number"), _of_project(kind, "name"), *own]),
        ("What", attr("done_label")),
        ("Who", attr("actor_name")),
        ("Version", attr("version")),
        ("Reason", attr("reason")),
    ]


def with_approvals[Item: ErpItem](
    items: list[Item],
    company: Company,
    user: Any,
    membership: CompanyMembership,
    *,
    decides: bool,
) -> list[Item]:
    """Set on each item its approvals so far (`erp_approval`: what it needs, who approved,
    '1 of 2 approvals') and, when the user decides this kind (`decides`), their Accept
    decision with every reason (`erp_accept`). The same few queries for a page of any
    size: erpsync.approval reads the whole page at once, never item by item."""
    if not items:
        return items
    states = approval_states(items, company)
    decisions = accept_decisions(items, user, membership, company, states) if decides else {}
    for item in items:
        item.erp_approval = states[item.pk]
        item.erp_accept = decisions.get(item.pk)
    return items


def queue_item(company: Company, kind: Kind, item_id: int) -> ErpItem | None:
    return kind.model.erp_queue(company).filter(pk=item_id).first()
