"""Reads for the ERP Integrations tool. Each page costs the same few queries however many
items wait: one count query per kind, one page of rows with everything a row shows joined."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.contenttypes.models import ContentType
from django.contrib.contenttypes.prefetch import GenericPrefetch
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet

from approvals.kinds import Kind
from erpsync.models import ErpEvent, ErpItem
from erpsync.selectors import stale_export_items, state_counts
from erpsync.states import ErpAction, ErpState
from projects.models import Company

PAGE_SIZE = 50


@dataclass(frozen=True)
class Filter:
    key: str
    label: str
    states: tuple[str, ...]
    order: tuple[str, ...]


FILTERS = {
    f.key: f
    for f in (
        Filter("ready", "Ready to Export", (ErpState.PENDING,), ("erp_sent_at", "pk")),
        Filter("exporting", "Exporting", (ErpState.ACCEPTED,), ("erp_accepted_at", "pk")),
        Filter("failed", "Failed to Export", (ErpState.EXPORT_FAILED,), ("-erp_changed_at", "pk")),
        Filter("synced", "Synced", (ErpState.SYNCED,), ("-erp_changed_at", "pk")),
        Filter("history", "Rejected and Retrieved", (), ()),
    )
}


def filter_counts(company: Company) -> dict[str, dict[str, int]]:
    """{kind: {filter: count}}, from the core's counts per state (one query per kind)."""
    return {
        kind: {
            f.key: sum(by_state.get(s, 0) for s in f.states) for f in FILTERS.values() if f.states
        }
        for kind, by_state in state_counts(company).items()
    }


def queue_page(company: Company, kind: Kind, filter_: Filter, page: int | str) -> Page:
    model = kind.model
    rows: QuerySet[ErpItem] = model.erp_queue(company).filter(erp_state__in=filter_.states)
    order = filter_.order
    if filter_.key == "synced":
        project = model.erp_project_path
        order = (f"{project}__number", *order)
    result = Paginator(rows.order_by(*order), PAGE_SIZE).get_page(page)
    if filter_.key == "exporting":
        _mark_stuck(model, result)
    return result


def _mark_stuck(model: type[ErpItem], page: Page) -> None:
    """Set `erp_export_stuck` on each row of an Exporting page (one query for the page): its
    export has not finished in time and nothing is working on it, so approvers get Export
    now (the sweeper's own rule, erpsync.selectors.stale_export_items)."""
    items = list(page.object_list)
    stuck = set(
        stale_export_items(model).filter(pk__in=[i.pk for i in items]).values_list("pk", flat=True)
    )
    for item in items:
        item.erp_export_stuck = item.pk in stuck
    page.object_list = items


def history_page(company: Company, kind: Kind, page: int | str) -> Page:
    """Who rejected or retrieved which item, newest first: the items that left the tool."""
    events = (
        ErpEvent.objects.filter(
            company=company,
            content_type=ContentType.objects.get_for_model(kind.model),
            action__in=[ErpAction.REJECT, ErpAction.RETRIEVE],
        )
        .select_related("actor")
        .prefetch_related(GenericPrefetch("item", [kind.model.erp_queue(company)]))
        .order_by("-created_at", "-pk")
    )
    return Paginator(events, PAGE_SIZE).get_page(page)


def queue_item(company: Company, kind: Kind, item_id: int) -> ErpItem | None:
    return kind.model.erp_queue(company).filter(pk=item_id).first()
