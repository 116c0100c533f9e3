from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.contenttypes.admin import GenericTabularInline
from django.http import HttpRequest

from erpsync.models import ErpEvent, ExportAttempt, OutboxEmail, SandboxCall, SandboxRecord

ERP_READONLY_FIELDS = (
    "erp_state",
    "erp_version",
    "erp_id",
    "erp_rejection_reason",
    "erp_error",
    "erp_sent_at",
    "erp_sent_by",
    "erp_changed_at",
    "erp_changed_by",
)
ERP_FIELDSET = ("ERP", {"fields": ERP_READONLY_FIELDS})


class ReadOnlyAdminMixin:
    """The audit trail is written by services only; the admin shows it."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ErpItemAdminMixin:
    """Items with the ERP tool are read-only here too: the admin must not bypass the lock."""

    readonly_fields = ERP_READONLY_FIELDS
    inlines: list[type] = []

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.erp_locked:
            return False
        return super().has_change_permission(request, obj)  # type: ignore[misc]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and (obj.erp_locked or obj.erp_version):
            return False
        return super().has_delete_permission(request, obj)  # type: ignore[misc]


class ErpEventInline(ReadOnlyAdminMixin, GenericTabularInline):
    model = ErpEvent
    ct_field = "content_type"
    ct_fk_field = "object_id"
    extra = 0
    fields = ("created_at", "action", "from_state", "to_state", "actor", "reason", "version")
    readonly_fields = fields
    ordering = ("created_at", "id")
    show_change_link = True


@admin.register(ErpEvent)
class ErpEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "company", "content_type", "object_id", "action", "actor")
    list_filter = ("action", "company", "content_type")
    list_select_related = ("company", "content_type", "actor")
    date_hierarchy = "created_at"


@admin.register(SandboxRecord)
class SandboxRecordAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("erp_id", "company", "kind", "idempotency_key", "created_at")
    list_filter = ("company", "kind")


class ExportAttemptInline(ReadOnlyAdminMixin, GenericTabularInline):
    model = ExportAttempt
    ct_field = "content_type"
    ct_fk_field = "object_id"
    extra = 0
    fields = ("started_at", "finished_at", "version", "try_number", "outcome", "erp_id", "error")
    readonly_fields = fields


@admin.register(ExportAttempt)
class ExportAttemptAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("started_at", "company", "idempotency_key", "try_number", "outcome", "erp_id")
    list_filter = ("outcome", "company")
    search_fields = ("idempotency_key", "erp_id")


@admin.register(SandboxCall)
class SandboxCallAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "company", "idempotency_key", "outcome")
    list_filter = ("company", "outcome")


@admin.register(OutboxEmail)
class OutboxEmailAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "company", "kind", "recipient", "status", "tries", "sent_at")
    list_filter = ("status", "kind", "company")
    search_fields = ("recipient", "key")
    readonly_fields = ("last_error",)
