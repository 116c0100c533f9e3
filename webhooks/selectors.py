"""Reads of the webhooks app: who subscribed to what, the delivery log, who is told."""

from __future__ import annotations

from django.db.models import QuerySet

from approvals.emails import recipients_of
from erpsync.outbox import Recipient
from projects.models import Company, ToolLevel
from projects.selectors import company_members
from webhooks.models import WebhookDelivery, WebhookSubscription

LOG_SIZE = 50


def subscriptions_listening(company: Company, event_type: str) -> list[WebhookSubscription]:
    """The company's active subscriptions to `event_type`, in one query. The events are
    matched here rather than in SQL: a JSON containment lookup has no SQLite equivalent."""
    return [
        s
        for s in WebhookSubscription.objects.filter(company=company, active=True)
        if event_type in s.events
    ]


def company_subscriptions(company: Company) -> QuerySet[WebhookSubscription]:
    return WebhookSubscription.objects.filter(company=company).order_by("created_at", "pk")


def delivery_log(
    subscription: WebhookSubscription, before: int | None = None
) -> list[WebhookDelivery]:
    """The newest LOG_SIZE deliveries (older than the delivery `before`, when given), plus one
    to tell whether there are older ones."""
    rows = WebhookDelivery.objects.filter(subscription=subscription)
    if before is not None:
        rows = rows.filter(pk__lt=before)
    return list(rows.order_by("-pk")[: LOG_SIZE + 1])


def admin_recipients(company: Company) -> list[Recipient]:
    """The company's active ERP tool Admins with an address: told when a webhook is disabled."""
    members = company_members(company).filter(erp_tool_level=ToolLevel.ADMIN, user__is_active=True)
    return recipients_of(m.user for m in members)
