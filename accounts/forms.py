"""The API token form: it only reads input strictly (a field error for a day that does not
exist, never a 500); api.services.token_create checks everything again."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms

from projects.models import Company

EXPIRY_CHOICES = [("30", "In 30 days"), ("90", "In 90 days"), ("365", "In 365 days")]
ON_A_DATE = "date"


class ApiTokenForm(forms.Form):
    # No max_length: the service says what is too long at the field, nothing is cut short.
    name = forms.CharField(
        label="Name",
        help_text="What uses it, e.g. 'Month-end script' or 'BI dashboard'.",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    company = forms.ModelChoiceField(
        label="Company",
        queryset=Company.objects.none(),
        empty_label=None,
        help_text="A token works in one company only; another company's data answers 404.",
    )
    read_only = forms.BooleanField(
        label="Read only",
        required=False,
        help_text="It can read but never change anything, whatever you may do yourself.",
    )
    expiry = forms.ChoiceField(
        label="Expires",
        choices=[*EXPIRY_CHOICES, (ON_A_DATE, "On a day you choose")],
        initial="90",
    )
    expires_on = forms.DateField(
        label="Expiry day",
        required=False,
        input_formats=["%Y-%m-%d"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text="With 'On a day you choose': the token stops working at the end of this day.",
    )

    def __init__(self, *args: Any, companies: list[Company], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["company"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = Company.objects.filter(pk__in=[c.pk for c in companies]).order_by("name")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        wants_day = data.get("expiry") == ON_A_DATE
        if wants_day and not data.get("expires_on") and "expires_on" not in self.errors:
            self.add_error("expires_on", "Choose the day the token expires.")
        return data

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        on_a_date = data["expiry"] == ON_A_DATE
        expires_on: dt.date | None = data["expires_on"] if on_a_date else None
        return {
            "name": data["name"],
            "company": data["company"],
            "read_only": data["read_only"],
            "expires_in_days": None if on_a_date else int(data["expiry"]),
            "expires_on": expires_on,
        }
