from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from django.contrib import admin
from django.contrib.contenttypes.admin import GenericTabularInline
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.http import HttpRequest, HttpResponse

from erpsync.models import (
    Approval,
    ApprovalRule,
    ConnectorClaim,
    ErpEvent,
    ExportAttempt,
    KindPolicy,
    OutboxEmail,
    SandboxCall,
    SandboxRecord,
    StateCount,
    UpdateRequest,
)
from erpsync.states import ItemLocked
from erpsync.web import locked, refused

ERP_READONLY_FIELDS = (
    "erp_state",
    "erp_version",
    "erp_id",
    "erp_rejection_reason",
    "erp_error",
    "erp_sent_at",
    "erp_sent_by",
    "erp_accepted_at",
    "erp_accepted_by",
    "erp_export_attempts",
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


def _refusing(view: Callable[..., HttpResponse], request: HttpRequest, *args: Any) -> HttpResponse:
    """Run an admin view in one transaction; a service's refusal undoes all of it and answers
    with its reason (409 locked, 422 invalid) instead of a 500."""
    try:
        with transaction.atomic():
            return view(request, *args)
    except ItemLocked as error:
        return locked(request, error)
    except ValidationError as error:
        return refused(request, error.messages, 422, title="Not saved")


class ServiceAdminMixin:
    """Every write of this admin goes through the app's admin services (which check the
    admin's own permission, then the same lock, validation and audit row as the pages):
    add, change, delete, bulk delete and, through save_formset, inlines.

    `placed_by` is the foreign key that places a row (an item's project or contract, a line's
    invoice): chosen on add, never changed after, so nothing moves between parents here.
    """

    placed_by: ClassVar[str]
    editable_fields: ClassVar[frozenset[str]]

    def service_create(self, request: HttpRequest, data: dict[str, Any]) -> models.Model:
        raise NotImplementedError

    def service_update(
        self, request: HttpRequest, obj: Any, changes: dict[str, Any]
    ) -> models.Model:
        raise NotImplementedError

    def service_delete(self, request: HttpRequest, obj: Any) -> None:
        raise NotImplementedError

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Sequence[str]:
        fields = tuple(super().get_readonly_fields(request, obj))  # type: ignore[misc]
        return (*fields, self.placed_by) if obj is not None else fields

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if change:
            changes = {
                name: form.cleaned_data[name]
                for name in form.changed_data
                if name in self.editable_fields
            }
            self.service_update(request, obj, changes)
        else:
            saved = self.service_create(request, form.cleaned_data)
            # The admin goes on with its own instance (the response, its history entry).
            obj.pk, obj._state.adding = saved.pk, False
            obj.refresh_from_db()

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        self.service_delete(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: models.QuerySet[Any]) -> None:
        for obj in queryset:
            self.service_delete(request, obj)

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        view = super().changeform_view  # type: ignore[misc]
        return _refusing(view, request, object_id, form_url, extra_context)

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        view = super().delete_view  # type: ignore[misc]
        return _refusing(view, request, object_id, extra_context)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        # Its actions include "Delete selected".
        view = super().changelist_view  # type: ignore[misc]
        return _refusing(view, request, extra_context)


class ErpItemAdminMixin(ServiceAdminMixin):
    """Items with the ERP tool are read-only here too: the admin must not bypass the lock.
    The ERP fields are shown, never edited: only the transitions change them."""

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


@admin.register(ConnectorClaim)
class ConnectorClaimAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "idempotency_key",
        "company",
        "claimed_by",
        "claimed_at",
        "expires_at",
        "outcome",
    )
    list_filter = ("company", "outcome")
    search_fields = ("idempotency_key", "token")


@admin.register(SandboxCall)
class SandboxCallAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "company", "idempotency_key", "outcome")
    list_filter = ("company", "outcome")


@admin.register(StateCount)
class StateCountAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read only: the triggers write these rows (erpsync.counts); erp_counts checks them."""

    list_display = ("company_id", "kind", "state", "n")
    list_filter = ("kind", "state")


@admin.register(OutboxEmail)
class OutboxEmailAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "company", "kind", "recipient", "status", "tries", "sent_at")
    list_filter = ("status", "kind", "company")
    search_fields = ("recipient", "key")
    readonly_fields = ("last_error",)


# The approval policy is changed on the company settings pages (audited); shown here only.
@admin.register(ApprovalRule)
class ApprovalRuleAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("company", "kind", "min_amount", "approvals_required", "needs_tool_admin")
    list_filter = ("company", "kind")


@admin.register(KindPolicy)
class KindPolicyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("company", "kind", "direct_export")
    list_filter = ("company",)


@admin.register(Approval)
class ApprovalAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "content_type", "object_id", "version", "approver")
    list_select_related = ("content_type", "approver")


# Ready to Update: decided in the ERP Integrations tool (audited); shown here only.
@admin.register(UpdateRequest)
class UpdateRequestAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("requested_at", "company", "kind", "object_id", "number", "state")
    list_filter = ("state", "kind", "company")
    list_select_related = ("company",)
