"""The email outbox."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from erpsync.models.records import ErpEvent


class EmailStatus(models.TextChoices):
    PENDING = "pending", "Not sent yet"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed, tries used up"


class OutboxEmail(models.Model):
    """One email to one recipient, written in the transaction of what caused it (the outbox).

    A worker sends it after commit; the sweeper sends what is still unsent after a short
    delay, so a lost publish, a broker outage or a killed worker delays an email but never
    loses it. Delivery is at least once: a send is claimed with a lease, not marked sent
    before the mail server accepts it, and every try carries the same Message-ID so that mail
    clients collapse a rare duplicate. `kind` names the renderer that builds the message when
    it is sent (erpsync.outbox.register_renderer).
    """

    kind = models.CharField(max_length=40)
    # Set where one cause may be enqueued twice (a daily summary run twice): unique when set.
    key = models.CharField(max_length=255, unique=True, null=True, blank=True)
    company = models.ForeignKey(
        "projects.Company", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    event = models.ForeignKey(
        ErpEvent, null=True, blank=True, on_delete=models.CASCADE, related_name="emails"
    )
    recipient = models.CharField(max_length=254)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    payload = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=10, choices=EmailStatus.choices, default=EmailStatus.PENDING
    )
    tries = models.PositiveIntegerField(default=0)
    lease_until = models.DateTimeField(null=True, blank=True)
    next_try_at = models.DateTimeField(default=timezone.now)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(
                fields=["next_try_at"],
                name="outboxemail_unsent_idx",
                condition=models.Q(status="pending"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} email to {self.recipient}: {self.status}"
