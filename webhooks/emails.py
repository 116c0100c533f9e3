"""The email the ERP tool Admins get when a webhook subscription is disabled."""

from __future__ import annotations

from django.core.mail import EmailMultiAlternatives
from django.urls import reverse

from approvals.emails import absolute_url, render_email
from erpsync.models import OutboxEmail
from webhooks.models import WebhookSubscription


def render_disabled(row: OutboxEmail) -> EmailMultiAlternatives | None:
    payload = row.payload or {}
    company = row.company
    if company is None:
        return None
    subscription = WebhookSubscription.objects.filter(
        pk=payload.get("subscription"), company=company
    ).first()
    if subscription is None or subscription.active:
        return None  # deleted or enabled again meanwhile: nothing to tell any more
    url = absolute_url(reverse("webhook_detail", args=[company.slug, subscription.pk]))
    return render_email(
        "webhook_disabled",
        subject=f"Webhook disabled: {payload.get('url', subscription.url)}",
        context={
            "company": company,
            "webhook_url": payload.get("url", subscription.url),
            "reason": payload.get("reason", ""),
            "url": url,
        },
        to=[row.recipient],
    )
