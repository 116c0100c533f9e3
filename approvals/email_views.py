"""The page an Accept or Reject link from an email opens (approvals.email_links).

GET only shows what the link would do, so a mail scanner that fetches links decides nothing;
the decision is the page's POST (CSRF-protected), through approvals.services.decide_from_email.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.text import capfirst
from django.views.decorators.http import require_http_methods

from approvals.email_links import (
    ACCEPT,
    NOT_YOURS,
    BadLink,
    EmailLink,
    Obstacle,
    link_obstacle,
    read_token,
)
from approvals.services import LinkRefused, decide_from_email
from erpsync.approval import approval_state
from erpsync.models import ErpItem
from erpsync.selectors import submitted_snapshot
from erpsync.snapshots import sections
from erpsync.states import ErpAction, ErpActionRefused, ErpState
from erpsync.web import refused
from projects.permissions import company_membership
from projects.terms import terms_for


def _item(link: EmailLink, user: Any) -> ErpItem:
    """The link's item, for a member of its company; 404 otherwise (an item of a company
    the user has left answers as if it did not exist)."""
    try:
        model = link.model()
    except LookupError:
        raise Http404("No such kind of item.") from None
    item = (
        model.objects.select_related(*model.erp_related, model.erp_project_path, "erp_sent_by")
        .filter(pk=link.item_id)
        .first()
    )
    if item is None or company_membership(user, item.erp_company) is None:
        raise Http404("No such item.")
    return item


def _page(
    request: HttpRequest,
    link: EmailLink,
    item: ErpItem,
    *,
    status: int = 200,
    obstacle: Obstacle | None = None,
    **extra: Any,
) -> HttpResponse:
    company = item.erp_company
    name = item.erp_name_in(company)
    submitted = submitted_snapshot(item, link.version)
    state = approval_state(item)
    verb = "Reject" if link.action != ACCEPT else "Approve" if state.remaining > 1 else "Accept"
    preview = reverse("erp_item", args=[company.slug, item.erp_kind, item.pk])
    title = obstacle.title if obstacle else f"{verb} {name}?"
    context = {
        "company": company,
        "item": item,
        "item_name": name,
        "link": link,
        "verb": verb,
        "title": title,
        "obstacle": obstacle,
        "approvals": state,
        "preview_url": preview,
        "now": timezone.now(),
        "submitted": submitted,
        "sections": sections(
            item.erp_snapshot_format,
            submitted.snapshot if submitted and submitted.snapshot else {},
            terms_for(company),
            title=name,
        ),
        "breadcrumbs": [
            (company.name, reverse("home")),
            ("ERP Integrations", reverse("erp_queue", args=[company.slug, item.erp_kind, "ready"])),
            (name, preview),
            (obstacle.title if obstacle else verb, None),
        ],
        **extra,
    }
    return render(request, "approvals/email_decision.html", context, status=status)


def _done(item: ErpItem, link: EmailLink) -> str:
    name = capfirst(item.erp_name_in(item.erp_company))
    if link.action != ACCEPT:
        return f"{name} rejected: its sender has been told why."
    if item.erp_state == ErpState.PARTIALLY_APPROVED:
        progress = approval_state(item).progress
        return f"Your approval of {name} is recorded ({progress}): it waits for another approver."
    return f"{name} accepted."


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def email_decision(request: HttpRequest, token: str) -> HttpResponse:
    try:
        link = read_token(token)
    except BadLink as bad:
        return refused(request, [str(bad)], 400, title="Link damaged")
    if link.user_id != request.user.pk:
        return refused(request, [NOT_YOURS], 403, title="Not your link")
    item = _item(link, request.user)
    if request.method == "POST":
        reason = request.POST.get("reason", "")
        try:
            item = decide_from_email(link=link, user=request.user, reason=reason)
        except LinkRefused as refusal:
            return _page(request, link, _item(link, request.user), **_refusal(refusal.obstacle))
        except ErpActionRefused as refusal:
            item = _item(link, request.user)
            obstacle = link_obstacle(link, item)
            if obstacle is not None:  # changed meanwhile: say by whom
                return _page(request, link, item, **_refusal(obstacle))
            return _page(request, link, item, status=refusal.status_code, reasons=refusal.reasons)
        except ValidationError as error:
            return _page(
                request, link, item, status=422, reason=reason, reason_error=error.messages
            )
        except PermissionDenied:
            return refused(request, [NOT_YOURS], 403, title="Not your link")
        except LookupError:
            raise Http404("No such item.") from None
        messages.success(request, _done(item, link))
        return redirect("erp_item", item.erp_company.slug, item.erp_kind, item.pk)
    obstacle = link_obstacle(link, item)
    if obstacle is not None:
        return _page(request, link, item, **_refusal(obstacle))
    action = ErpAction.ACCEPT if link.action == ACCEPT else ErpAction.REJECT
    decision = item.erp_decide(action, request.user)
    if not decision.allowed:
        return _page(request, link, item, status=decision.status_code, reasons=decision.reasons)
    return _page(request, link, item)


def _refusal(obstacle: Obstacle) -> dict[str, Any]:
    return {"obstacle": obstacle, "status": obstacle.status}
