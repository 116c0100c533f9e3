"""Reads of companies and projects, limited to what a user may see."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Prefetch

from projects.models import Company, Project


@dataclass
class CompanyView:
    company: Company
    projects: list[Project]


def companies_for_user(user: Any) -> list[CompanyView]:
    """The user's companies, each with the projects the user is a member of."""
    companies = (
        Company.objects.filter(memberships__user=user)
        .prefetch_related(
            Prefetch(
                "projects",
                queryset=Project.objects.filter(memberships__user=user).order_by("number"),
                to_attr="member_projects",
            )
        )
        .order_by("name")
    )
    return [CompanyView(company=c, projects=c.member_projects) for c in companies]
