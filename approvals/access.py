"""Access to a company's ERP Integrations tool."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404

from projects.models import Company, CompanyMembership, ToolLevel

NO_TOOL_ACCESS = "You have no access to the company's ERP Integrations tool."


@dataclass(frozen=True)
class ErpToolAccess:
    company: Company
    membership: CompanyMembership

    @property
    def can_decide(self) -> bool:
        """Accept, Reject and Retry: accounting approvers only."""
        return self.membership.is_accounting_approver

    @property
    def is_tool_admin(self) -> bool:
        return self.membership.erp_tool_level >= ToolLevel.ADMIN


def erp_tool_access(user: Any, slug: str) -> ErpToolAccess:
    """404 unless the user belongs to the company; 403 without access to the tool."""
    membership = (
        CompanyMembership.objects.select_related("company")
        .filter(company__slug=slug, user=user)
        .first()
        if user.is_authenticated
        else None
    )
    if membership is None:
        raise Http404("No such company.")
    if membership.erp_tool_level < ToolLevel.READ_ONLY:
        raise PermissionDenied(NO_TOOL_ACCESS)
    return ErpToolAccess(company=membership.company, membership=membership)
