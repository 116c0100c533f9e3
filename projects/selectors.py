"""Reads of companies and projects, limited to what a user may see."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.http import QueryDict
from django.urls import reverse
from django.utils import timezone

from projects.filters import DirectoryFilterSet
from projects.listing import Column, Listing, attr, build_listing
from projects.models import (
    Company,
    CompanyMembership,
    ExportRight,
    OutOfOffice,
    Project,
    ProjectMembership,
    ToolLevel,
)

# The database form of CompanyMembership.is_accounting_approver.
ACCOUNTING_APPROVER = Q(can_push_to_accounting=True, erp_tool_level__gte=ToolLevel.STANDARD)

# Directory order: by name, then by username for users without one.
USER_ORDER = ("user__last_name", "user__first_name", "user__username")


@dataclass
class CompanyView:
    company: Company
    projects: list[Project]
    membership: CompanyMembership

    @property
    def is_erp_tool_admin(self) -> bool:
        return self.membership.is_erp_tool_admin

    @property
    def creates_projects(self) -> bool:
        return self.membership.creates_projects


@dataclass
class ProjectMemberView:
    """A row of the project directory."""

    membership: ProjectMembership
    is_accounting_approver: bool


def companies_for_user(user: Any) -> list[CompanyView]:
    """The user's companies, each with the user's membership and the projects the user is a
    member of."""
    memberships = (
        CompanyMembership.objects.filter(user=user)
        .select_related("company")
        .prefetch_related(
            Prefetch(
                "company__projects",
                queryset=Project.objects.filter(memberships__user=user).order_by("number"),
                to_attr="member_projects",
            )
        )
        .order_by("company__name", "company__pk")
    )
    return [
        CompanyView(company=m.company, projects=m.company.member_projects, membership=m)
        for m in memberships
    ]


def company_members(company: Company) -> QuerySet[CompanyMembership]:
    """The company directory: every membership with its user, in one query."""
    return (
        CompanyMembership.objects.filter(company=company)
        .select_related("user")
        .order_by(*USER_ORDER)
    )


def directory_listing(company: Company, data: QueryDict) -> Listing:
    """One page of the company directory, searched by name, username or email."""
    filters = DirectoryFilterSet(data, company_members(company))
    return build_listing(filters, reverse("company_members", args=[company.slug]))


def directory_csv_columns() -> list[Column]:
    return [
        ("Name", lambda m: m.user.get_full_name()),
        ("Username", attr("user.username")),
        ("Email", attr("user.email")),
        ("ERP Integrations", attr("get_erp_tool_level_display")),
        ("Accounting approver", attr("is_accounting_approver")),
    ]


def accounting_approvers(company: Company, kind: str | None = None) -> QuerySet[CompanyMembership]:
    """The company's accounting approvers (for `kind` when given: those holding its export
    right), with their users, in one query."""
    members = company_members(company).filter(ACCOUNTING_APPROVER)
    if kind is not None:
        members = members.filter(
            Exists(ExportRight.objects.filter(membership=OuterRef("pk"), kind=kind))
        )
    return members


def approvers_to_notify(
    company: Company,
    kind: str | None = None,
    *,
    day: dt.date | None = None,
    digest_only: bool = False,
) -> list[CompanyMembership]:
    """The active approvers (of `kind`) to tell about items today, with their users: each one
    away on `day` is replaced by their delegate. `digest_only`: those subscribed to the daily
    summary (a delegate takes an absent subscriber's). Three queries."""
    day = day or timezone.localdate()
    members = accounting_approvers(company, kind).filter(user__is_active=True)
    if digest_only:
        members = members.filter(erp_digest_subscribed=True)
    members = list(members)
    stand_ins = {
        absence.membership_id: absence.delegate
        for absence in OutOfOffice.objects.filter(
            membership__in=members, starts_on__lte=day, ends_on__gte=day
        ).select_related("delegate__user")
    }
    chosen: list[CompanyMembership] = []
    for member in members:
        member = stand_ins.get(member.pk, member)
        if member.user.is_active and all(m.pk != member.pk for m in chosen):
            chosen.append(member)
    return chosen


def accounting_approver_ids(company_id: int) -> set[int]:
    """The user ids of the company's accounting approvers, in one query."""
    return set(
        CompanyMembership.objects.filter(ACCOUNTING_APPROVER, company_id=company_id).values_list(
            "user_id", flat=True
        )
    )


def project_members(project: Project) -> QuerySet[ProjectMembership]:
    """The project's members with their users, in one query."""
    return (
        ProjectMembership.objects.filter(project=project)
        .select_related("user")
        .order_by(*USER_ORDER)
    )


def company_projects(company: Company) -> QuerySet[Project]:
    """The company's projects, for the lists' Project filter."""
    return Project.objects.filter(company=company).order_by("number")


def company_people(company: Company) -> QuerySet[Any]:
    """The users of the company's directory, by name, for the lists' person filters."""
    return (
        get_user_model()
        .objects.filter(company_memberships__company=company)
        .order_by("last_name", "first_name", "username")
    )
