"""Forms of the Prime Contracts and Invoicing tools. They only read input: every write goes
through invoicing.services, whose ValidationErrors the views put back at the field."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet

from erpsync.forms import FullInput
from invoicing.models import (
    ZERO,
    BillingPeriod,
    ContractStatus,
    InvoiceLine,
    InvoiceStatus,
    OwnerInvoice,
)
from projects.models import Project

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class PrimeContractForm(FullInput, forms.Form):
    number = forms.CharField(max_length=30)
    title = forms.CharField(max_length=200)
    owner_client = forms.CharField(max_length=200)
    status = forms.ChoiceField(choices=ContractStatus.choices, initial=ContractStatus.DRAFT)
    private = forms.BooleanField(
        required=False,
        help_text="Only tool admins and the listed members see a private contract.",
    )


class PrimeContractStatusForm(FullInput, forms.Form):
    status = forms.ChoiceField(choices=ContractStatus.choices)


class BillingPeriodForm(FullInput, forms.Form):
    number = forms.IntegerField(min_value=1)
    start_date = forms.DateField(label="Start", widget=DATE)
    end_date = forms.DateField(label="End", widget=DATE)
    due_date = forms.DateField(label="Due", widget=DATE)


def _periods(project: Project) -> QuerySet[BillingPeriod]:
    return BillingPeriod.objects.filter(project=project).order_by("number")


class OwnerInvoiceForm(FullInput, forms.Form):
    """Number, billing period (of this project only) and status: for New invoice and Edit."""

    number = forms.CharField(max_length=30)
    billing_period = forms.ModelChoiceField(
        queryset=BillingPeriod.objects.none(), required=False, empty_label="— none yet —"
    )
    status = forms.ChoiceField(choices=InvoiceStatus.choices, initial=InvoiceStatus.DRAFT)

    def __init__(self, *args: Any, project: Project, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["billing_period"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = _periods(project)


LINE_FIELDS = [
    "description",
    "scheduled_value",
    "work_completed_this_period",
    "materials_stored",
    "retainage_percent",
]


AMOUNT_FIELDS = LINE_FIELDS[1:]


class InvoiceLineForm(FullInput, forms.ModelForm):
    class Meta:
        model = InvoiceLine
        fields = LINE_FIELDS
        widgets = {"description": forms.TextInput(attrs={"size": 28})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in AMOUNT_FIELDS:
            self.fields[name].required = False  # blank counts as 0 (see clean)
        if self.instance.pk is None:
            # A new row starts blank, not 0.00: an untouched or cleared row is ignored.
            for name in LINE_FIELDS:
                self.initial.pop(name, None)
                self.fields[name].initial = None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        for name in AMOUNT_FIELDS:
            if name in cleaned and cleaned[name] is None:
                cleaned[name] = ZERO
        return cleaned


class BaseInvoiceLineFormSet(forms.BaseModelFormSet):
    def add_fields(self, form: forms.BaseForm, index: int | None) -> None:
        super().add_fields(form, index)
        # Django checks a row's id against every line in the table: only this invoice's count.
        id_field = form.fields["id"]
        assert isinstance(id_field, forms.ModelChoiceField)
        id_field.queryset = self.get_queryset()
        id_field.error_messages["invalid_choice"] = (
            "This line is no longer on this invoice: reload the page and try again."
        )


InvoiceLineFormSet = forms.modelformset_factory(
    InvoiceLine,
    form=InvoiceLineForm,
    formset=BaseInvoiceLineFormSet,
    fields=LINE_FIELDS,
    extra=2,
    can_delete=True,
    can_delete_extra=False,
)


def line_formset(invoice: OwnerInvoice, data: Any = None) -> forms.BaseModelFormSet:
    """The invoice's lines as a formset; the `id` of each row must be one of these lines."""
    return InvoiceLineFormSet(
        data, queryset=invoice.lines.order_by("position", "id"), prefix="lines"
    )
