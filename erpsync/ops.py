"""Reads and small helpers shared by the ops commands (erp_status, erp_configure, erp_check,
erp_retry_failed). Nothing here changes an item's ERP state: that stays in erpsync.services.

Every selector costs a fixed number of queries per company and kind, however many items
there are: rows are joined with what their title and project number read.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db.models import Count, QuerySet
from django.utils import timezone

from erpsync.adapters import ErpError, adapter_class, adapter_for, pulls
from erpsync.kinds import erp_item_models
from erpsync.models import EmailStatus, ErpItem, OutboxEmail, UpdateRequest
from erpsync.models.updates import OPEN_UPDATE_STATES
from erpsync.selectors import ConnectorQueue, connector_queue, state_counts
from erpsync.states import AWAITING_APPROVAL, ErpState
from projects.models import Company

WAITING_LIMIT = 5
MASK = "***"
_SECRET_NAME = re.compile(
    r"secret|passw|token|api[_-]?key|private[_-]?key|credential", re.IGNORECASE
)


# ----- companies --------------------------------------------------------------------------


class UnknownCompany(LookupError):
    def __init__(self, slug: str) -> None:
        known = list(Company.objects.order_by("slug").values_list("slug", flat=True)[:20])
        listed = ", ".join(known) if known else "none yet"
        super().__init__(f"No company with slug {slug!r}. Companies: {listed}.")


def get_company(slug: str) -> Company:
    try:
        return Company.objects.get(slug=slug)
    except Company.DoesNotExist:
        raise UnknownCompany(slug) from None


def companies(slug: str | None = None) -> list[Company]:
    """The company with `slug`, or every company by slug when it is None."""
    if slug is not None:
        return [get_company(slug)]
    return list(Company.objects.order_by("slug"))


# ----- kinds and items --------------------------------------------------------------------


def _items(model: type[ErpItem], company: Company | None) -> QuerySet[Any]:
    """The model's items (of `company` when given), joined with what title and project read."""
    rows = model.objects.select_related(*model.erp_related)
    if company is not None:
        rows = rows.for_company(company)
    return rows


def _age_seconds(moment: datetime | None, now: datetime) -> int | None:
    if moment is None:
        return None
    return max(0, int((now - moment).total_seconds()))


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


@dataclass(frozen=True)
class ItemRow:
    """One item as the ops commands list it."""

    item: ErpItem
    kind: str
    title: str
    project: str
    company: str
    at: datetime | None = None
    age_seconds: int | None = None

    @classmethod
    def of(cls, item: ErpItem, *, at: datetime | None = None, now: datetime) -> ItemRow:
        return cls(
            item=item,
            kind=item.erp_kind,
            title=item.erp_title,
            project=item.erp_project.number,
            company=item.erp_company.slug,
            at=at,
            age_seconds=_age_seconds(at, now),
        )

    @property
    def error(self) -> str:
        return self.item.erp_error

    @property
    def tries(self) -> int:
        return self.item.erp_export_attempts


def waiting_items(company: Company, *, now: datetime, limit: int = WAITING_LIMIT) -> list[ItemRow]:
    """The pending items that have waited longest for an approver, oldest first."""
    found: list[ErpItem] = []
    for model in erp_item_models():
        found += (
            _items(model, company)
            .filter(erp_state__in=AWAITING_APPROVAL)
            .order_by("erp_sent_at", "pk")[:limit]
        )
    found.sort(key=lambda i: (i.erp_sent_at is None, i.erp_sent_at or now, i.erp_kind, i.pk))
    return [ItemRow.of(i, at=i.erp_sent_at, now=now) for i in found[:limit]]


def failed_exports(company: Company | None, *, now: datetime) -> list[ItemRow]:
    """Items whose export failed (of every company when `company` is None), oldest first."""
    found: list[ErpItem] = []
    for model in erp_item_models():
        found += _items(model, company).filter(erp_state=ErpState.EXPORT_FAILED)
    found.sort(key=lambda i: (i.erp_changed_at or now, i.erp_kind, i.pk))
    return [ItemRow.of(i, at=i.erp_changed_at, now=now) for i in found]


def stuck_exports(company: Company, *, now: datetime, older_than: timedelta) -> list[ItemRow]:
    """Accepted items whose last acceptance (or Retry export) is older than `older_than`:
    their export never ended. Measured like the sweeper, from the last transition."""
    cutoff = now - older_than
    found: list[ErpItem] = []
    for model in erp_item_models():
        found += _items(model, company).filter(
            erp_state=ErpState.ACCEPTED, erp_changed_at__lt=cutoff
        )
    found.sort(key=lambda i: (i.erp_changed_at, i.erp_kind, i.pk))
    return [ItemRow.of(i, at=i.erp_changed_at, now=now) for i in found]


@dataclass(frozen=True)
class EmailRow:
    """One outbox email as erp_status lists it."""

    pk: int
    kind: str
    recipient: str
    tries: int
    error: str
    created_at: datetime
    age_seconds: int | None


def outbox_emails(
    company: Company, status: EmailStatus, *, now: datetime, limit: int = WAITING_LIMIT
) -> tuple[int, list[EmailRow]]:
    """(how many of the company's emails are in `status`, the oldest `limit` of them)."""
    rows = OutboxEmail.objects.filter(company=company, status=status)
    listed = [
        EmailRow(
            pk=e.pk,
            kind=e.kind,
            recipient=e.recipient,
            tries=e.tries,
            error=e.last_error,
            created_at=e.created_at,
            age_seconds=_age_seconds(e.created_at, now),
        )
        for e in rows.order_by("created_at", "pk")[:limit]
    ]
    return rows.count(), listed


# ----- erp_status -------------------------------------------------------------------------


@dataclass(frozen=True)
class CompanyStatus:
    company: Company
    counts: dict[str, dict[str, int]]
    waiting: list[ItemRow]
    failed: list[ItemRow]
    stuck: list[ItemRow]
    emails_unsent: tuple[int, list[EmailRow]] = (0, [])
    emails_failed: tuple[int, list[EmailRow]] = (0, [])
    # A company whose own connector pulls its items: what waits for it (its stuck items are
    # the ones it has not taken in time: is it running?).
    connector: ConnectorQueue | None = None
    # Ready to Update: open update requests by state (pending, accepted, failed), every kind.
    updates: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class StatusReport:
    generated_at: datetime
    stuck_minutes: int
    kinds: dict[str, str] = field(default_factory=dict)  # kind -> label
    companies: list[CompanyStatus] = field(default_factory=list)


def open_updates(company: Company) -> dict[str, int]:
    """{state: count} of the company's open update requests, each open state listed."""
    rows = (
        UpdateRequest.objects.filter(company=company, state__in=OPEN_UPDATE_STATES)
        .values_list("state")
        .annotate(n=Count("pk"))
    )
    counted = dict(rows)
    return {str(state): counted.get(state, 0) for state in OPEN_UPDATE_STATES}


def status_report(company_list: list[Company], *, stuck_minutes: int) -> StatusReport:
    now = timezone.now()
    older_than = timedelta(minutes=stuck_minutes)
    return StatusReport(
        generated_at=now,
        stuck_minutes=stuck_minutes,
        kinds={m.erp_kind: m.erp_kind_label for m in erp_item_models()},
        companies=[
            CompanyStatus(
                company=c,
                counts=state_counts(c),
                waiting=waiting_items(c, now=now),
                failed=failed_exports(c, now=now),
                stuck=stuck_exports(c, now=now, older_than=older_than),
                emails_unsent=outbox_emails(c, EmailStatus.PENDING, now=now),
                emails_failed=outbox_emails(c, EmailStatus.FAILED, now=now),
                connector=connector_queue(c, limit=0) if pulls(c) else None,
                updates=open_updates(c),
            )
            for c in company_list
        ],
    )


def status_as_json(report: StatusReport) -> dict[str, Any]:
    """The report as JSON-ready data: always the same keys, times in ISO 8601, ages in seconds."""

    def row(r: ItemRow, *extra: tuple[str, Any]) -> dict[str, Any]:
        return {
            "kind": r.kind,
            "id": r.item.pk,
            "title": r.title,
            "project": r.project,
            **dict(extra),
        }

    def emails(counted: tuple[int, list[EmailRow]]) -> dict[str, Any]:
        total, rows = counted
        return {
            "count": total,
            "oldest": [
                {
                    "id": e.pk,
                    "kind": e.kind,
                    "to": e.recipient,
                    "tries": e.tries,
                    "error": e.error,
                    "created_at": _iso(e.created_at),
                    "age_seconds": e.age_seconds,
                }
                for e in rows
            ],
        }

    return {
        "generated_at": _iso(report.generated_at),
        "stuck_minutes": report.stuck_minutes,
        "states": [s.value for s in ErpState],
        "companies": [
            {
                "slug": cs.company.slug,
                "name": cs.company.name,
                "adapter": cs.company.erp_adapter,
                "kinds": {
                    kind: {
                        "label": report.kinds[kind],
                        "counts": counts,
                        "total": sum(counts.values()),
                    }
                    for kind, counts in cs.counts.items()
                },
                "waiting": [
                    row(r, ("sent_at", _iso(r.at)), ("age_seconds", r.age_seconds))
                    for r in cs.waiting
                ],
                "failed": [
                    row(
                        r,
                        ("error", r.error),
                        ("tries", r.tries),
                        ("failed_at", _iso(r.at)),
                    )
                    for r in cs.failed
                ],
                "stuck": [
                    row(r, ("accepted_at", _iso(r.at)), ("age_seconds", r.age_seconds))
                    for r in cs.stuck
                ],
                "emails": {
                    "unsent": emails(cs.emails_unsent),
                    "failed": emails(cs.emails_failed),
                },
                "updates": cs.updates,
                "connector": None
                if cs.connector is None
                else {
                    "waiting": cs.connector.waiting,
                    "claimed": cs.connector.claimed,
                    "oldest_accepted_at": _iso(cs.connector.oldest_accepted_at),
                },
            }
            for cs in report.companies
        ],
    }


def format_age(seconds: int | None) -> str:
    """A short duration: '45s', '12m', '2h 05m', '3d 04h'."""
    if seconds is None:
        return "unknown"
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d {hours:02d}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m"
    return f"{secs}s"


def one_line(text: str) -> str:
    return " ".join(text.split())


# ----- adapters: settings and checks -------------------------------------------------------


def is_secret(name: str) -> bool:
    return bool(_SECRET_NAME.search(name))


def masked(settings: dict[str, Any]) -> dict[str, Any]:
    """The settings with every secret-looking value replaced by ***."""
    return {name: MASK if is_secret(name) else value for name, value in settings.items()}


def _is_secret_setting(key: str, name: str) -> bool:
    try:
        fields = adapter_class(key).setting_fields
    except ImproperlyConfigured:
        return True  # an adapter no longer installed: nothing of it is shown
    return is_secret(name) or any(f.secret for f in fields if f.name == name)


def _shown(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def settings_changes(
    old_key: str, old: dict[str, Any], new_key: str, new: dict[str, Any]
) -> dict[str, list[str]]:
    """What changed between two adapters' settings, for an audit row: {"erp_settings.<name>":
    [old, new]}. A secret (of either adapter) reads "***" when set and "" when not, never its
    value."""
    changes: dict[str, list[str]] = {}
    for name in sorted(old.keys() | new.keys()):
        before, after = old.get(name), new.get(name)
        if before == after:
            continue
        if _is_secret_setting(old_key, name) or _is_secret_setting(new_key, name):
            shown = [MASK if name in old else "", MASK if name in new else ""]
        else:
            shown = [_shown(before), _shown(after)]
        changes[f"erp_settings.{name}"] = shown
    return changes


def describe_settings(settings: dict[str, Any]) -> str:
    if not settings:
        return "(none)"
    return ", ".join(f"{name}={value}" for name, value in sorted(masked(settings).items()))


def parse_assignments(pairs: list[str]) -> dict[str, str]:
    """NAME=VALUE strings as a dict; the value may be empty or contain '='."""
    result: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ValueError(f"Expected NAME=VALUE, got {pair!r}.")
        result[name] = value
    return result


@dataclass(frozen=True)
class CheckResult:
    company: Company
    error: str | None

    @property
    def ok(self) -> bool:
        return self.error is None


def check_company(company: Company) -> CheckResult:
    """Ask the company's adapter whether the ERP can be reached with its settings."""
    try:
        adapter_for(company).check()
    except ErpError as e:
        return CheckResult(company, e.message)
    except ImproperlyConfigured as e:
        return CheckResult(company, str(e))
    except NotImplementedError:
        return CheckResult(
            company, f"The {company.erp_adapter!r} adapter does not implement check()."
        )
    except Exception as e:  # an adapter bug must not hide the other companies' results
        return CheckResult(company, f"Unexpected {type(e).__name__}: {e}")
    return CheckResult(company, None)
