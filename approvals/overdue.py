"""Which items have waited too long for an accounting approver, in business days (README,
Approval policy → Reminders and escalation). Reads only: the reminders and the daily summary
use them.

A business day is Monday to Friday (no public holidays). An item sent on `sent_on` (its
erp_sent_at as a date in TIME_ZONE) has waited the business days after that day up to and
including today: sent on a Friday, it has waited one on Monday and two on Tuesday.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone

from erpsync.kinds import erp_item_models
from erpsync.models import ErpItem
from erpsync.states import AWAITING_APPROVAL
from projects.models import Company

SATURDAY = 5


def is_business_day(day: dt.date) -> bool:
    return day.weekday() < SATURDAY


def business_days_between(start: dt.date, end: dt.date) -> int:
    """The business days after `start` up to and including `end` (0 when `end` is not later)."""
    if end <= start:
        return 0
    weeks, extra = divmod((end - start).days, 7)
    days = weeks * 5
    for offset in range(1, extra + 1):
        days += is_business_day(start + dt.timedelta(days=weeks * 7 + offset))
    return days


def waited(sent_at: dt.datetime, day: dt.date) -> int:
    """Business days an item sent at `sent_at` has waited on `day`."""
    return business_days_between(timezone.localtime(sent_at).date(), day)


@dataclass(frozen=True)
class Thresholds:
    """The company's remind_after_days and escalate_after_days; 0 turns either off."""

    remind: int
    escalate: int

    @classmethod
    def of(cls, company: Company) -> Thresholds:
        return cls(company.remind_after_days, company.escalate_after_days)

    @property
    def first(self) -> int | None:
        """The fewest business days that make an item overdue; None when both are off."""
        return min((n for n in (self.remind, self.escalate) if n > 0), default=None)

    def reminded(self, days: int) -> bool:
        return self.remind > 0 and days >= self.remind

    def escalated(self, days: int) -> bool:
        return self.escalate > 0 and days >= self.escalate

    def overdue(self, days: int) -> bool:
        return self.reminded(days) or self.escalated(days)


@dataclass(frozen=True)
class OverdueItem:
    item: ErpItem
    days: int  # business days waited
    reminded: bool  # its approvers are reminded of it
    escalated: bool  # the ERP Integrations tool's Admins are told of it

    @property
    def ref(self) -> tuple[str, int]:
        return self.item.erp_kind, self.item.pk


def overdue_item(item: ErpItem, day: dt.date, thresholds: Thresholds) -> OverdueItem | None:
    if item.erp_state not in AWAITING_APPROVAL or item.erp_sent_at is None:
        return None
    days = waited(item.erp_sent_at, day)
    if not thresholds.overdue(days):
        return None
    return OverdueItem(item, days, thresholds.reminded(days), thresholds.escalated(days))


def overdue_items(company: Company, day: dt.date) -> list[OverdueItem]:
    """The company's items waiting for approval that are overdue on `day`, oldest first,
    joined with their project, company and sender: one query per kind of item."""
    thresholds = Thresholds.of(company)
    first = thresholds.first
    if first is None:
        return []
    # At least `first` business days means at least `first` calendar days: the database
    # leaves out everything sent since.
    since = dt.datetime.combine(
        day - dt.timedelta(days=first - 1), dt.time.min, tzinfo=timezone.get_current_timezone()
    )
    found: list[OverdueItem] = []
    for model in erp_item_models():
        rows = (
            model.objects.for_company(company)
            .filter(erp_state__in=AWAITING_APPROVAL, erp_sent_at__lt=since)
            .select_related(*model.erp_related, model.erp_project_path, "erp_sent_by")
        )
        found += [o for row in rows if (o := overdue_item(row, day, thresholds)) is not None]
    return sorted(found, key=oldest_first)


def oldest_first(entry: OverdueItem) -> tuple[dt.datetime, int, str, int]:
    item = entry.item
    assert item.erp_sent_at is not None
    return item.erp_sent_at, item.erp_tab_order, item.erp_kind, item.pk
