"""The company directory's search and sorts (django-filter)."""

from __future__ import annotations

import django_filters

from projects.listing import ListFilterSet, SearchFilter, SortFilter
from projects.models import ToolLevel

NAME = ("user__last_name", "user__first_name", "user__username")


class DirectoryFilterSet(ListFilterSet):
    q = SearchFilter(
        label="Search names",
        fields=("user__first_name", "user__last_name", "user__username", "user__email"),
    )
    erp_tool_level = django_filters.ChoiceFilter(
        label="ERP Integrations", choices=ToolLevel.choices, empty_label="Any level"
    )
    sort = SortFilter(
        sorts={
            "name": NAME,
            "username": ("user__username",),
            "email": ("user__email",),
            "erp_tool_level": ("erp_tool_level", *NAME),
        },
        default=(*NAME, "pk"),
    )
