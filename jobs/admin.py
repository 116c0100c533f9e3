from django.contrib import admin

from erpsync.admin import ErpEventInline, ReadOnlyAdminMixin
from jobs.models import Job


@admin.register(Job)
class JobAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read only: a job is created by its first send and changes only through the ERP
    transitions; it has no fields of its own to edit."""

    list_display = ("project", "erp_state", "erp_id", "erp_sent_at")
    list_filter = ("erp_state",)
    search_fields = ("project__number", "project__name")
    inlines = [ErpEventInline]
