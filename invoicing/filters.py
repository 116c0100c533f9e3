"""The Prime Contracts and invoice lists' search, filters and sorts (django-filter)."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from django.http import QueryDict

from erpsync.filters import AmountFilter, erp_state_filter
from invoicing.models import ContractStatus, InvoiceStatus
from projects.listing import DayFilter, ListFilterSet, PersonFilter, SearchFilter, SortFilter
from projects.models import Company
from projects.selectors import company_people
from projects.terms import term

DATES_REVERSED = "The end date is before the start date."
# The selectors annotate each invoice with the sum of its lines' stored amounts due (0.00
# without lines): exactly the cents the invoice page shows.
AMOUNT_DUE = "amount_due_total"


class InvoiceFilterSet(ListFilterSet):
    q = SearchFilter(
        label="Search", fields=("number", "prime_contract__number", "prime_contract__title")
    )
    status = django_filters.ChoiceFilter(
        label="Status", choices=InvoiceStatus.choices, empty_label="Any status"
    )
    erp_state = erp_state_filter()
    sender = PersonFilter(field_name="erp_sent_by", label="Sent to ERP by", empty_label="Anyone")
    created_from = DayFilter(field_name="created_at", end=False, label="Created from")
    created_to = DayFilter(field_name="created_at", end=True, label="Created to")
    amount_min = AmountFilter(field_name=AMOUNT_DUE, lookup_expr="gte", label="Amount due from")
    amount_max = AmountFilter(field_name=AMOUNT_DUE, lookup_expr="lte", label="Amount due to")
    sort = SortFilter(
        sorts={
            "number": ("number",),
            "contract": ("prime_contract__number",),
            "period": ("billing_period__number",),
            "status": ("status",),
            "amount": (AMOUNT_DUE,),
            "erp_state": ("erp_state",),
            "created_at": ("created_at",),
        }
    )

    ranges = (
        ("created_from", "created_to", DATES_REVERSED),
        ("amount_min", "amount_max", "The upper amount is below the lower one."),
    )

    def __init__(
        self,
        data: QueryDict,
        queryset: QuerySet[Any],
        *,
        company: Company,
        default: tuple[str, ...],
    ) -> None:
        super().__init__(data, queryset)
        self.filters["sender"].queryset = company_people(company)
        self.filters["sort"].default = default
        self.filters["q"].label = f"Search (number, {term(company, 'prime_contract')})"


class ContractFilterSet(ListFilterSet):
    q = SearchFilter(label="Search", fields=("number", "title", "owner_client"))
    status = django_filters.ChoiceFilter(
        label="Status", choices=ContractStatus.choices, empty_label="Any status"
    )
    created_from = DayFilter(field_name="created_at", end=False, label="Created from")
    created_to = DayFilter(field_name="created_at", end=True, label="Created to")
    sort = SortFilter(
        sorts={
            "number": ("number",),
            "title": ("title",),
            "owner_client": ("owner_client",),
            "status": ("status",),
            "private": ("private",),
            "invoices": ("invoice_count",),
            "created_at": ("created_at",),
        },
        default=("number", "pk"),
    )

    ranges = (("created_from", "created_to", DATES_REVERSED),)
