"""Outbound event webhooks: a company's subscriptions, and the outbox of their deliveries."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone

# Longest URL a subscription may hold.
URL_LIMIT = 500


class EventType(models.TextChoices):
    """What a subscription can listen to; each is one kind of the core's ItemTransitioned or
    UpdateTransitioned."""

    SENT = "item.sent", "Sent to ERP"
    RESENT = "item.resent", "Resent to ERP"
    RETRIEVED = "item.retrieved", "Retrieved from ERP"
    REJECTED = "item.rejected", "Rejected"
    APPROVAL_ADDED = "item.approval_added", "Approved, more approvals needed"
    ACCEPTED = "item.accepted", "Accepted"
    SYNCED = "item.synced", "Synced"
    EXPORT_FAILED = "item.export_failed", "Export failed"
    UNLINKED = "item.unlinked", "Unlinked from ERP"
    # Ready to Update: a synced item's change, from its request to the ERP's answer.
    UPDATE_REQUESTED = "item.update_requested", "Update requested"
    UPDATE_ACCEPTED = "item.update_accepted", "Update accepted"
    UPDATE_SYNCED = "item.update_synced", "Update synced"
    UPDATE_FAILED = "item.update_failed", "Update failed"
    UPDATE_REJECTED = "item.update_rejected", "Update rejected"


# Sent only by the settings page's "Send test event", whatever the subscription listens to.
TEST_EVENT = "webhook.test"


class WebhookSubscription(models.Model):
    """A URL an ERP tool Admin subscribed to some of the company's events.

    The secret signs every delivery (HMAC-SHA256, as the webhook ERP adapter signs its
    requests). While a rotation is under way `previous_secret` is set and deliveries carry a
    second signature made with it, until the Admin ends the rotation or
    WEBHOOK_ROTATION_HOURS pass.
    """

    company = models.ForeignKey(
        "projects.Company", on_delete=models.CASCADE, related_name="webhook_subscriptions"
    )
    url = models.URLField("URL", max_length=URL_LIMIT)
    events = models.JSONField(default=list, help_text="The EventType values it receives.")
    secret = models.CharField(max_length=100)
    previous_secret = models.CharField(max_length=100, blank=True)
    rotated_at = models.DateTimeField(null=True, blank=True)
    active = models.BooleanField(default=True)
    # Tries that failed in a row, over every delivery, and when that run of failures began.
    consecutive_failures = models.PositiveIntegerField(default=0)
    failing_since = models.DateTimeField(null=True, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.url

    @property
    def rotation_ends_at(self) -> datetime | None:
        if not self.previous_secret or self.rotated_at is None:
            return None
        return self.rotated_at + timedelta(hours=settings.WEBHOOK_ROTATION_HOURS)

    def secrets(self, now: datetime | None = None) -> list[str]:
        """The keys a delivery is signed with: the secret, then any previous one still valid."""
        ends = self.rotation_ends_at
        if ends is not None and (now or timezone.now()) < ends:
            return [self.secret, self.previous_secret]
        return [self.secret]

    @property
    def rotating(self) -> bool:
        return len(self.secrets()) > 1

    def event_labels(self) -> list[str]:
        labels = dict(EventType.choices)
        return [labels.get(e, e) for e in self.events]


class DeliveryState(models.TextChoices):
    PENDING = "pending", "Not tried yet"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed, will retry"
    GAVE_UP = "gave_up", "Gave up"


# Rows a worker may still send.
OPEN_STATES = (DeliveryState.PENDING, DeliveryState.FAILED)


class WebhookDelivery(models.Model):
    """One event for one subscription: an outbox row written in the event's transaction.

    A worker POSTs it after commit; a failed try is retried with a backoff by the sweeper
    until it is delivered or WEBHOOK_GIVE_UP_HOURS after the event, then it has given up.
    The payload is built in the event's transaction, so it shows the item as the transition
    left it, whenever it is sent. Every try sends the same body and the same event id.
    """

    subscription = models.ForeignKey(
        WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    event_id = models.UUIDField(default=uuid.uuid4)
    event_type = models.CharField(max_length=40)
    payload = models.JSONField(encoder=DjangoJSONEncoder)
    state = models.CharField(
        max_length=10, choices=DeliveryState.choices, default=DeliveryState.PENDING
    )
    tries = models.PositiveIntegerField(default=0)
    next_try_at = models.DateTimeField(default=timezone.now)
    lease_until = models.DateTimeField(null=True, blank=True)
    last_status = models.PositiveIntegerField("last response status", null=True, blank=True)
    last_response = models.TextField("last response body (excerpt)", blank=True)
    last_error = models.TextField(blank=True)
    last_try_at = models.DateTimeField(null=True, blank=True)
    last_duration_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "event_id"], name="webhookdelivery_one_per_event"
            )
        ]
        indexes = [
            models.Index(
                fields=["next_try_at"],
                name="webhookdelivery_open_idx",
                condition=models.Q(state__in=["pending", "failed"]),
            ),
            models.Index(fields=["subscription", "-created_at"], name="webhookdelivery_log_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} to {self.subscription_id}: {self.state}"

    @property
    def event_label(self) -> str:
        if self.event_type == TEST_EVENT:
            return "Test event"
        return dict(EventType.choices).get(self.event_type, self.event_type)
