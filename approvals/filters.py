"""The ERP Integrations tool's search, filters and sorts (django-filter), for every kind of item.

A kind says what its free text searches, what its Item column sorts by and which amount it
has (ErpItem.erp_search_fields, erp_sort_field, erp_amount_field); nothing here names a kind.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import django_filters
from django.db.models import QuerySet
from django.http import QueryDict

from erpsync.filters import AmountFilter
from erpsync.models import ErpItem
from erpsync.states import ErpAction
from projects.listing import DayFilter, ListFilterSet, PersonFilter, SearchFilter, SortFilter
from projects.models import Company
from projects.selectors import company_people, company_projects

# The search the links between the tool's states keep (each list reads those it has).
CARRIED = ("q", "project", "sender", "sent_from", "sent_to", "amount_min", "amount_max")
DATES_REVERSED = "The end date is before the start date."
AMOUNTS_REVERSED = "The upper amount is below the lower one."
PERSON_ORDER = ("last_name", "first_name", "username")


def _person(path: str) -> tuple[str, ...]:
    return tuple(f"{path}__{name}" for name in PERSON_ORDER)


class QueueFilterSet(ListFilterSet):
    """Ready to Export, Exporting, Failed to Export and Synced: the items of one state."""

    q = SearchFilter(label="Search")
    project = django_filters.ModelChoiceFilter(label="Project", empty_label="Any project")
    sender = PersonFilter(field_name="erp_sent_by", label="Sent by", empty_label="Anyone")
    sent_from = DayFilter(field_name="erp_sent_at", end=False, label="Sent from")
    sent_to = DayFilter(field_name="erp_sent_at", end=True, label="Sent to")

    ranges = (
        ("sent_from", "sent_to", DATES_REVERSED),
        ("amount_min", "amount_max", AMOUNTS_REVERSED),
    )
    model: type[ErpItem]

    def __init__(
        self,
        data: QueryDict,
        queryset: QuerySet[Any],
        *,
        company: Company,
        default: tuple[str, ...],
        lead: tuple[str, ...] = (),
    ) -> None:
        super().__init__(data, queryset)
        self.filters["project"].queryset = company_projects(company)
        self.filters["sender"].queryset = company_people(company)
        sort = self.filters["sort"]
        sort.default, sort.lead = default, lead


@cache
def queue_filterset(model: type[ErpItem]) -> type[QueueFilterSet]:
    """The queue FilterSet of one kind of item: its search fields, project path and sorts."""
    project = model.erp_project_path
    sorts = {
        "project": (f"{project}__number",),
        "item": (model.erp_sort_field,),
        "sender": _person("erp_sent_by"),
        "sent_at": ("erp_sent_at",),
        "waiting": ("-erp_sent_at",),
        "accepted_by": _person("erp_accepted_by"),
        "accepted_at": ("erp_accepted_at",),
        "tries": ("erp_export_attempts",),
        "erp_id": ("erp_id",),
        "changed_at": ("erp_changed_at",),
        "unlinked_at": ("erp_unlinked_at",),
        "unlinked_id": ("erp_unlinked_id",),
    }
    if model.erp_amount_field:
        sorts["amount"] = (model.erp_amount_field,)
    attrs: dict[str, Any] = {
        "model": model,
        "q": SearchFilter(label="Search", fields=model.erp_search_fields),
        "project": django_filters.ModelChoiceFilter(
            field_name=project, label="Project", empty_label="Any project"
        ),
        "sort": SortFilter(sorts=sorts),
    }
    if model.erp_amount_field:
        # An annotation of erp_queue (e.g. the sum of an invoice's lines, 0.00 without any).
        for name, lookup in (("amount_min", "gte"), ("amount_max", "lte")):
            attrs[name] = AmountFilter(
                field_name=model.erp_amount_field,
                lookup_expr=lookup,
                label=f"Amount due {'from' if lookup == 'gte' else 'to'}",
            )
    return type(f"{model.__name__}QueueFilterSet", (QueueFilterSet,), attrs)


HISTORY_ACTIONS = [(ErpAction.REJECT.value, "Rejected"), (ErpAction.RETRIEVE.value, "Retrieved")]


class HistoryFilterSet(ListFilterSet):
    """Rejected and Retrieved: audit rows, searched and filtered by the items they are about."""

    q = SearchFilter(label="Search", method="filter_items")
    project = django_filters.ModelChoiceFilter(
        label="Project", empty_label="Any project", method="filter_items"
    )
    action = django_filters.ChoiceFilter(
        label="What", choices=HISTORY_ACTIONS, empty_label="Rejected or retrieved"
    )
    who = PersonFilter(field_name="actor", label="Who", empty_label="Anyone")
    when_from = DayFilter(field_name="created_at", end=False, label="From")
    when_to = DayFilter(field_name="created_at", end=True, label="To")
    sort = SortFilter(
        sorts={
            "when": ("created_at",),
            "action": ("action", "created_at"),
            "who": _person("actor"),
        },
        default=("-created_at", "-pk"),
    )

    ranges = (("when_from", "when_to", DATES_REVERSED),)

    def __init__(
        self, data: QueryDict, queryset: QuerySet[Any], *, company: Company, model: type[ErpItem]
    ) -> None:
        super().__init__(data, queryset)
        self.model = model
        self.items = model.objects.for_company(company)
        self.filters["q"].fields = model.erp_search_fields
        self.filters["project"].queryset = company_projects(company)
        self.filters["who"].queryset = company_people(company)

    def filter_items(self, qs: QuerySet[Any], name: str, value: Any) -> QuerySet[Any]:
        if name == "q":
            items = self.items.filter(self.filters["q"].matching(value))
        else:
            items = self.items.filter(**{self.model.erp_project_path: value})
        return qs.filter(object_id__in=items.values("pk"))
