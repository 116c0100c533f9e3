from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from erpsync.admin import ERP_FIELDSET, ErpEventInline, ErpItemAdminMixin, ExportAttemptInline
from subjobs.models import SubJob
from subjobs.services import (
    EDITABLE_FIELDS,
    sub_job_admin_create,
    sub_job_admin_delete,
    sub_job_admin_update,
)


@admin.register(SubJob)
class SubJobAdmin(ErpItemAdminMixin, admin.ModelAdmin):
    list_display = ("code", "name", "project", "status", "erp_state")
    list_filter = ("erp_state", "status", "project__company")
    search_fields = ("code", "name")
    list_select_related = ("project",)
    fieldsets = ((None, {"fields": ("project", "code", "name", "status")}), ERP_FIELDSET)
    inlines = [ErpEventInline, ExportAttemptInline]
    placed_by = "project"
    editable_fields = frozenset(EDITABLE_FIELDS)

    def service_create(self, request: HttpRequest, data: dict[str, Any]) -> SubJob:
        return sub_job_admin_create(
            project=data["project"],
            user=request.user,
            code=data["code"],
            name=data["name"],
            status=data["status"],
        )

    def service_update(self, request: HttpRequest, obj: SubJob, changes: dict[str, Any]) -> SubJob:
        return sub_job_admin_update(sub_job=obj, user=request.user, **changes)

    def service_delete(self, request: HttpRequest, obj: SubJob) -> None:
        sub_job_admin_delete(sub_job=obj, user=request.user)
