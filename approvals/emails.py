"""The ERP Integrations tool's emails, built as EmailMultiAlternatives (text and HTML).

The builders are plain functions over an ErpEvent (or a company's digest), so they can be
tested without Celery; approvals.tasks loads by id and calls `deliver_event_email` or
`deliver_daily_summaries`, which record each delivery so that running a task twice sends
nothing the second time. Every term goes through the company's point-of-view dictionary.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypedDict

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, models, transaction
from django.db.models import F, Window
from django.db.models.functions import RowNumber
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.text import capfirst

from approvals.models import DigestDelivery, EventEmail
from approvals.selectors import FILTERS
from erpsync.kinds import erp_item_models
from erpsync.models import ErpEvent, ErpItem, display_name, when
from erpsync.states import ErpAction, ErpState
from projects.models import Company, Project
from projects.selectors import accounting_approvers
from projects.terms import TERMS, term, terms_for

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

logger = logging.getLogger(__name__)

DIGEST_SUBJECT = "ERP Integrations Daily Summary"
# The digest lists at most this many items per kind and state (oldest first) and counts all.
DIGEST_ITEMS_PER_STATE = 50
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


def item_name(item: ErpItem, company: Company) -> str:
    """How an email names the item, in the company's dictionary ('Funding Invoice INV-007')."""
    title = item.erp_title
    if item.erp_kind not in TERMS or not title.startswith(item.erp_kind_label):
        return title
    return f"{term(company, item.erp_kind)}{title.removeprefix(item.erp_kind_label)}"


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


def email_addresses(users: Iterable[Any]) -> list[str]:
    """The users' addresses in order, without users who have none and without duplicates."""
    seen: set[str] = set()
    addresses: list[str] = []
    for user in users:
        address = (getattr(user, "email", "") or "").strip() if user is not None else ""
        if address and address.lower() not in seen:
            seen.add(address.lower())
            addresses.append(address)
    return addresses


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
        "item_name": item_name(item, company),
        "project": item.erp_project,
        # It starts a sentence; a user's own name is left as they wrote it.
        "actor_name": event.actor_name if event.actor else capfirst(event.actor_name),
        "at": when(event.created_at),
    }


def rejection_email(event: ErpEvent) -> EmailMultiAlternatives | None:
    """To the item's last sender and its creator: the reason, who rejected it, what to do next.

    None when neither has an email address.
    """
    _require(event, ErpAction.REJECT)
    item = event_item(event)
    if item is None:
        return None
    to = email_addresses([item.erp_sent_by, getattr(item, "created_by", None)])
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


def approver_addresses(company: Company) -> list[str]:
    """Every active accounting approver of the company with an email address (one query)."""
    members = accounting_approvers(company).filter(user__is_active=True)
    return email_addresses(m.user for m in members)


def submission_email(event: ErpEvent) -> EmailMultiAlternatives | None:
    """To the company's accounting approvers, on every send and resend (REFERENCE.md §1).

    A resend quotes the reason of the item's latest rejection before it.
    """
    _require(event, ErpAction.SEND, ErpAction.RESEND)
    item = event_item(event)
    if item is None:
        return None
    to = approver_addresses(event.company)
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
    verb = "Resent to ERP" if resent else "Sent to ERP"
    subject = f"{verb}: {context['item_name']} ({context['project'].name})"
    return render_email("submission", subject=subject, context=context, to=to)


def export_failed_email(event: ErpEvent) -> EmailMultiAlternatives | None:
    """To the company's accounting approvers: the ERP's error and the Failed to Export list."""
    _require(event, ErpAction.MARK_EXPORT_FAILED)
    item = event_item(event)
    if item is None:
        return None
    to = approver_addresses(event.company)
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


def drift_email(company: Company, report: dict[str, Any]) -> EmailMultiAlternatives | None:
    """To the company's accounting approvers: what the nightly reconciliation found."""
    to = approver_addresses(company)
    if not to:
        return None
    return render_email(
        "reconcile_drift",
        subject=f"ERP drift found for {company.name}",
        context={"company": company, "report": report},
        to=to,
    )


EventEmailBuilder = Callable[[ErpEvent], EmailMultiAlternatives | None]

EVENT_EMAILS: dict[str, tuple[frozenset[str], EventEmailBuilder]] = {
    "rejection": (frozenset({ErpAction.REJECT}), rejection_email),
    "submission": (frozenset({ErpAction.SEND, ErpAction.RESEND}), submission_email),
    "export_failed": (frozenset({ErpAction.MARK_EXPORT_FAILED}), export_failed_email),
}


def deliver_event_email(event_id: int, email: str) -> list[str]:
    """Send the event's email once; return its recipients (empty when nothing was sent).

    The delivery row is claimed in its own transaction before the mail server is called,
    and the send happens outside any transaction: a second run finds the claim and sends
    nothing; a failed send gives the claim back, so the task's retry sends it.
    """
    actions, build = EVENT_EMAILS[email]
    event = load_event(event_id)
    if event is None:
        logger.warning("No ERP event %s: no %s email.", event_id, email)
        return []
    if event.action not in actions:
        logger.warning("ERP event %s is a %s event: no %s email.", event_id, event.action, email)
        return []
    try:
        with transaction.atomic():
            delivery = EventEmail.objects.create(event=event)
    except IntegrityError:
        logger.info("The %s email for ERP event %s was already sent.", email, event_id)
        return []
    message = build(event)
    if message is None:
        logger.info("The %s email for ERP event %s has no recipients.", email, event_id)
        return []
    try:
        message.send()
    except Exception:
        delivery.delete()
        raise
    delivery.recipients = list(message.to)
    delivery.save(update_fields=["recipients"])
    logger.info("Sent the %s email for ERP event %s to %s.", email, event_id, ", ".join(message.to))
    return list(message.to)


# ----- the ERP Integrations Daily Summary -------------------------------------------------


@dataclass(frozen=True)
class DigestItem:
    name: str
    project: Project
    sent_by: str
    sent_at: dt.datetime | None
    age: str
    error: str
    url: str


@dataclass
class DigestKind:
    key: str
    label: str
    pending_count: int = 0
    failed_count: int = 0
    pending: list[DigestItem] = field(default_factory=list)
    failed: list[DigestItem] = field(default_factory=list)
    ready_url: str = ""
    failed_url: str = ""

    @property
    def pending_more(self) -> int:
        return self.pending_count - len(self.pending)

    @property
    def failed_more(self) -> int:
        return self.failed_count - len(self.failed)


@dataclass
class Digest:
    company: Company
    day: dt.date
    kinds: list[DigestKind]
    tool_url: str

    @property
    def pending_count(self) -> int:
        return sum(k.pending_count for k in self.kinds)

    @property
    def failed_count(self) -> int:
        return sum(k.failed_count for k in self.kinds)

    @property
    def has_work(self) -> bool:
        """At least one item waits for an approver or failed to export."""
        return bool(self.pending_count or self.failed_count)

    @property
    def subject(self) -> str:
        return f"{DIGEST_SUBJECT} — {self.company.name} — {self.day.isoformat()}"


DIGEST_STATES = (ErpState.PENDING, ErpState.EXPORT_FAILED)


def _digest_rows(model: type[ErpItem], company: Company) -> models.QuerySet[Any]:
    """The company's pending and failed items of one kind, oldest first, at most
    DIGEST_ITEMS_PER_STATE of each state, each row carrying its state's total: one query."""
    by_state = {"partition_by": [F("erp_state")]}
    return (
        model.objects.for_company(company)
        .filter(erp_state__in=DIGEST_STATES)
        .select_related(model.erp_project_path, "erp_sent_by")
        .annotate(
            state_rank=Window(
                RowNumber(), order_by=[F("erp_sent_at").asc(), F("pk").asc()], **by_state
            ),
            state_total=Window(models.Count("pk"), **by_state),
        )
        .filter(state_rank__lte=DIGEST_ITEMS_PER_STATE)
        .order_by("erp_sent_at", "pk")
    )


def build_digest(company: Company, day: dt.date, *, now: dt.datetime | None = None) -> Digest:
    """What waits (pending) and what failed to export, per kind: one query per kind."""
    now = now or timezone.now()
    kinds: list[DigestKind] = []
    for model in sorted(erp_item_models(), key=lambda m: m.erp_tab_order):
        kind = DigestKind(
            key=model.erp_kind,
            label=model.erp_tab_label(company),
            ready_url=queue_url(company, model.erp_kind, "ready"),
            failed_url=queue_url(company, model.erp_kind, "failed"),
        )
        for row in _digest_rows(model, company):
            entry = DigestItem(
                name=item_name(row, company),
                project=row.erp_project,
                sent_by=display_name(row.erp_sent_by),
                sent_at=row.erp_sent_at,
                age=age(now - row.erp_sent_at) if row.erp_sent_at else "",
                error=row.erp_error,
                url=approver_item_url(company, row),
            )
            if row.erp_state == ErpState.PENDING:
                kind.pending.append(entry)
                kind.pending_count = row.state_total
            else:
                kind.failed.append(entry)
                kind.failed_count = row.state_total
        kinds.append(kind)
    return Digest(
        company=company,
        day=day,
        kinds=kinds,
        tool_url=absolute_url(reverse("erp_tool", args=[company.slug])),
    )


def digest_recipients(company: Company) -> list[AbstractBaseUser]:
    """Active accounting approvers subscribed to the digest, with an address: one query."""
    members = accounting_approvers(company).filter(erp_digest_subscribed=True, user__is_active=True)
    users: list[AbstractBaseUser] = []
    addresses: set[str] = set()
    for membership in members:
        address = (membership.user.email or "").strip().lower()
        if address and address not in addresses:
            addresses.add(address)
            users.append(membership.user)
    return users


def daily_summary_email(digest: Digest, user: Any) -> EmailMultiAlternatives:
    context = {
        "digest": digest,
        "company": digest.company,
        "terms": terms_for(digest.company),
        "recipient_name": display_name(user),
        "failed_label": FILTERS["failed"].label,
    }
    return render_email(
        "daily_summary", subject=digest.subject, context=context, to=[user.email.strip()]
    )


class DigestResult(TypedDict):
    company: str
    day: str
    to: str
    subject: str
    status: str  # one of the DIGEST_* statuses below
    error: str


DIGEST_SENT = "sent"
DIGEST_ALREADY_SENT = "already sent"
DIGEST_WOULD_SEND = "would send"
DIGEST_FAILED = "failed"


def deliver_daily_summaries(
    *, company_id: int | None = None, day: dt.date | None = None, dry_run: bool = False
) -> list[DigestResult]:
    """Send each company's digest to each subscribed approver, at most once per day.

    Only companies where an item waits or failed to export get one. Each delivery row is
    created in the transaction that sends the email: an existing row means it went out
    already (skip); a failed send rolls the row back so that the next run retries it.
    `dry_run` builds every email and reports it without sending or recording anything.
    Queries: one for the companies, then per company one for the recipients and one per
    kind of item, plus one delivery row per email.
    """
    day = day or timezone.localdate()
    companies = Company.objects.order_by("name", "pk")
    if company_id is not None:
        companies = companies.filter(pk=company_id)
    results: list[DigestResult] = []
    for company in companies:
        recipients = digest_recipients(company)
        if not recipients:
            continue
        digest = build_digest(company, day)
        if not digest.has_work:
            continue
        for user in recipients:
            message = daily_summary_email(digest, user)
            result = DigestResult(
                company=company.slug,
                day=day.isoformat(),
                to=message.to[0],
                subject=message.subject,
                status=DIGEST_WOULD_SEND,
                error="",
            )
            if not dry_run:
                result["status"], result["error"] = _deliver_digest(company, user, day, message)
            results.append(result)
    return results


def _deliver_digest(
    company: Company, user: Any, day: dt.date, message: EmailMultiAlternatives
) -> tuple[str, str]:
    """(status, error) of one digest email.

    The day's delivery row is claimed before the mail server is called (a second run finds
    it and sends nothing); a failed send gives the claim back so a later run can send it.
    """
    try:
        with transaction.atomic():
            delivery = DigestDelivery.objects.create(company=company, user=user, day=day)
    except IntegrityError:
        return DIGEST_ALREADY_SENT, ""
    try:
        message.send()
    except OSError as exc:  # SMTP and connection errors; smtplib.SMTPException is an OSError
        delivery.delete()
        logger.exception("The daily summary of %s to %s failed.", company.slug, message.to[0])
        return DIGEST_FAILED, str(exc) or type(exc).__name__
    logger.info("Sent the daily summary of %s for %s to %s.", company.slug, day, message.to[0])
    return DIGEST_SENT, ""
