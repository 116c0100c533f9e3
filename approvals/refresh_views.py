"""Refresh from the ERP Integrations tool's Synced list (erpsync.refresh does the work)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.http import require_POST

from approvals.access import ErpToolAccess, erp_tool_access
from approvals.kinds import Kind, kind_for
from approvals.selectors import queue_item
from erpsync.adapters import Capability, adapter_class_for
from erpsync.states import ErpAction
from erpsync.web import item_action, next_url
from projects.permissions import administers_erp_tool


def refresh_context(access: ErpToolAccess, kind: Kind | None) -> dict[str, Any]:
    """Whether the Synced list offers Refresh to this user, and why it is greyed out."""
    may = kind is not None and (access.decides(kind.key) or administers_erp_tool(access.membership))
    adapter = adapter_class_for(access.company)
    can = adapter.can(Capability.FETCH)
    return {
        "may_refresh": may,
        "refresh_unavailable": "" if can else adapter.cannot(Capability.FETCH),
    }


@login_required
@require_POST
def erp_refresh_item(request: HttpRequest, slug: str, kind: str, item_id: int) -> HttpResponse:
    """POST Refresh on a synced item; erp_refresh checks the permission and the state."""
    access = erp_tool_access(request.user, slug)
    tab = kind_for(access.company, kind)
    item = queue_item(access.company, tab, item_id)
    if item is None:
        raise Http404("No such item.")
    back = next_url(request, reverse("erp_queue", args=[slug, kind, "synced"]))
    return item_action(request, item, ErpAction.REFRESH, next_url=back, named=True)
