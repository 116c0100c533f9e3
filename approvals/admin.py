from django.contrib import admin

from approvals.models import UsedEmailLink
from erpsync.admin import ReadOnlyAdminMixin


@admin.register(UsedEmailLink)
class UsedEmailLinkAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Written only when a link from an email decides: shown here for the record."""

    list_display = ("used_at", "user", "action")
    list_select_related = ("user",)
