from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from erpsync.admin import ERP_FIELDSET, ErpEventInline, ErpItemAdminMixin, ExportAttemptInline
from invoicing.models import BillingPeriod, InvoiceLine, OwnerInvoice, PrimeContract


@admin.register(PrimeContract)
class PrimeContractAdmin(admin.ModelAdmin):
    list_display = ("number", "title", "project", "owner_client", "status", "private")
    list_filter = ("status", "private", "project__company")
    search_fields = ("number", "title", "owner_client")
    filter_horizontal = ("private_members", "invoice_contacts")


@admin.register(BillingPeriod)
class BillingPeriodAdmin(admin.ModelAdmin):
    list_display = ("number", "project", "start_date", "end_date", "due_date")
    list_filter = ("project__company",)


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


@admin.register(InvoiceLine)
class InvoiceLineAdmin(admin.ModelAdmin):
    list_display = ("invoice", "position", "description", "amount_due")
    list_select_related = ("invoice",)
    readonly_fields = ("retainage_amount", "amount_due")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        locked = obj is not None and obj.invoice.erp_locked
        return not locked and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        locked = obj is not None and obj.invoice.erp_locked
        return not locked and super().has_delete_permission(request, obj)
