"""The records the ERP core keeps about items: the audit trail, export attempts, and the
sandbox ERP's own tables."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone

from erpsync.names import SYSTEM_NAME, display_name
from erpsync.states import DONE_LABELS, SYSTEM_ACTIONS, ErpAction, ErpState


class ErpEventQuerySet(models.QuerySet["ErpEvent"]):
    def submitted_snapshots(self, items: Sequence[Any]) -> dict[int, dict[str, Any] | None]:
        """{item id: the snapshot its current version was submitted with}, for items of one
        kind: one query for any number of them (an item never sent has none). Here rather
        than in erpsync.selectors because erpsync.approval, which the models use, needs it."""
        versions = {item.pk: item.erp_version for item in items if item.erp_version}
        if not versions:
            return {}
        rows = (
            self.filter(
                content_type=ContentType.objects.get_for_model(type(items[0])),
                object_id__in=list(versions),
                action__in=[ErpAction.SEND, ErpAction.RESEND],
            )
            .order_by("id")
            .values_list("object_id", "version", "snapshot")
        )
        return {
            object_id: snapshot
            for object_id, version, snapshot in rows
            if versions.get(object_id) == version
        }


class ErpEvent(models.Model):
    """One row per transition (and per edit) of any item: the audit trail.

    For send and resend it holds the snapshot submitted, with its version: approvers accept
    that version, and the export sends exactly it.
    """

    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE)
    object_id = models.PositiveBigIntegerField()
    item = GenericForeignKey("content_type", "object_id")

    objects: Any = ErpEventQuerySet.as_manager()
    company = models.ForeignKey(
        "projects.Company", on_delete=models.CASCADE, related_name="erp_events"
    )
    action = models.CharField(max_length=20, choices=ErpAction.choices)
    from_state = models.CharField(max_length=20, choices=ErpState.choices)
    to_state = models.CharField(max_length=20, choices=ErpState.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="erp_events",
        help_text="Empty when the system acted (the export worker).",
    )
    reason = models.TextField(blank=True)
    version = models.PositiveIntegerField(null=True, blank=True)
    snapshot = models.JSONField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["content_type", "object_id", "id"], name="erpevent_item_idx"),
            models.Index(fields=["company", "created_at"], name="erpevent_company_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} ({self.from_state} → {self.to_state})"

    @property
    def acted_as_system(self) -> bool:
        """The export worker, or ops from the command line: no user, on purpose."""
        return self.action in SYSTEM_ACTIONS or bool(self.details.get("by_ops"))

    @property
    def done_label(self) -> str:
        """What happened, in the past tense ("Rejected", "Retrieved from ERP", "Approved (1 of
        2 approvals)", "Accepted — exported directly (Direct Export, no approval)")."""
        label = DONE_LABELS.get(self.action, self.get_action_display())
        details = self.details or {}
        if details.get("direct_export"):
            if self.action == ErpAction.ACCEPT:
                return f"{label} — exported directly (Direct Export, no approval)"
            return f"{label} (Direct Export)"
        progress = details.get("approval")
        if progress and self.action in (ErpAction.APPROVE, ErpAction.ACCEPT):
            return f"{label} ({progress} approvals)"
        return label

    @property
    def actor_name(self) -> str:
        """Who acted; a delegate as "Pat Approver for Sam Approver"."""
        if self.actor is None and self.acted_as_system:
            return SYSTEM_NAME
        name = display_name(self.actor)
        stood_in_for = (self.details or {}).get("for")
        return f"{name} for {', '.join(stood_in_for)}" if stood_in_for else name


class SandboxRecord(models.Model):
    """The sandbox adapter's simulated ERP: what has been exported to it, by idempotency key."""

    company = models.ForeignKey(
        "projects.Company", on_delete=models.CASCADE, related_name="sandbox_records"
    )
    kind = models.CharField(max_length=40)
    idempotency_key = models.CharField(max_length=200)
    erp_id = models.CharField(max_length=100)
    payload = models.JSONField()
    # What happened to the record in the simulated ERP since it was exported (erp_sandbox
    # pay/cancel/delete): "posted", "cancelled" or "deleted", and the payments booked
    # against it, each {"on": ISO date, "amount": "12.00", "reference": "..."}.
    status = models.CharField(max_length=20, default="posted")
    payments = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["company", "idempotency_key"], name="sandbox_unique_key_per_company"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.erp_id}"


class ExportOutcome(models.TextChoices):
    STARTED = "started", "Started"
    SYNCED = "synced", "Synced"
    TRANSIENT = "transient", "Failed, will retry"
    PERMANENT = "permanent", "Failed"
    GAVE_UP = "gave_up", "Failed, retries used up"


class ExportAttempt(models.Model):
    """One try to export one accepted version, recorded before the ERP is called."""

    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE)
    object_id = models.PositiveBigIntegerField()
    item = GenericForeignKey("content_type", "object_id")
    company = models.ForeignKey(
        "projects.Company", on_delete=models.CASCADE, related_name="export_attempts"
    )
    version = models.PositiveIntegerField()
    idempotency_key = models.CharField(max_length=200)
    try_number = models.PositiveIntegerField()
    outcome = models.CharField(
        max_length=20, choices=ExportOutcome.choices, default=ExportOutcome.STARTED
    )
    erp_id = models.CharField(max_length=100, blank=True)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["started_at", "id"]
        indexes = [
            models.Index(fields=["content_type", "object_id", "id"], name="exportattempt_item_idx"),
            models.Index(fields=["idempotency_key"], name="exportattempt_key_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.idempotency_key} try {self.try_number}: {self.outcome}"


class SandboxCall(models.Model):
    """Every export call the sandbox ERP received, so tests and demos can count them."""

    company = models.ForeignKey("projects.Company", on_delete=models.CASCADE, related_name="+")
    idempotency_key = models.CharField(max_length=200, db_index=True)
    outcome = models.CharField(max_length=20)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.idempotency_key}: {self.outcome}"
