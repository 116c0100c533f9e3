"""Filters the ERP item lists share: the ERP state, amounts read strictly, and the CSV columns
every item has. The list machinery itself is projects.listing."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms

from erpsync.fields import FiniteDecimalFormField
from erpsync.models import display_name
from erpsync.states import ErpState
from projects.listing import Column, attr


class AmountField(FiniteDecimalFormField):
    """An amount in dollars and cents: 'abc', 'NaN', 'sNaN' or '1e999' is 'Enter a number.'
    (or too many digits) at the field, never a 500; never a float."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_digits", 14)
        kwargs.setdefault("decimal_places", 2)
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "decimal", "size": 10}))
        super().__init__(**kwargs)


class AmountFilter(django_filters.NumberFilter):
    field_class = AmountField


def erp_state_filter(**kwargs: Any) -> django_filters.ChoiceFilter:
    kwargs.setdefault("label", "ERP state")
    return django_filters.ChoiceFilter(
        field_name="erp_state", choices=ErpState.choices, empty_label="Any", **kwargs
    )


def erp_csv_columns() -> list[Column]:
    """The ERP columns of any item's row in a CSV download."""
    return [
        ("ERP state", attr("get_erp_state_display")),
        ("Version", attr("erp_version")),
        ("Sent by", lambda item: display_name(item.erp_sent_by) if item.erp_sent_at else ""),
        ("Sent at", attr("erp_sent_at")),
        ("Accepted by", lambda i: display_name(i.erp_accepted_by) if i.erp_accepted_at else ""),
        ("Accepted at", attr("erp_accepted_at")),
        ("Export tries", attr("erp_export_attempts")),
        ("ERP id", attr("erp_id")),
        ("ERP error", attr("erp_error")),
    ]
