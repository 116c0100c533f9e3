"""What a pull connector holds: one row per item it claimed (erpsync.connector)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone


class ClaimOutcome(models.TextChoices):
    SYNCED = "synced", "Synced"
    FAILED = "failed", "Failed"


class ConnectorClaim(models.Model):
    """One item a company's connector took from the export queue: its accepted version is the
    connector's to write into the ERP until `expires_at`. A claim is live while it is neither
    reported nor expired; an expired one puts the item back in the queue by itself (no sweeper
    needed) and stays here as history. Every item claimed in one call shares the `token`."""

    token = models.UUIDField(db_index=True)
    company = models.ForeignKey(
        "projects.Company", on_delete=models.CASCADE, related_name="connector_claims"
    )
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE)
    object_id = models.PositiveBigIntegerField()
    item = GenericForeignKey("content_type", "object_id")
    version = models.PositiveIntegerField()
    idempotency_key = models.CharField(max_length=200)
    claimed_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    reported_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=20, choices=ClaimOutcome.choices, blank=True)

    class Meta:
        ordering = ["claimed_at", "id"]
        indexes = [
            models.Index(
                fields=["content_type", "object_id", "expires_at"], name="connectorclaim_item_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.idempotency_key} claimed until {self.expires_at:%Y-%m-%d %H:%M:%S}"

    @property
    def live(self) -> bool:
        return self.reported_at is None and self.expires_at > timezone.now()
