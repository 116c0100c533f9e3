"""Ready to Update in the ERP Integrations tool: synced items with a change waiting, each shown
side by side (field, current in the ERP, requested), with Accept, Reject, and for a failed
update Retry (erpsync.updates does the work)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.text import capfirst
from django.views.decorators.http import require_GET, require_POST

from approvals.access import erp_tool_access
from approvals.kinds import Kind, kind_for
from approvals.selectors import FILTERS
from approvals.views import _context
from erpsync.models import ErpItem, UpdateRequest
from erpsync.states import ErpAction, ErpActionRefused
from erpsync.updates import (
    change_rows,
    erp_accept_update,
    erp_reject_update,
    erp_retry_update,
    update_decision,
    update_queue,
)
from erpsync.web import next_url, refused
from projects.permissions import APPROVER_REQUIRED

PAGE_SIZE = 50
BAD_REVISION = (
    "The change you reviewed did not come with the request: reload the page and review it again."
)
UPDATE_DECISIONS = {
    "accept": (erp_accept_update, "accepted: it is being sent to the ERP"),
    "reject": (erp_reject_update, "rejected: the requester was told why"),
    "retry": (erp_retry_update, "queued again for the ERP"),
}


def _rows(
    company: Any, kind: Kind, requests: list[UpdateRequest], user: Any, decides: bool
) -> list[dict[str, Any]]:
    """Each request with its item (read for the whole page in one query), its changes labelled
    in the company's terms, and the user's Accept decision with every reason."""
    items = {
        item.pk: item
        for item in kind.model.erp_queue(company).filter(pk__in=[r.object_id for r in requests])
    }
    rows = []
    for request in requests:
        item = items.get(request.object_id)
        if item is None:
            continue
        rows.append(
            {
                "request": request,
                "item": item,
                "changes": change_rows(item, request),
                "accept": update_decision(request, item, ErpAction.UPDATE_ACCEPT, user)
                if decides
                else None,
            }
        )
    return rows


@login_required
@require_GET
def erp_update_queue(request: HttpRequest, slug: str, kind: str) -> HttpResponse:
    """Ready to Update: the kind's update requests waiting, being sent, or failed."""
    access = erp_tool_access(request.user, slug)
    tab = kind_for(access.company, kind)
    page = Paginator(update_queue(access.company, tab.model), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    decides = access.decides(tab.key)
    context = _context(
        access,
        tab,
        filter=FILTERS["update"],
        page=page,
        rows=_rows(access.company, tab, list(page.object_list), request.user, decides),
        here=request.get_full_path(),
    )
    # The other lists leave Ready to Update uncounted (no query of theirs); here it is known.
    context["filters"] = [
        (f, page.paginator.count if f.key == "update" else n) for f, n in context["filters"]
    ]
    return render(request, "approvals/updates.html", context)


def _request_of(company: Any, kind: Kind, request_id: int) -> UpdateRequest:
    found = (
        UpdateRequest.objects.filter(
            company=company,
            content_type=ContentType.objects.get_for_model(kind.model),
            pk=request_id,
        )
        .select_related("requested_by", "decided_by")
        .first()
    )
    if found is None:
        raise Http404("No such update request.")
    return found


@login_required
@require_POST
def erp_update_decide(
    request: HttpRequest, slug: str, kind: str, request_id: int, decision: str
) -> HttpResponse:
    """Accept, reject or retry one update request; the service checks everything again."""
    access = erp_tool_access(request.user, slug)
    if not access.can_decide:
        raise PermissionDenied(APPROVER_REQUIRED)
    tab = kind_for(access.company, kind)
    if decision not in UPDATE_DECISIONS:
        raise Http404("No such decision.")
    update = _request_of(access.company, tab, request_id)
    item: ErpItem | None = update.item
    back = next_url(request, reverse("erp_queue", args=[slug, kind, "update"]))
    service, done = UPDATE_DECISIONS[decision]
    kwargs: dict[str, Any] = {}
    if decision == "reject":
        kwargs["reason"] = request.POST.get("reason", "")
    if decision == "accept":
        # The revision the approver reviewed: a change amended since is not accepted unseen.
        revision = request.POST.get("revision", "")
        if not (revision.isascii() and revision.isdigit() and len(revision) <= 9):
            return refused(request, [BAD_REVISION], 422, title="Not done", back=back)
        kwargs["expected_revision"] = int(revision)
    try:
        service(request=update, user=request.user, **kwargs)
    except ErpActionRefused as refusal:
        return refused(request, refusal.reasons, refusal.status_code, title="Not done", back=back)
    except ValidationError as error:
        return refused(request, error.messages, 422, title="Not done", back=back)
    name = item.erp_name_in(access.company) if item is not None else "The item"
    messages.success(request, f"{capfirst(name)}: update {done}.")
    return redirect(back)
