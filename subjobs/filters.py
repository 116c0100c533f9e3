"""The Sub Jobs list's search, filters and sorts (django-filter)."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from django.http import QueryDict

from erpsync.filters import erp_state_filter
from projects.listing import DayFilter, ListFilterSet, PersonFilter, SearchFilter, SortFilter
from projects.models import Company
from projects.selectors import company_people
from subjobs.models import SubJobStatus


class SubJobFilterSet(ListFilterSet):
    q = SearchFilter(label="Search", fields=("code", "name"))
    status = django_filters.ChoiceFilter(
        label="Status", choices=SubJobStatus.choices, empty_label="Any status"
    )
    erp_state = erp_state_filter()
    sender = PersonFilter(field_name="erp_sent_by", label="Sent to ERP by", empty_label="Anyone")
    created_from = DayFilter(field_name="created_at", end=False, label="Created from")
    created_to = DayFilter(field_name="created_at", end=True, label="Created to")
    sort = SortFilter(
        sorts={
            "code": ("code",),
            "name": ("name",),
            "status": ("status",),
            "erp_state": ("erp_state",),
            "sent_at": ("erp_sent_at",),
            "created_at": ("created_at",),
        },
        default=("code", "pk"),
    )

    ranges = (("created_from", "created_to", "The end date is before the start date."),)

    def __init__(self, data: QueryDict, queryset: QuerySet[Any], *, company: Company) -> None:
        super().__init__(data, queryset)
        self.filters["sender"].queryset = company_people(company)
