from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db import models
from django.http import HttpRequest

from erpsync.admin import (
    ERP_FIELDSET,
    ErpEventInline,
    ErpItemAdminMixin,
    ExportAttemptInline,
    ServiceAdminMixin,
)
from erpsync.states import EDITABLE_STATES
from invoicing.models import BillingPeriod, InvoiceLine, OwnerInvoice, PrimeContract
from invoicing.services import (
    EDITABLE_LINE_FIELDS,
    invoice_line_admin_add,
    invoice_line_admin_delete,
    invoice_line_admin_update,
    owner_invoice_admin_create,
    owner_invoice_admin_delete,
    owner_invoice_admin_update,
)


@admin.register(PrimeContract)
class PrimeContractAdmin(admin.ModelAdmin):
    list_display = ("number", "title", "project", "owner_client", "status", "private")
    list_filter = ("status", "private", "project__company")
    search_fields = ("number", "title", "owner_client")
    filter_horizontal = ("private_members", "invoice_contacts")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # Its invoices, sent ones included, would move with it to another project.
        fields = tuple(super().get_readonly_fields(request, obj))
        return (*fields, "project") if obj is not None else fields


@admin.register(BillingPeriod)
class BillingPeriodAdmin(admin.ModelAdmin):
    list_display = ("number", "project", "start_date", "end_date", "due_date")
    list_filter = ("project__company",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = tuple(super().get_readonly_fields(request, obj))
        return (*fields, "project") if obj is not None else fields

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A period's dates are part of its invoices: not while one is with the ERP tool.
        if obj is not None and obj.invoices.exclude(erp_state__in=EDITABLE_STATES).exists():
            return False
        return super().has_change_permission(request, obj)


class InvoiceLineInline(admin.TabularInline):
    model = InvoiceLine
    extra = 0
    readonly_fields = ("retainage_amount", "amount_due")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return (obj is None or not obj.erp_locked) and super().has_change_permission(request, obj)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return (obj is None or not obj.erp_locked) and super().has_add_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return (obj is None or not obj.erp_locked) and super().has_delete_permission(request, obj)


def _line_fields(form: forms.BaseForm, names: Any) -> dict[str, Any]:
    return {name: form.cleaned_data[name] for name in names if name in EDITABLE_LINE_FIELDS}


@admin.register(OwnerInvoice)
class OwnerInvoiceAdmin(ErpItemAdminMixin, admin.ModelAdmin):
    list_display = ("number", "prime_contract", "billing_period", "status", "erp_state")
    list_filter = ("erp_state", "status", "prime_contract__project__company")
    search_fields = ("number",)
    list_select_related = ("prime_contract", "billing_period")
    fieldsets = (
        (None, {"fields": ("prime_contract", "billing_period", "number", "status")}),
        ERP_FIELDSET,
    )
    inlines = [InvoiceLineInline, ErpEventInline, ExportAttemptInline]
    placed_by = "prime_contract"
    editable_fields = frozenset({"number", "billing_period", "status"})

    def service_create(self, request: HttpRequest, data: dict[str, Any]) -> OwnerInvoice:
        return owner_invoice_admin_create(
            prime_contract=data["prime_contract"],
            user=request.user,
            number=data["number"],
            billing_period=data["billing_period"],
            status=data["status"],
        )

    def service_update(
        self, request: HttpRequest, obj: OwnerInvoice, changes: dict[str, Any]
    ) -> OwnerInvoice:
        return owner_invoice_admin_update(invoice=obj, user=request.user, **changes)

    def service_delete(self, request: HttpRequest, obj: OwnerInvoice) -> None:
        owner_invoice_admin_delete(invoice=obj, user=request.user)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        """The lines inline, each through the line services; the other inlines are read-only."""
        if formset.model is not InvoiceLine:
            super().save_formset(request, form, formset, change)
            return
        user, invoice = request.user, form.instance
        # What construct_change_message reads, as formset.save() would leave it.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for line_form in formset.initial_forms:
            line = line_form.instance
            if line_form in formset.deleted_forms:
                invoice_line_admin_delete(line=line, user=user)
                formset.deleted_objects.append(line)
            elif line_form.has_changed() and (
                fields := _line_fields(line_form, line_form.changed_data)
            ):
                invoice_line_admin_update(line=line, user=user, **fields)
                formset.changed_objects.append((line, list(fields)))
        for line_form in formset.extra_forms:
            if line_form.has_changed() and line_form not in formset.deleted_forms:
                fields = _line_fields(line_form, EDITABLE_LINE_FIELDS)
                added = invoice_line_admin_add(invoice=invoice, user=user, **fields)
                formset.new_objects.append(added)


@admin.register(InvoiceLine)
class InvoiceLineAdmin(ServiceAdminMixin, admin.ModelAdmin):
    list_display = ("invoice", "position", "description", "amount_due")
    list_select_related = ("invoice",)
    readonly_fields = ("retainage_amount", "amount_due")
    placed_by = "invoice"
    editable_fields = frozenset(EDITABLE_LINE_FIELDS)

    def formfield_for_foreignkey(
        self, db_field: models.ForeignKey, request: HttpRequest, **kwargs: Any
    ) -> Any:
        if db_field.name == "invoice":
            # A new line only on an invoice that can be edited.
            kwargs["queryset"] = OwnerInvoice.objects.filter(erp_state__in=EDITABLE_STATES)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        locked = obj is not None and obj.invoice.erp_locked
        return not locked and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        locked = obj is not None and obj.invoice.erp_locked
        return not locked and super().has_delete_permission(request, obj)

    def service_create(self, request: HttpRequest, data: dict[str, Any]) -> InvoiceLine:
        fields = {name: data[name] for name in EDITABLE_LINE_FIELDS if name in data}
        return invoice_line_admin_add(invoice=data["invoice"], user=request.user, **fields)

    def service_update(
        self, request: HttpRequest, obj: InvoiceLine, changes: dict[str, Any]
    ) -> InvoiceLine:
        return invoice_line_admin_update(line=obj, user=request.user, **changes)

    def service_delete(self, request: HttpRequest, obj: InvoiceLine) -> None:
        invoice_line_admin_delete(line=obj, user=request.user)
