"""Personal API tokens: shown once, stored hashed, scoped to one company."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from projects.models import Company

TOKEN_PREFIX = "esk"


def hash_token(raw: str) -> str:
    # The secret part is 256 random bits, so a plain SHA-256 is as strong as a slow hash here
    # and keeps every request's lookup cheap.
    return hashlib.sha256(raw.encode()).hexdigest()


def new_raw_token() -> tuple[str, str]:
    """(lookup id, the whole token): `esk_<id>_<secret>`; only the id and the hash are kept."""
    lookup = secrets.token_hex(6)
    return lookup, f"{TOKEN_PREFIX}_{lookup}_{secrets.token_urlsafe(32)}"


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def usable(self) -> ApiTokenQuerySet:
        now = timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=now)
        )


class ApiToken(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    lookup = models.CharField(max_length=12, unique=True)
    hashed = models.CharField(max_length=64)
    read_only = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects: Any = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.shown_prefix})"

    @property
    def shown_prefix(self) -> str:
        return f"{TOKEN_PREFIX}_{self.lookup}_…"


class IdempotencyRecord(models.Model):
    """The stored answer to a write sent with an `Idempotency-Key` (api.idempotency).

    A row is inserted when such a request starts and committed in the same transaction as the
    view's effects and its answer, so a committed row always holds a complete answer: a
    concurrent request with the same key waits on the uncommitted insert, and a crash leaves
    nothing behind. There is therefore no "in progress" flag to get stuck.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="idempotency_records"
    )
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=10)
    path = models.TextField()
    fingerprint = models.CharField(
        max_length=64, help_text="SHA-256 of the method, the path and the (canonical) body."
    )
    status = models.PositiveSmallIntegerField(null=True)
    content_type = models.CharField(max_length=100, blank=True)
    headers = models.JSONField(default=dict, blank=True)
    body = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="api_idempotency_user_key")
        ]
        verbose_name = "idempotency record"

    def __str__(self) -> str:
        return f"{self.method} {self.path} [{self.key}] → {self.status}"
