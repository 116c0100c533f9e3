"""Reminders and escalation of items waiting too long (README, Approval policy → Reminders and
escalation).

On each business day, every approver who may accept an overdue item gets one email listing
all of theirs (a delegate gets an absent approver's), and every Admin of the company's ERP
Integrations tool gets the items waiting `escalate_after_days` or more in the same email.
Each email is an outbox row keyed by company, person and day: a second run that day finds the
row and sends nothing more, so nobody hears of an item twice in a day.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TypedDict

from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import prefetch_related_objects
from django.urls import reverse
from django.utils import timezone

from approvals.delivery import WOULD_SEND, companies_to_run, deliver_now
from approvals.email_links import ACCEPT, REJECT, decision_urls
from approvals.emails import absolute_url, approver_item_url, render_email
from approvals.overdue import (
    OverdueItem,
    Thresholds,
    is_business_day,
    oldest_first,
    overdue_item,
    overdue_items,
)
from erpsync.approval import ApprovalState, accept_refusals, approval_states
from erpsync.kinds import erp_item_models
from erpsync.models import ErpItem, OutboxEmail, display_name
from erpsync.outbox import Recipient, enqueue_emails
from projects.models import Company, CompanyMembership, ToolLevel
from projects.selectors import USER_ORDER, approvers_to_notify
from projects.terms import terms_for

REMINDER_KIND = "reminder"
ESCALATION_KIND = "escalation"
# An email lists at most this many items (oldest first) and counts the rest.
REMINDER_ITEMS_LISTED = 100


def reminder_key(company: Company, user: Any, day: dt.date) -> str:
    """One email per person, company and day, reminder and escalation alike."""
    return f"{REMINDER_KIND}:{company.pk}:{user.pk}:{day.isoformat()}"


@dataclass
class ReminderPlan:
    """One person's email of the day: their overdue items, and whether it escalates."""

    company: Company
    user: Any
    day: dt.date
    items: list[OverdueItem] = field(default_factory=list)
    escalation: bool = False

    @property
    def kind(self) -> str:
        return ESCALATION_KIND if self.escalation else REMINDER_KIND

    @property
    def address(self) -> str:
        return (self.user.email or "").strip()

    @property
    def key(self) -> str:
        return reminder_key(self.company, self.user, self.day)

    def add(self, entries: Iterable[OverdueItem]) -> None:
        have = {e.ref for e in self.items}
        self.items += [e for e in entries if e.ref not in have]
        self.items.sort(key=oldest_first)


def tool_admins(company: Company) -> list[CompanyMembership]:
    """The active Admins of the company's ERP Integrations tool, with their users."""
    return list(
        CompanyMembership.objects.filter(
            company=company, erp_tool_level=ToolLevel.ADMIN, user__is_active=True
        )
        .select_related("user")
        .order_by(*USER_ORDER)
    )


def _states(entries: list[OverdueItem]) -> dict[tuple[str, int], ApprovalState]:
    """Each item's approvals so far: a few queries per kind of item."""
    by_kind: dict[str, list[ErpItem]] = defaultdict(list)
    for entry in entries:
        by_kind[entry.item.erp_kind].append(entry.item)
    return {
        (kind, pk): state
        for kind, items in by_kind.items()
        for pk, state in approval_states(items).items()
    }


def plan_reminders(company: Company, day: dt.date) -> list[ReminderPlan]:
    """Who gets which overdue items on `day`; nothing on Saturdays and Sundays.

    An approver is reminded only of the items they may accept now (their kinds; not an item
    they sent or last edited when the company blocks self-approval; not one whose approval
    they already gave). Admins get every escalated item, whatever its kind.
    """
    if not is_business_day(day):
        return []
    overdue = overdue_items(company, day)
    if not overdue:
        return []
    states = _states(overdue)
    plans: dict[int, ReminderPlan] = {}

    def plan_for(user: Any) -> ReminderPlan:
        return plans.setdefault(user.pk, ReminderPlan(company, user, day))

    for model in erp_item_models():
        reminded = [e for e in overdue if e.reminded and e.item.erp_kind == model.erp_kind]
        if not reminded:
            continue
        members = approvers_to_notify(company, model.erp_kind, day=day)
        prefetch_related_objects(members, "export_rights")
        for member in members:
            mine = [
                e
                for e in reminded
                if not accept_refusals(e.item, member.user, member, states[e.ref])
            ]
            if mine:
                plan_for(member.user).add(mine)
    escalated = [e for e in overdue if e.escalated]
    if escalated:
        for admin in tool_admins(company):
            plan = plan_for(admin.user)
            plan.escalation = True
            plan.add(escalated)
    chosen: list[ReminderPlan] = []
    addresses: set[str] = set()
    for plan in sorted(plans.values(), key=lambda p: (p.address.lower(), p.user.pk)):
        if plan.address and plan.address.lower() not in addresses:
            addresses.add(plan.address.lower())
            chosen.append(plan)
    return chosen


@transaction.atomic
def enqueue_reminders(
    *, company: Company, day: dt.date, plans: list[ReminderPlan] | None = None
) -> list[OutboxEmail]:
    """Write the day's reminder rows of the company (those not written yet) and return the
    rows still unsent. The caller delivers them (deliver_reminders); the sweeper is the
    safety net."""
    plans = plan_reminders(company, day) if plans is None else plans
    rows: list[OutboxEmail] = []
    for plan in plans:
        rows += enqueue_emails(
            kind=plan.kind,
            recipients=[Recipient(plan.address, plan.user)],
            company=company,
            payload={
                "day": day.isoformat(),
                "items": [[e.item.erp_kind, e.item.pk, e.item.erp_version] for e in plan.items],
                "escalation": plan.escalation,
            },
            key=lambda _, key=plan.key: key,
            deliver=False,
        )
    return rows


class ReminderResult(TypedDict):
    company: str
    day: str
    to: str
    kind: str  # reminder or escalation
    items: list[str]
    status: str  # one of approvals.delivery's statuses
    error: str


def deliver_reminders(
    *, company_id: int | None = None, day: dt.date | None = None, dry_run: bool = False
) -> list[ReminderResult]:
    """Send each company's reminders and escalations of `day` (today), at most one email
    per person per company per day; `dry_run` reports them without sending or recording
    anything."""
    day = day or timezone.localdate()
    results: list[ReminderResult] = []
    for company in companies_to_run(company_id):
        plans = plan_reminders(company, day)
        if plans and not dry_run:
            enqueue_reminders(company=company, day=day, plans=plans)
        for plan in plans:
            result = ReminderResult(
                company=company.slug,
                day=day.isoformat(),
                to=plan.address,
                kind=plan.kind,
                items=[e.item.erp_name_in(company) for e in plan.items],
                status=WOULD_SEND,
                error="",
            )
            if not dry_run:
                result["status"], result["error"] = deliver_now(plan.key)
            results.append(result)
    return results


# ----- the email ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ReminderEntry:
    name: str
    kind_label: str
    project: Any
    sent_by: str
    sent_at: dt.datetime | None
    days: int
    progress: str
    escalated: bool
    url: str
    accept_url: str = ""
    reject_url: str = ""


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def reminder_email(
    company: Company,
    user: Any,
    day: dt.date,
    entries: list[OverdueItem],
    *,
    escalation: bool,
) -> EmailMultiAlternatives:
    """The day's reminder (or escalation) to `user`: their overdue items, oldest first."""
    thresholds = Thresholds.of(company)
    states = _states(entries)
    links = decision_urls(user, [e.item for e in entries[:REMINDER_ITEMS_LISTED]])
    listed = [
        ReminderEntry(
            name=e.item.erp_name_in(company),
            kind_label=e.item.erp_kind_label,
            project=e.item.erp_project,
            sent_by=display_name(e.item.erp_sent_by),
            sent_at=e.item.erp_sent_at,
            days=e.days,
            progress=states[e.ref].progress,
            escalated=e.escalated,
            url=approver_item_url(company, e.item),
            accept_url=links.get(e.ref, {}).get(ACCEPT, ""),
            reject_url=links.get(e.ref, {}).get(REJECT, ""),
        )
        for e in entries[:REMINDER_ITEMS_LISTED]
    ]
    escalated = sum(e.escalated for e in entries)
    count = _plural(len(entries), "item")
    if escalation:
        subject = f"Escalation: {count} waiting too long for approval"
    else:
        subject = f"Reminder: {count} waiting for your approval"
    context = {
        "company": company,
        "terms": terms_for(company),
        "recipient_name": display_name(user),
        "day": day,
        "escalation": escalation,
        "entries": listed,
        "more": max(len(entries) - len(listed), 0),
        "count": count,
        "total": len(entries),
        "escalated": escalated,
        "escalated_count": _plural(escalated, "item"),
        "others": len(entries) - escalated,
        "others_count": _plural(len(entries) - escalated, "other item"),
        "thresholds": thresholds,
        "tool_url": absolute_url(reverse("erp_tool", args=[company.slug])),
    }
    return render_email(
        "reminder",
        subject=f"{subject} — {company.name} — {day.isoformat()}",
        context=context,
        to=[(user.email or "").strip()],
    )


def _still_overdue(company: Company, day: dt.date, refs: list[Any]) -> list[OverdueItem]:
    """The items a reminder row lists that still wait, at the version it listed."""
    thresholds = Thresholds.of(company)
    wanted: dict[str, dict[int, int]] = defaultdict(dict)
    for kind, pk, version in refs:
        wanted[kind][pk] = version
    found: list[OverdueItem] = []
    for model in erp_item_models():
        versions = wanted.get(model.erp_kind)
        if not versions:
            continue
        rows = (
            model.objects.for_company(company)
            .filter(pk__in=versions)
            .select_related(*model.erp_related, model.erp_project_path, "erp_sent_by")
        )
        for row in rows:
            entry = overdue_item(row, day, thresholds)
            if entry is not None and row.erp_version == versions[row.pk]:
                found.append(entry)
    return sorted(found, key=oldest_first)


def render_reminder(row: OutboxEmail) -> EmailMultiAlternatives | None:
    """The reminder as it stands when sent: items decided, retrieved or resent since it was
    written are left out; None when none is left."""
    if row.company is None or row.user is None:
        return None
    day = dt.date.fromisoformat(row.payload["day"])
    entries = _still_overdue(row.company, day, row.payload.get("items", []))
    if not entries:
        return None
    # An Admin's escalated items may all have been decided since: the rest is a reminder.
    escalation = bool(row.payload.get("escalation")) and any(e.escalated for e in entries)
    return reminder_email(row.company, row.user, day, entries, escalation=escalation)
