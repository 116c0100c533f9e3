"""API tokens in the Django admin, read-only: a token is created and revoked by its own user
on their API tokens page (api.services audits both), and its hash is never shown."""

from __future__ import annotations

from django.contrib import admin

from api.models import ApiToken
from projects.admin import ChangedInTheSettingsAdmin


@admin.register(ApiToken)
class ApiTokenAdmin(ChangedInTheSettingsAdmin):
    fields = (
        "name",
        "user",
        "company",
        "shown_prefix",
        "read_only",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
    )
    list_display = fields
    list_filter = ("company", "read_only")
    search_fields = ("name", "lookup", "user__username", "user__email")
    readonly_fields = fields
    ordering = ("-created_at",)

    @admin.display(description="Token")
    def shown_prefix(self, token: ApiToken) -> str:
        return token.shown_prefix
