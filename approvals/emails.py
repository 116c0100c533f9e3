"""The ERP Integrations tool's emails, built as EmailMultiAlternatives (text and HTML).

Every email goes through the core's outbox (erpsync.outbox): approvals.listeners writes one
row per recipient in the transaction of the event that causes it, and the renderers here
build each message when it is sent. The builders are plain functions over an ErpEvent, so
they can be tested without Celery. Every term goes through the company's point-of-view
dictionary. The daily summary is in approvals.digest.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.text import capfirst

from approvals.email_links import ACCEPT, REJECT, decision_urls
from approvals.selectors import FILTERS
from erpsync.models import ErpEvent, ErpItem, OutboxEmail, when
from erpsync.outbox import Recipient
from erpsync.states import ErpAction, ErpState
from projects.models import Company
from projects.selectors import approvers_to_notify
from projects.terms import terms_for

RESEND_NEXT_STEP = "Edit it, then click Resend to ERP."
NO_COMMENT = "No comment"
AUTOMATIC = {"Auto-Submitted": "auto-generated"}


# ----- naming and linking items -----------------------------------------------------------


def absolute_url(path: str) -> str:
    return settings.ERPSYNC_BASE_URL.rstrip("/") + path


def item_url(item: ErpItem) -> str:
    """The absolute link to the item's own page, where its sender edits and resends it."""
    return absolute_url(item.get_absolute_url())


def approver_item_url(company: Company, item: ErpItem) -> str:
    """The approvers' preview of the submitted item in the company's ERP Integrations tool."""
    return absolute_url(reverse("erp_item", args=[company.slug, item.erp_kind, item.pk]))


def queue_url(company: Company, kind: str, filter_key: str) -> str:
    return absolute_url(reverse("erp_queue", args=[company.slug, kind, filter_key]))


def age(delta: dt.timedelta) -> str:
    """'12 minutes', '5 hours', '3 days': how long an item has waited."""
    minutes = max(int(delta.total_seconds() // 60), 0)
    if minutes < 60:
        return _plural(minutes, "minute")
    hours = minutes // 60
    if hours < 48:
        return _plural(hours, "hour")
    return _plural(hours // 24, "day")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


# ----- building messages ------------------------------------------------------------------


def recipients_of(users: Iterable[Any]) -> list[Recipient]:
    """The users in order, without users who have no address and without duplicates."""
    seen: set[str] = set()
    recipients: list[Recipient] = []
    for user in users:
        address = (getattr(user, "email", "") or "").strip() if user is not None else ""
        if address and address.lower() not in seen:
            seen.add(address.lower())
            recipients.append(Recipient(address, user))
    return recipients


def render_email(
    name: str, *, subject: str, context: dict[str, Any], to: list[str]
) -> EmailMultiAlternatives:
    """templates/emails/<name>.txt and .html, from DEFAULT_FROM_EMAIL."""
    subject = " ".join(subject.split())  # a name typed with a line break stays one header line
    context = {**context, "subject": subject}
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"emails/{name}.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=to,
        headers=AUTOMATIC,
    )
    message.attach_alternative(render_to_string(f"emails/{name}.html", context), "text/html")
    return message


def load_event(event_id: int) -> ErpEvent | None:
    return (
        ErpEvent.objects.select_related("company", "actor", "content_type")
        .filter(pk=event_id)
        .first()
    )


def event_item(event: ErpEvent) -> ErpItem | None:
    """The event's item with its project, company, sender and creator joined (one query)."""
    model = event.content_type.model_class()
    if model is None or not issubclass(model, ErpItem):
        return None
    related = {*model.erp_related, model.erp_project_path, "erp_sent_by"}
    if any(f.name == "created_by" for f in model._meta.get_fields()):
        related.add("created_by")
    return model._default_manager.select_related(*related).filter(pk=event.object_id).first()


def _earlier_event(event: ErpEvent, action: ErpAction) -> ErpEvent | None:
    """The item's latest `action` event before `event`."""
    return (
        ErpEvent.objects.filter(
            content_type_id=event.content_type_id,
            object_id=event.object_id,
            action=action,
            pk__lt=event.pk,
        )
        .select_related("actor")
        .order_by("-pk")
        .first()
    )


def _require(event: ErpEvent, *actions: ErpAction) -> None:
    if event.action not in actions:
        wanted = " or ".join(a.value for a in actions)
        raise ValueError(f"Event {event.pk} is a {event.action!r} event, not {wanted}.")


def _event_context(event: ErpEvent, item: ErpItem) -> dict[str, Any]:
    company = event.company
    return {
        "company": company,
        "terms": terms_for(company),
        "event": event,
        "item": item,
        "item_name": item.erp_name_in(company),
        "project": item.erp_project,
        # It starts a sentence; a user's own name is left as they wrote it.
        "actor_name": event.actor_name if event.actor else capfirst(event.actor_name),
        "at": when(event.created_at),
    }


def rejection_recipients(item: ErpItem) -> list[Recipient]:
    """The item's last sender and its creator, each once, with an address."""
    users = [item.erp_sent_by, getattr(item, "created_by", None)]
    return recipients_of(u for u in users if u is not None)


def rejection_email(event: ErpEvent, to: list[str] | None = None) -> EmailMultiAlternatives | None:
    """To the item's last sender and its creator (or `to`): the reason, who rejected it, what
    to do next. None when nobody has an email address.
    """
    _require(event, ErpAction.REJECT)
    item = event_item(event)
    if item is None:
        return None
    if to is None:
        to = [r.address for r in rejection_recipients(item)]
    if not to:
        return None
    context = _event_context(event, item)
    failed_export = event.from_state == ErpState.EXPORT_FAILED
    erp_error = ""
    if failed_export:
        failure = _earlier_event(event, ErpAction.MARK_EXPORT_FAILED)
        erp_error = failure.reason if failure else item.erp_error
    context |= {
        "reason": event.reason or NO_COMMENT,
        "failed_export": failed_export,
        "erp_error": erp_error,
        "next_step": RESEND_NEXT_STEP,
        "url": item_url(item),
    }
    subject = f"Rejected: {context['item_name']} ({context['project'].name})"
    return render_email("rejection", subject=subject, context=context, to=to)


def approver_recipients(company: Company, kind: str | None = None) -> list[Recipient]:
    """The company's active accounting approvers (of `kind`) with an email address; an
    approver away today is replaced by their delegate."""
    return recipients_of(m.user for m in approvers_to_notify(company, kind))


def approver_addresses(company: Company, kind: str | None = None) -> list[str]:
    return [r.address for r in approver_recipients(company, kind)]


def submission_email(
    event: ErpEvent, to: list[str] | None = None, user: Any = None
) -> EmailMultiAlternatives | None:
    """To the company's accounting approvers, on every send and resend (REFERENCE.md §1).

    A resend quotes the reason of the item's latest rejection before it. For one recipient
    `user`, it carries their own "Review and accept" and "Reject…" links (approvals.
    email_links), each only while that decision is theirs to take.
    """
    _require(event, ErpAction.SEND, ErpAction.RESEND)
    item = event_item(event)
    if item is None:
        return None
    to = approver_addresses(event.company, item.erp_kind) if to is None else to
    if not to:
        return None
    resent = event.action == ErpAction.RESEND
    rejection = _earlier_event(event, ErpAction.REJECT) if resent else None
    context = _event_context(event, item) | {
        "resent": resent,
        "rejection": rejection,
        "rejection_at": when(rejection.created_at) if rejection else "",
        "url": approver_item_url(event.company, item),
    }
    # Links only to the version this email is about, while it still waits.
    if user is not None and event.version == item.erp_version:
        links = decision_urls(user, [item]).get((item.erp_kind, item.pk), {})
        context |= {"accept_url": links.get(ACCEPT, ""), "reject_url": links.get(REJECT, "")}
    verb = "Resent to ERP" if resent else "Sent to ERP"
    subject = f"{verb}: {context['item_name']} ({context['project'].name})"
    return render_email("submission", subject=subject, context=context, to=to)


def export_failed_email(
    event: ErpEvent, to: list[str] | None = None
) -> EmailMultiAlternatives | None:
    """To the company's accounting approvers: the ERP's error and the Failed to Export list."""
    _require(event, ErpAction.MARK_EXPORT_FAILED)
    item = event_item(event)
    if item is None:
        return None
    to = approver_addresses(event.company, item.erp_kind) if to is None else to
    if not to:
        return None
    context = _event_context(event, item) | {
        "error": event.reason,
        "failed_label": FILTERS["failed"].label,
        "url": queue_url(event.company, item.erp_kind, "failed"),
        "item_url": approver_item_url(event.company, item),
    }
    subject = f"Export failed: {context['item_name']} ({context['project'].name})"
    return render_email("export_failed", subject=subject, context=context, to=to)


def drift_email(
    company: Company, report: dict[str, Any], to: list[str] | None = None
) -> EmailMultiAlternatives | None:
    """To the company's accounting approvers: what the nightly reconciliation found."""
    to = approver_addresses(company) if to is None else to
    if not to:
        return None
    return render_email(
        "reconcile_drift",
        subject=f"ERP drift found for {company.name}",
        context={"company": company, "report": report},
        to=to,
    )


# ----- the outbox: which email an event causes, and its renderers --------------------------

# The email each kind of ERP event causes, and who gets it (computed when the event happens).
EVENT_EMAILS: dict[str, str] = {
    ErpAction.SEND: "submission",
    ErpAction.RESEND: "submission",
    ErpAction.REJECT: "rejection",
    ErpAction.MARK_EXPORT_FAILED: "export_failed",
}
EventEmailBuilder = Callable[..., EmailMultiAlternatives | None]
BUILDERS: dict[str, EventEmailBuilder] = {
    "submission": submission_email,
    "rejection": rejection_email,
    "export_failed": export_failed_email,
}


def event_recipients(kind: str, item: ErpItem, company: Company) -> list[Recipient]:
    if kind == "rejection":
        return rejection_recipients(item)
    return approver_recipients(company, item.erp_kind)


def render_event_email(row: OutboxEmail) -> EmailMultiAlternatives | None:
    if row.event is None:
        return None
    if row.kind == "submission":
        return submission_email(row.event, to=[row.recipient], user=row.user)
    return BUILDERS[row.kind](row.event, to=[row.recipient])


def render_drift_email(row: OutboxEmail) -> EmailMultiAlternatives | None:
    if row.company is None:
        return None
    return drift_email(row.company, row.payload.get("report", {}), to=[row.recipient])
