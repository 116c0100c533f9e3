"""The "ERP Integrations Daily Summary": what waits for approvers and what failed to export.

Each summary is an outbox row (erpsync.outbox), one per approver per company per day: a
second run that day finds the row and sends nothing more.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, TypedDict

from django.core.mail import EmailMultiAlternatives
from django.db import models, transaction
from django.db.models import F, Window, prefetch_related_objects
from django.db.models.functions import RowNumber
from django.urls import reverse
from django.utils import timezone

from approvals.delivery import WOULD_SEND, companies_to_run, deliver_now
from approvals.emails import (
    absolute_url,
    age,
    approver_item_url,
    queue_url,
    render_email,
)
from approvals.overdue import Thresholds, waited
from approvals.selectors import FILTERS
from erpsync.kinds import erp_item_models
from erpsync.models import ErpItem, OutboxEmail, display_name
from erpsync.outbox import Recipient, enqueue_emails
from erpsync.states import AWAITING_APPROVAL, ErpState
from projects.models import Company, CompanyMembership, Project
from projects.selectors import approvers_to_notify
from projects.terms import terms_for

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

logger = logging.getLogger(__name__)

DIGEST_SUBJECT = "ERP Integrations Daily Summary"
DIGEST_KIND = "daily_summary"
# The digest lists at most this many items per kind and state (oldest first) and counts all.
DIGEST_ITEMS_PER_STATE = 50


@dataclass(frozen=True)
class DigestItem:
    name: str
    project: Project
    sent_by: str
    sent_at: dt.datetime | None
    age: str
    error: str
    url: str
    # Waited the company's remind_after_days (or escalate_after_days) business days or more.
    overdue: bool = False


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

    def only(self, kinds: frozenset[str]) -> Digest:
        """The summary of the kinds of item one approver decides."""
        return replace(self, kinds=[k for k in self.kinds if k.key in kinds])

    @property
    def has_work(self) -> bool:
        """At least one item waits for an approver or failed to export."""
        return bool(self.pending_count or self.failed_count)

    @property
    def subject(self) -> str:
        return f"{DIGEST_SUBJECT} — {self.company.name} — {self.day.isoformat()}"


DIGEST_STATES = (*AWAITING_APPROVAL, ErpState.EXPORT_FAILED)


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
    """What waits (pending) and what failed to export, per kind: one query per kind. Overdue
    items (approvals.overdue) come first among those waiting."""
    now = now or timezone.now()
    thresholds = Thresholds.of(company)
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
                name=row.erp_name_in(company),
                project=row.erp_project,
                sent_by=display_name(row.erp_sent_by),
                sent_at=row.erp_sent_at,
                age=age(now - row.erp_sent_at) if row.erp_sent_at else "",
                error=row.erp_error,
                url=approver_item_url(company, row),
                overdue=bool(
                    row.erp_state in AWAITING_APPROVAL
                    and row.erp_sent_at
                    and thresholds.overdue(waited(row.erp_sent_at, day))
                ),
            )
            if row.erp_state in AWAITING_APPROVAL:
                kind.pending.append(entry)
                kind.pending_count = row.state_total
            else:
                kind.failed.append(entry)
                kind.failed_count = row.state_total
        # Oldest first already puts them first; said here so that it stays so.
        kind.pending.sort(key=lambda entry: not entry.overdue)
        kinds.append(kind)
    return Digest(
        company=company,
        day=day,
        kinds=kinds,
        tool_url=absolute_url(reverse("erp_tool", args=[company.slug])),
    )


def digest_recipients(company: Company) -> list[tuple[AbstractBaseUser, frozenset[str]]]:
    """(user, the kinds of item they approve) of each active accounting approver subscribed to
    the digest, with an address; a subscriber away today is replaced by their delegate."""
    recipients: list[tuple[AbstractBaseUser, frozenset[str]]] = []
    addresses: set[str] = set()
    members = approvers_to_notify(company, digest_only=True)
    prefetch_related_objects(members, "export_rights")
    for membership in members:
        address = (membership.user.email or "").strip().lower()
        if address and address not in addresses:
            addresses.add(address)
            recipients.append((membership.user, membership.export_kinds()))
    return recipients


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
    status: str  # one of approvals.delivery's statuses
    error: str


def digest_key(company: Company, user: Any, day: dt.date) -> str:
    return f"{DIGEST_KIND}:{company.pk}:{user.pk}:{day.isoformat()}"


def deliver_daily_summaries(
    *, company_id: int | None = None, day: dt.date | None = None, dry_run: bool = False
) -> list[DigestResult]:
    """Send each company's digest to each subscribed approver, at most once per day.

    Only companies where an item waits or failed to export get one. Each email is an outbox
    row keyed by company, approver and day, written before it is sent: a second run finds
    the row and sends nothing more; a failed send stays in the outbox and is retried (by the
    next run or the email sweeper). `dry_run` builds every email and reports it without
    sending or recording anything. Queries: one for the companies, then per company one for
    the recipients (three: approvers, absences, rights) and one per kind of item, plus a few
    per email.
    """
    day = day or timezone.localdate()
    results: list[DigestResult] = []
    for company in companies_to_run(company_id):
        recipients = digest_recipients(company)
        if not recipients:
            continue
        everything = build_digest(company, day)
        if not everything.has_work:
            continue
        for user, kinds in recipients:
            digest = everything.only(kinds)
            if not digest.has_work:
                continue  # nothing waits among the kinds this approver decides
            message = daily_summary_email(digest, user)
            result = DigestResult(
                company=company.slug,
                day=day.isoformat(),
                to=message.to[0],
                subject=message.subject,
                status=WOULD_SEND,
                error="",
            )
            if not dry_run:
                result["status"], result["error"] = _deliver_digest(company, user, day)
            results.append(result)
    return results


def _deliver_digest(company: Company, user: Any, day: dt.date) -> tuple[str, str]:
    """(status, error) of one digest email, through its outbox row."""
    key = digest_key(company, user, day)
    with transaction.atomic():
        enqueue_emails(
            kind=DIGEST_KIND,
            recipients=[Recipient(user.email.strip(), user)],
            company=company,
            payload={"day": day.isoformat()},
            key=lambda _: key,
            deliver=False,
        )
    return deliver_now(key)


def render_daily_summary(row: OutboxEmail) -> EmailMultiAlternatives | None:
    """The summary as it stands when sent; None when nothing waits any more."""
    if row.company is None or row.user is None:
        return None
    membership = (
        CompanyMembership.objects.filter(company=row.company, user=row.user)
        .prefetch_related("export_rights")
        .first()
    )
    kinds = membership.export_kinds() if membership is not None else frozenset()
    digest = build_digest(row.company, dt.date.fromisoformat(row.payload["day"])).only(kinds)
    if not digest.has_work:
        return None
    return daily_summary_email(digest, row.user)
