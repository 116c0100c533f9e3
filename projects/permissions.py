"""Permission rules, one statement each. Every view, service and page asks these.

Each rule is stated once on a membership record; the `can_*(user, …)` helpers look the
membership up and apply the same rule, and `projects.access.ProjectAccess` applies it to the
membership it read once per request.
"""

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
SUB_JOBS_VIEW_REQUIRED = (
    "Sub jobs are in the project's Admin tool: you need Read Only or more on it."
)
INVOICE_ADMIN_REQUIRED = (
    "You need Admin permission on the project's Commitments or Prime Contracts tool."
)
PRIME_CONTRACT_ADMIN_REQUIRED = "You need Admin permission on the project's Prime Contracts tool."
ERP_TOOL_ADMIN_REQUIRED = (
    "Company settings are for Admins of the company's ERP Integrations tool: "
    "you have {level} on it."
)
ERP_TOOL_VIEW_REQUIRED = (
    "The company audit log is for users of the company's ERP Integrations tool (Read Only "
    "or more): you have no permission on it."
)


# ----- the rules, on a project membership (None: not a member) -----------------------------


def tool_level(membership: ProjectMembership | None, tool: ProjectTool) -> ToolLevel:
    return membership.level(tool) if membership else ToolLevel.NONE


def views_tool(membership: ProjectMembership | None, tool: ProjectTool) -> bool:
    return tool_level(membership, tool) >= ToolLevel.READ_ONLY


def administers_tool(membership: ProjectMembership | None, tool: ProjectTool) -> bool:
    return tool_level(membership, tool) >= ToolLevel.ADMIN


def manages_sub_jobs(membership: ProjectMembership | None) -> bool:
    """Sub job add, edit, approve, Send, Resend, Retrieve: Admin on the project's Admin tool."""
    return administers_tool(membership, ProjectTool.ADMIN)


def manages_owner_invoices(membership: ProjectMembership | None) -> bool:
    """Owner invoice edits and Send, Resend, Retrieve.

    The seed page asks for Admin on Commitments, Procore's sibling pages for Admin on
    Prime Contracts: either grants it (REFERENCE.md, decision).
    """
    return administers_tool(membership, ProjectTool.COMMITMENTS) or administers_tool(
        membership, ProjectTool.PRIME_CONTRACTS
    )


def manages_prime_contracts(membership: ProjectMembership | None) -> bool:
    """Create, edit and approve prime contracts and billing periods."""
    return administers_tool(membership, ProjectTool.PRIME_CONTRACTS)


def sees_all_contracts(membership: ProjectMembership | None) -> bool:
    """Every contract that is not private: Read Only or more on Prime Contracts or
    Commitments."""
    return views_tool(membership, ProjectTool.PRIME_CONTRACTS) or views_tool(
        membership, ProjectTool.COMMITMENTS
    )


# ----- the rules, on a company membership (None: not a member) -----------------------------


def views_erp_tool(membership: CompanyMembership | None) -> bool:
    """The ERP Integrations tool's lists and the company audit log: Read Only or more on the
    company's ERP Integrations tool."""
    return membership is not None and membership.erp_tool_level >= ToolLevel.READ_ONLY


def administers_erp_tool(membership: CompanyMembership | None) -> bool:
    """Company settings (point-of-view dictionary, ERP adapter, directory flags) and the
    Accountants page: Admin on the company's ERP Integrations tool."""
    return membership is not None and membership.is_erp_tool_admin


def erp_tool_level_name(membership: CompanyMembership | None) -> str:
    """What a refusal says the user holds: 'no permission', 'Read Only', 'Standard'."""
    level = ToolLevel(membership.erp_tool_level) if membership else ToolLevel.NONE
    return "no permission" if level == ToolLevel.NONE else level.label


# ----- the same rules, looked up for a user --------------------------------------------------


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


def can_manage_sub_jobs(user: Any, project: Project) -> bool:
    return manages_sub_jobs(project_membership(user, project))


def can_manage_owner_invoices(user: Any, project: Project) -> bool:
    return manages_owner_invoices(project_membership(user, project))


def can_manage_prime_contracts(user: Any, project: Project) -> bool:
    return manages_prime_contracts(project_membership(user, project))


PROJECT_CREATOR_REQUIRED = (
    "Only members allowed to create projects (or Admins of the company's ERP Integrations "
    "tool) can add a project to the company."
)


def can_create_projects(user: Any, company: Company) -> bool:
    membership = company_membership(user, company)
    return membership is not None and membership.creates_projects


def is_erp_tool_admin(user: Any, company: Company) -> bool:
    return administers_erp_tool(company_membership(user, company))


def approves_kind(membership: CompanyMembership | None, kind: str | None = None) -> bool:
    """An accounting approver for `kind` (for any kind when None): Standard or Admin on the
    company's ERP Integrations tool, 'Can push to accounting', and the export right for that
    kind of item."""
    if membership is None or not membership.is_accounting_approver:
        return False
    kinds = membership.export_kinds()
    return bool(kinds) if kind is None else kind in kinds


def is_accounting_approver(user: Any, company: Company, kind: str | None = None) -> bool:
    return approves_kind(company_membership(user, company), kind)


def approver_required(kind_label: str) -> str:
    """The refusal for someone who may not accept this kind of item."""
    return (
        f"Only an accounting approver for {kind_label}s can do this: Standard or Admin on the "
        f"company's ERP Integrations tool, 'Can push to accounting', and the right to export "
        f"{kind_label}s."
    )
