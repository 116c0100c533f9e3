"""The company's approval policy per kind of item, and the approvals an item collects."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from erpsync.models.records import ErpEvent
from erpsync.snapshots import format_money

MOST_APPROVALS = 5


class ApprovalRule(models.Model):
    """ "Owner invoices of $50,000.00 or more need 2 approvals from different approvers, one of
    them an ERP tool Admin". The rule with the highest threshold at or below an item's amount
    applies; an item without an amount (a sub job) follows a rule from $0.00 only."""

    company = models.ForeignKey(
        "projects.Company", on_delete=models.CASCADE, related_name="approval_rules"
    )
    kind = models.CharField(max_length=40)
    min_amount = models.DecimalField(
        "from amount",
        max_digits=14,
        decimal_places=2,
        default=Decimal("0.00"),
        validators=[MinValueValidator(Decimal("0.00"))],
    )
    approvals_required = models.PositiveSmallIntegerField(
        "approvals needed",
        default=2,
        validators=[MinValueValidator(1), MaxValueValidator(MOST_APPROVALS)],
    )
    needs_tool_admin = models.BooleanField(
        "one of them an ERP tool Admin",
        default=False,
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["company", "kind", "min_amount"]
        constraints = [
            models.UniqueConstraint(
                fields=["company", "kind", "min_amount"], name="one_rule_per_threshold"
            ),
            models.CheckConstraint(
                condition=Q(approvals_required__gte=1, approvals_required__lte=MOST_APPROVALS),
                name="approvals_required_1_to_5",
            ),
            models.CheckConstraint(condition=Q(min_amount__gte=0), name="threshold_not_negative"),
        ]

    def __str__(self) -> str:
        return self.describe()

    def describe(self, kind_label: str = "") -> str:
        what = f"{kind_label}s" if kind_label else "Items"
        needs = f"{self.approvals_required} approval" + ("s" if self.approvals_required > 1 else "")
        admin = ", one of them an ERP tool Admin's" if self.needs_tool_admin else ""
        if self.min_amount:
            return f"{what} of {format_money(self.min_amount)} or more need {needs}{admin}"
        return f"{what} need {needs}{admin}"


class KindPolicy(models.Model):
    """Per kind: Direct Export sends an item straight to export, skipping the approvers."""

    company = models.ForeignKey(
        "projects.Company", on_delete=models.CASCADE, related_name="kind_policies"
    )
    kind = models.CharField(max_length=40)
    direct_export = models.BooleanField(
        default=False,
        help_text="Send to ERP exports the item at once, with no accounting approval.",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["company", "kind"], name="one_policy_per_kind")
        ]

    def __str__(self) -> str:
        return f"{self.company}: {self.kind}"


class Approval(models.Model):
    """One approver's approval of one submitted version. Approvals belong to a version: a
    resend starts the count again. Unique per approver and version, so two requests of one
    approver never count twice."""

    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE)
    object_id = models.PositiveBigIntegerField()
    version = models.PositiveIntegerField()
    approver = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    as_tool_admin = models.BooleanField(default=False)
    event = models.OneToOneField(ErpEvent, on_delete=models.CASCADE, related_name="approval")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["content_type", "object_id", "version", "approver"],
                name="one_approval_per_approver_and_version",
            )
        ]
        indexes = [
            models.Index(fields=["content_type", "object_id", "version"], name="approval_item_idx")
        ]

    def __str__(self) -> str:
        return f"Approval of version {self.version} by {self.approver}"

    @property
    def approver_name(self) -> str:
        """Who approved; a delegate as "Pat Approver for Sam Controller" (as its audit row)."""
        return self.event.actor_name
