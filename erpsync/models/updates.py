"""Ready to Update: a change to a synced item, waiting for an approver or being exported.

The item stays synced (GREEN) throughout; the request is the update's own record and its
outbox: accepted, it is what the update worker exports (erpsync.update_exports), and the
sweeper finds the accepted ones nothing is working on.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone

from erpsync.adapters.base import IdempotencyKey


class UpdateState(models.TextChoices):
    PENDING = "pending", "Ready to Update"
    ACCEPTED = "accepted", "Updating"
    SYNCED = "synced", "Updated"
    FAILED = "failed", "Update failed"
    REJECTED = "rejected", "Update rejected"
    # The sender changed the field back to what the ERP has before anyone decided.
    WITHDRAWN = "withdrawn", "Withdrawn"


# An item has at most one of these at a time: the one its next edit amends or waits for.
OPEN_UPDATE_STATES = (UpdateState.PENDING, UpdateState.ACCEPTED, UpdateState.FAILED)


class UpdateRequest(models.Model):
    """One requested change of a synced item: `changes` is {field: [value in the ERP,
    requested value]}; `snapshot` the whole item as it will be once updated (what the
    adapter is sent). Its idempotency key is the synced version's key plus `:u<number>`."""

    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE)
    object_id = models.PositiveBigIntegerField()
    item = GenericForeignKey("content_type", "object_id")
    company = models.ForeignKey(
        "projects.Company", on_delete=models.CASCADE, related_name="update_requests"
    )
    number = models.PositiveIntegerField(help_text="1 for the item's first update, and so on.")
    item_version = models.PositiveIntegerField(help_text="The synced version it updates.")
    kind = models.CharField(max_length=40)
    state = models.CharField(
        max_length=20, choices=UpdateState.choices, default=UpdateState.PENDING
    )
    changes = models.JSONField(default=dict)
    # Goes up with every amendment before a decision: an Accept names the revision reviewed.
    revision = models.PositiveIntegerField(default=1)
    snapshot = models.JSONField(default=dict)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_at = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField("rejection reason", blank=True)
    error = models.TextField("last update error", blank=True)
    attempts = models.PositiveIntegerField(default=0)
    changed_at = models.DateTimeField(default=timezone.now)
    synced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["requested_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["content_type", "object_id", "number"], name="update_number_per_item"
            ),
            models.UniqueConstraint(
                fields=["content_type", "object_id"],
                condition=models.Q(state__in=["pending", "accepted", "failed"]),
                name="one_open_update_per_item",
            ),
        ]
        indexes = [
            models.Index(fields=["company", "state", "requested_at"], name="update_queue_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.idempotency_key}: {self.state}"

    @property
    def idempotency_key(self) -> str:
        return str(IdempotencyKey(self.kind, self.object_id, self.item_version, self.number))

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_UPDATE_STATES

    @property
    def requested(self) -> dict[str, Any]:
        """{field: requested value}: what the adapter is asked to set."""
        return {name: pair[1] for name, pair in self.changes.items()}
