"""Who may see what: the user's standing on a project or company, read once per request.

A user outside an object's company gets 404, never a hint that the object exists; a member
of the company without the needed tool level gets 403 with a sentence saying what is missing.
The getters for each app's own objects live in that app (subjobs.access, invoicing.access)
and are built on these.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404

from projects import permissions
from projects.models import CompanyMembership, Project, ProjectMembership, ProjectTool, ToolLevel


class ProjectAccess:
    """A user's standing on one project; every rule comes from projects.permissions."""

    def __init__(self, user: Any, project: Project, membership: ProjectMembership | None) -> None:
        self.user = user
        self.project = project
        self.membership = membership

    def level(self, tool: ProjectTool) -> ToolLevel:
        return permissions.tool_level(self.membership, tool)

    def can_view(self, tool: ProjectTool) -> bool:
        return permissions.views_tool(self.membership, tool)

    def is_admin(self, tool: ProjectTool) -> bool:
        return permissions.administers_tool(self.membership, tool)

    @property
    def manages_sub_jobs(self) -> bool:
        return permissions.manages_sub_jobs(self.membership)

    @property
    def manages_contracts(self) -> bool:
        return permissions.manages_prime_contracts(self.membership)

    @property
    def manages_invoices(self) -> bool:
        return permissions.manages_owner_invoices(self.membership)

    @property
    def sees_all_contracts(self) -> bool:
        return permissions.sees_all_contracts(self.membership)

    def require(self, allowed: bool, message: str) -> None:
        if not allowed:
            raise PermissionDenied(message)


def project_access(user: Any, project_id: int) -> ProjectAccess:
    """The project, if the user belongs to its company (else 404) and to the project (else 403)."""
    project = Project.objects.select_related("company").filter(pk=project_id).first()
    if project is None or not user.is_authenticated:
        raise Http404("No such project.")
    if not CompanyMembership.objects.filter(company_id=project.company_id, user=user).exists():
        raise Http404("No such project.")
    membership = ProjectMembership.objects.filter(project=project, user=user).first()
    if membership is None:
        raise PermissionDenied("You are not a member of this project.")
    return ProjectAccess(user, project, membership)


def company_access(user: Any, slug: str) -> CompanyMembership:
    """The user's membership of the company with this slug, its company joined, in one query;
    404 when the user is not a member of it (or it does not exist)."""
    if not user.is_authenticated:
        raise Http404("No such company.")
    membership = (
        CompanyMembership.objects.select_related("company")
        .filter(company__slug=slug, user=user)
        .first()
    )
    if membership is None:
        raise Http404("No such company.")
    return membership
