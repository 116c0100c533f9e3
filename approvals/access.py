"""Access to a company's ERP Integrations tool."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied

from projects.access import company_access
from projects.models import Company, CompanyMembership
from projects.permissions import views_erp_tool

NO_TOOL_ACCESS = "You have no access to the company's ERP Integrations tool."


@dataclass(frozen=True)
class ErpToolAccess:
    company: Company
    membership: CompanyMembership

    @property
    def can_decide(self) -> bool:
        """Accept, Reject and Retry: accounting approvers only."""
        return self.membership.is_accounting_approver


def erp_tool_access(user: Any, slug: str) -> ErpToolAccess:
    """404 unless the user belongs to the company; 403 without access to the tool."""
    membership = company_access(user, slug)
    if not views_erp_tool(membership):
        raise PermissionDenied(NO_TOOL_ACCESS)
    return ErpToolAccess(company=membership.company, membership=membership)
