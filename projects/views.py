from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from projects.access import ProjectAccess, project_access
from projects.models import ProjectTool
from projects.terms import term


def page_context(
    access: ProjectAccess, crumbs: list[tuple[str, str | None]], **extra: Any
) -> dict[str, Any]:
    """What every project page needs: the project, its company (for terms), the user's access,
    and breadcrumbs that start at the project."""
    project = access.project
    return {
        "project": project,
        "company": project.company,
        "access": access,
        "breadcrumbs": [
            (project.company.name, reverse("home")),
            (
                f"{project.number} {project.name}",
                reverse("project", args=[project.pk]) if crumbs else None,
            ),
            *crumbs,
        ],
        **extra,
    }


@login_required
def project_home(request: HttpRequest, project_id: int) -> HttpResponse:
    access = project_access(request.user, project_id)
    company = access.project.company
    tools = []
    if access.can_view(ProjectTool.ADMIN):
        tools.append(
            ("Admin", reverse("project_admin", args=[project_id]), "Project settings, sub jobs")
        )
    if access.sees_all_contracts or access.manages_contracts or _is_contact(access):
        tools.append(
            (
                term(company, "prime_contracts"),
                reverse("contract_list", args=[project_id]),
                f"{term(company, 'prime_contracts')} and their invoices",
            )
        )
    if access.sees_all_contracts:
        tools.append(
            (
                term(company, "invoicing"),
                reverse("invoicing", args=[project_id]),
                "Billing periods and every owner invoice",
            )
        )
    return render(request, "projects/project.html", page_context(access, [], tools=tools))


def _is_contact(access: ProjectAccess) -> bool:
    from projects.access import visible_contracts

    return visible_contracts(access).exists()


@login_required
def project_admin(request: HttpRequest, project_id: int) -> HttpResponse:
    access = project_access(request.user, project_id)
    access.require(
        access.can_view(ProjectTool.ADMIN),
        "You need Read Only or more on the project's Admin tool.",
    )
    return render(request, "projects/admin_tool.html", page_context(access, [("Admin", None)]))
