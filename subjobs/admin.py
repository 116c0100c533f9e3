from django.contrib import admin

from erpsync.admin import ERP_FIELDSET, ErpEventInline, ErpItemAdminMixin, ExportAttemptInline
from subjobs.models import SubJob


@admin.register(SubJob)
class SubJobAdmin(ErpItemAdminMixin, admin.ModelAdmin):
    list_display = ("code", "name", "project", "status", "erp_state")
    list_filter = ("erp_state", "status", "project__company")
    search_fields = ("code", "name")
    list_select_related = ("project",)
    fieldsets = ((None, {"fields": ("project", "code", "name", "status")}), ERP_FIELDSET)
    inlines = [ErpEventInline, ExportAttemptInline]
