from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from projects import permissions, selectors
from projects.access import ProjectAccess, company_access, project_access
from projects.listing import CSV_CHUNK, csv_filename, csv_response, wants_csv
from projects.models import Company, ProjectTool
from projects.tools import panels_for, tiles_for

ERP_ADMIN_REQUIRED = (
    "The Accountants page is for Admins of the company's ERP Integrations tool: "
    "you have {level} on it."
)


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
    return render(
        request,
        "projects/project.html",
        page_context(access, [], tools=tiles_for(access), panels=panels_for(access)),
    )


@login_required
def project_admin(request: HttpRequest, project_id: int) -> HttpResponse:
    access = project_access(request.user, project_id)
    access.require(
        access.can_view(ProjectTool.ADMIN),
        "You need Read Only or more on the project's Admin tool.",
    )
    return render(request, "projects/admin_tool.html", page_context(access, [("Admin", None)]))


@login_required
def project_members(request: HttpRequest, project_id: int) -> HttpResponse:
    """The project's members with their project tool levels; accounting approvers of the
    project's company get a badge."""
    access = project_access(request.user, project_id)
    project = access.project
    approver_ids = selectors.accounting_approver_ids(project.company_id)
    members = [
        selectors.ProjectMemberView(membership=m, is_accounting_approver=m.user_id in approver_ids)
        for m in selectors.project_members(project)
    ]
    context = page_context(access, [("Directory", None)], members=members)
    return render(request, "projects/project_members.html", context)


def company_context(company: Company, crumb: str, **extra: Any) -> dict[str, Any]:
    """What every company page needs: the company (for terms) and breadcrumbs from it."""
    return {
        "company": company,
        "breadcrumbs": [(company.name, reverse("home")), (crumb, None)],
        **extra,
    }


@login_required
def company_members(request: HttpRequest, slug: str) -> HttpResponse:
    """The company directory, for any member of the company."""
    membership = company_access(request.user, slug)
    company = membership.company
    listing = selectors.directory_listing(company, request.GET)
    if wants_csv(request.GET):
        if not listing.valid:
            return render(
                request,
                "refused.html",
                {"title": "Not downloaded", "reasons": listing.error_messages},
                status=400,
            )
        name = csv_filename(company.slug, "directory", filtered=listing.active)
        rows = listing.rows.iterator(chunk_size=CSV_CHUNK)
        return csv_response(name, selectors.directory_csv_columns(), rows)
    context = company_context(
        company,
        "Directory",
        membership=membership,
        members=listing.page or [],
        listing=listing,
    )
    status = 200 if listing.valid else 400
    return render(request, "projects/company_members.html", context, status=status)


@login_required
def company_accountants(request: HttpRequest, slug: str) -> HttpResponse:
    """The company's accounting approvers, for Admins of its ERP Integrations tool."""
    membership = company_access(request.user, slug)
    if not permissions.administers_erp_tool(membership):
        level = permissions.erp_tool_level_name(membership)
        raise PermissionDenied(ERP_ADMIN_REQUIRED.format(level=level))
    company = membership.company
    context = company_context(
        company,
        "Accountants",
        membership=membership,
        approvers=list(selectors.accounting_approvers(company)),
    )
    return render(request, "projects/company_accountants.html", context)
