"""Unlink from the ERP Integrations tool (the Synced list and an item's preview) and the
Archived list's rows; erpsync.unlink does the work and checks everything again."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.http import require_POST

from approvals.access import ErpToolAccess, erp_tool_access
from approvals.kinds import kind_for
from approvals.selectors import ARCHIVED, queue_item
from erpsync.adapters import Capability, adapter_class_for
from erpsync.states import ErpAction
from erpsync.unlink import UNLINK_PERMISSION
from erpsync.web import item_action, next_url
from projects.permissions import administers_erp_tool


def unlink_context(access: ErpToolAccess) -> dict[str, Any]:
    """Whether the Synced list's Unlink is live for this user, and every reason it is greyed
    out: only ERP tool Admins unlink, and only through an ERP that can."""
    adapter = adapter_class_for(access.company)
    reasons = []
    if not administers_erp_tool(access.membership):
        reasons.append(UNLINK_PERMISSION)
    if not adapter.can(Capability.UNLINK):
        reasons.append(adapter.cannot(Capability.UNLINK))
    return {"unlink_refusals": reasons}


@login_required
@require_POST
def erp_unlink_item(request: HttpRequest, slug: str, kind: str, item_id: int) -> HttpResponse:
    """POST Unlink on a synced item; erp_unlink checks the permission, the state and asks the
    ERP. Back to the Archived list (or `next`) with what the ERP did."""
    access = erp_tool_access(request.user, slug)
    tab = kind_for(access.company, kind)
    item = queue_item(access.company, tab, item_id)
    if item is None:
        raise Http404("No such item.")
    back = next_url(request, reverse("erp_queue", args=[slug, kind, ARCHIVED]))
    return item_action(request, item, ErpAction.UNLINK, next_url=back, named=True)
