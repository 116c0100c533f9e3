"""Access to a company's ERP Integrations tool."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import prefetch_related_objects

from projects.access import company_access
from projects.models import Company, CompanyMembership
from projects.permissions import approves_kind, views_erp_tool

NO_TOOL_ACCESS = "You have no access to the company's ERP Integrations tool."


@dataclass(frozen=True)
class ErpToolAccess:
    company: Company
    membership: CompanyMembership

    @property
    def can_decide(self) -> bool:
        """Accept, Reject and Retry on some kind of item: accounting approvers only."""
        return approves_kind(self.membership)

    def decides(self, kind: str) -> bool:
        """Accept, Reject and Retry on items of `kind`: its accounting approvers only."""
        return approves_kind(self.membership, kind)


def erp_tool_access(user: Any, slug: str) -> ErpToolAccess:
    """404 unless the user belongs to the company; 403 without access to the tool."""
    membership = company_access(user, slug)
    if not views_erp_tool(membership):
        raise PermissionDenied(NO_TOOL_ACCESS)
    # The kinds the user may decide, read once for the page (one query).
    prefetch_related_objects([membership], "export_rights")
    return ErpToolAccess(company=membership.company, membership=membership)
