"""Reads about out-of-office periods and the kinds of item approvers may export, shared by
the settings services and pages: what a delegate lacks, how a period and a set of kinds read."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from erpsync.kinds import erp_item_models
from erpsync.names import display_name
from projects.models import Company, CompanyMembership, ExportRight, OutOfOffice
from projects.permissions import approves_kind
from projects.selectors import accounting_approvers


def kinds_text(company: Company, kinds: Iterable[str]) -> str:
    """'Sub Jobs, Owner Invoices': kinds of item in the tool's tab order and the company's
    terms, as pages and audit rows name them."""
    wanted = set(kinds)
    return ", ".join(m.erp_tab_label(company) for m in erp_item_models() if m.erp_kind in wanted)


def day(value: dt.date) -> str:
    return f"{value.day} {value:%b %Y}"


def period_text(starts_on: dt.date, ends_on: dt.date) -> str:
    """'3 Dec 2026 to 5 Dec 2026' with an en dash (one day: '3 Dec 2026')."""
    return day(starts_on) if starts_on == ends_on else f"{day(starts_on)} – {day(ends_on)}"


def absence_text(absence: OutOfOffice) -> str:
    """What an audit row records of a period: '3 Dec 2026 to 5 Dec 2026, delegate Pat
    Approver'."""
    delegate = display_name(absence.delegate.user)
    return f"{period_text(absence.starts_on, absence.ends_on)}, delegate {delegate}"


def approved_kinds(membership: CompanyMembership) -> list[str]:
    """The kinds the member may accept now (export rights that count: an approver's)."""
    return [k for k in sorted(membership.export_kinds()) if approves_kind(membership, k)]


def missing_kinds(absent: CompanyMembership, delegate: CompanyMembership) -> list[str]:
    """The kinds the absent approver decides that the delegate may not."""
    return [k for k in approved_kinds(absent) if not approves_kind(delegate, k)]


def delegation_gaps(company: Company, member: CompanyMembership) -> list[str]:
    """Why a current or future out-of-office period of the company in which `member` is away
    or stands in no longer holds: its delegate lacks some of the absent approver's kinds."""
    absences = (
        OutOfOffice.objects.filter(Q(membership=member) | Q(delegate=member))
        .filter(membership__company=company, ends_on__gte=timezone.localdate())
        .select_related("membership__user", "delegate__user")
        .prefetch_related("membership__export_rights", "delegate__export_rights")
    )
    gaps = []
    for absence in absences:
        missing = missing_kinds(absence.membership, absence.delegate)
        if missing:
            gaps.append(
                f"{display_name(absence.delegate.user)} stands in for "
                f"{display_name(absence.membership.user)} "
                f"({period_text(absence.starts_on, absence.ends_on)}), so they must stay an "
                f"accounting approver for {kinds_text(company, missing)}: cancel that period or "
                "choose another delegate first (Out of office)."
            )
    return gaps


def approver_choices(company: Company) -> QuerySet[CompanyMembership]:
    """The company's active accounting approvers holding at least one export right: whom an
    out-of-office period is for, and who may stand in (with what a choice shows of them)."""
    return (
        accounting_approvers(company)
        .filter(user__is_active=True)
        .filter(Exists(ExportRight.objects.filter(membership=OuterRef("pk"))))
        .select_related("company")
        .prefetch_related("export_rights")
    )


def current_absences(
    company: Company, membership: CompanyMembership | None = None
) -> QuerySet[OutOfOffice]:
    """The company's out-of-office periods that are not over, soonest first; with
    `membership`, only those it is away in or stands in for."""
    absences = OutOfOffice.objects.filter(
        membership__company=company, ends_on__gte=timezone.localdate()
    )
    if membership is not None:
        absences = absences.filter(Q(membership=membership) | Q(delegate=membership))
    return absences.select_related("membership__user", "delegate__user").order_by("starts_on", "pk")
