from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from projects.models import (
    Company,
    CompanyMembership,
    ExportRight,
    OutOfOffice,
    Project,
    ProjectMembership,
)


class CompanyMembershipInline(admin.TabularInline):
    model = CompanyMembership
    extra = 0
    autocomplete_fields = ("user",)


@admin.register(Company)
class CompanyAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "pov_dictionary", "erp_adapter")
    prepopulated_fields = {"slug": ("name",)}
    search_fields = ("name", "slug")
    inlines = [CompanyMembershipInline]


class ProjectMembershipInline(admin.TabularInline):
    model = ProjectMembership
    extra = 0
    autocomplete_fields = ("user",)


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ("number", "name", "company", "erp_synced", "erp_job_id")
    list_filter = ("company", "erp_synced")
    search_fields = ("number", "name")
    inlines = [ProjectMembershipInline]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # Its items, sent ones included, would move with it to another company's approvers.
        fields = tuple(super().get_readonly_fields(request, obj))
        return (*fields, "company") if obj is not None else fields


@admin.register(CompanyMembership)
class CompanyMembershipAdmin(admin.ModelAdmin):
    list_display = (
        "user",
        "company",
        "erp_tool_level",
        "can_push_to_accounting",
        "erp_digest_subscribed",
    )
    list_filter = ("company", "erp_tool_level", "can_push_to_accounting")


@admin.register(ProjectMembership)
class ProjectMembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "project", "admin_level", "prime_contracts_level", "commitments_level")
    list_filter = ("project__company",)


class ChangedInTheSettingsAdmin(admin.ModelAdmin):
    """Shown here, changed only on the company settings pages: their services check the rules
    and write the audit row naming who changed what."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ExportRight)
class ExportRightAdmin(ChangedInTheSettingsAdmin):
    list_display = ("membership", "kind")
    list_filter = ("kind", "membership__company")
    list_select_related = ("membership__user", "membership__company")


@admin.register(OutOfOffice)
class OutOfOfficeAdmin(ChangedInTheSettingsAdmin):
    list_display = ("membership", "starts_on", "ends_on", "delegate")
    list_filter = ("membership__company",)
    list_select_related = ("membership__user", "delegate__user")
