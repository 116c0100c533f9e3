"""Permission helpers, one per kind of object. Every view and service asks these."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from projects.models import CompanyMembership, ProjectMembership, ProjectTool, ToolLevel

if TYPE_CHECKING:
    from projects.models import Company, Project

APPROVER_REQUIRED = (
    "Only an accounting approver can do this: Standard or Admin on the company's "
    "ERP Integrations tool and 'Can push to accounting'."
)
SUB_JOB_ADMIN_REQUIRED = "You need Admin permission on the project's Admin tool."
INVOICE_ADMIN_REQUIRED = (
    "You need Admin permission on the project's Commitments or Prime Contracts tool."
)


def _authenticated(user: Any) -> bool:
    return user is not None and getattr(user, "is_authenticated", False) and user.is_active


def company_membership(user: Any, company: Company) -> CompanyMembership | None:
    if not _authenticated(user):
        return None
    return CompanyMembership.objects.filter(company=company, user=user).first()


def project_membership(user: Any, project: Project) -> ProjectMembership | None:
    if not _authenticated(user):
        return None
    return ProjectMembership.objects.filter(project=project, user=user).first()


def project_tool_level(user: Any, project: Project, tool: ProjectTool) -> ToolLevel:
    membership = project_membership(user, project)
    return membership.level(tool) if membership else ToolLevel.NONE


def can_manage_sub_jobs(user: Any, project: Project) -> bool:
    """Sub job add, edit, approve, Send, Resend, Retrieve: Admin on the project's Admin tool."""
    return project_tool_level(user, project, ProjectTool.ADMIN) >= ToolLevel.ADMIN


def can_manage_owner_invoices(user: Any, project: Project) -> bool:
    """Owner invoice edits and Send, Resend, Retrieve.

    The seed page asks for Admin on Commitments, Procore's sibling pages for Admin on
    Prime Contracts: either grants it (REFERENCE.md, decision).
    """
    membership = project_membership(user, project)
    if membership is None:
        return False
    return ToolLevel.ADMIN in (membership.commitments_level, membership.prime_contracts_level)


def is_accounting_approver(user: Any, company: Company) -> bool:
    membership = company_membership(user, company)
    return membership is not None and membership.is_accounting_approver


def can_manage_prime_contracts(user: Any, project: Project) -> bool:
    """Create, edit and approve prime contracts and billing periods."""
    return project_tool_level(user, project, ProjectTool.PRIME_CONTRACTS) >= ToolLevel.ADMIN


PRIME_CONTRACT_ADMIN_REQUIRED = "You need Admin permission on the project's Prime Contracts tool."
