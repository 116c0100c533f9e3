"""Who may reach what through the API: the pages' rules (projects.access, approvals.access),
narrowed to the token's company. Another company's objects answer 404."""

from __future__ import annotations

from django.http import Http404
from rest_framework.request import Request

from api.models import ApiToken
from approvals.access import ErpToolAccess, erp_tool_access
from approvals.kinds import Kind, kinds_for
from erpsync.models import ErpItem
from projects.access import company_access
from projects.models import Company, CompanyMembership


def _in_scope(request: Request, company: Company) -> None:
    token = request.auth
    if isinstance(token, ApiToken) and token.company_id != company.pk:
        raise Http404("No such company.")


def api_membership(request: Request, slug: str) -> CompanyMembership:
    membership = company_access(request.user, slug)
    _in_scope(request, membership.company)
    return membership


def api_tool_access(request: Request, slug: str) -> ErpToolAccess:
    """The company's ERP Integrations tool, as the pages allow it (403 without access)."""
    company_access_ = erp_tool_access(request.user, slug)
    _in_scope(request, company_access_.company)
    return company_access_


def kind_path(kind_key: str) -> str:
    """The kind's URL segment: sub_job → sub-jobs."""
    return f"{kind_key.replace('_', '-')}s"


def kind_at(company: Company, path: str) -> Kind:
    for kind in kinds_for(company):
        if kind_path(kind.key) == path:
            return kind
    raise Http404("No such kind of item.")


def company_item(company: Company, kind: Kind, item_id: int) -> ErpItem:
    item = kind.model.erp_queue(company).filter(pk=item_id).first()
    if item is None:
        raise Http404(f"No such {kind.model.erp_kind_label}.")
    return item
