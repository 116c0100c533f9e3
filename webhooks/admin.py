from django.contrib import admin

from erpsync.admin import ReadOnlyAdminMixin
from webhooks.models import WebhookDelivery, WebhookSubscription


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Changed only through the audited settings pages; shown here for the record. The
    secrets are never shown."""

    list_display = ("url", "company", "active", "consecutive_failures", "created_at")
    list_filter = ("active",)
    list_select_related = ("company",)
    exclude = ("secret", "previous_secret")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("event_type", "subscription", "state", "tries", "last_status", "created_at")
    list_filter = ("state", "event_type")
    list_select_related = ("subscription",)
