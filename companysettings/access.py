"""Who may open the company settings pages and the company audit log."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied

from projects.access import company_access
from projects.models import CompanyMembership
from projects.permissions import (
    ERP_TOOL_ADMIN_REQUIRED,
    ERP_TOOL_VIEW_REQUIRED,
    administers_erp_tool,
    erp_tool_level_name,
    views_erp_tool,
)


def settings_access(user: Any, slug: str) -> CompanyMembership:
    """The user's membership: 404 outside the company, 403 unless an ERP tool Admin."""
    membership = company_access(user, slug)
    if not administers_erp_tool(membership):
        raise PermissionDenied(
            ERP_TOOL_ADMIN_REQUIRED.format(level=erp_tool_level_name(membership))
        )
    return membership


def audit_access(user: Any, slug: str) -> CompanyMembership:
    """The auditor's view: Read Only or more on the company's ERP Integrations tool."""
    membership = company_access(user, slug)
    if not views_erp_tool(membership):
        raise PermissionDenied(ERP_TOOL_VIEW_REQUIRED)
    return membership
