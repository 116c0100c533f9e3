"""Pieces every item page shares: the ERP buttons with their reasons, and refusals."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from erpsync.models import ErpItem
from erpsync.services import erp_resend, erp_retrieve, erp_send
from erpsync.states import ErpAction, ErpActionRefused, ItemLocked

SENDER_SERVICES: dict[ErpAction, Callable[..., ErpItem]] = {
    ErpAction.SEND: erp_send,
    ErpAction.RESEND: erp_resend,
    ErpAction.RETRIEVE: erp_retrieve,
}
DONE = {
    ErpAction.SEND: "Sent to ERP: it waits for an accounting approver.",
    ErpAction.RESEND: "Resent to ERP: the accounting approvers have been told.",
    ErpAction.RETRIEVE: "Retrieved from ERP: you can edit it again.",
}


@dataclass
class ErpButton:
    action: ErpAction
    label: str
    enabled: bool
    reasons: list[str] = field(default_factory=list)


def sender_buttons(item: ErpItem, user: Any) -> list[ErpButton]:
    """Send, Resend, Retrieve as the page shows them.

    A button appears when its action fits the item's state and the user holds the permission;
    it is greyed out, with every reason, when a precondition is missing. A button the user may
    never use is not shown at all.
    """
    buttons = []
    for action in SENDER_SERVICES:
        decision = item.erp_decide(action, user)
        if decision.fits_state and decision.permitted:
            buttons.append(ErpButton(action, action.label, decision.allowed, decision.reasons))
    return buttons


def refused(
    request: HttpRequest, reasons: list[str], status: int, *, title: str = "Not done"
) -> HttpResponse:
    """A readable refusal: a page, or for htmx a message that replaces the target."""
    context = {"title": title, "reasons": reasons, "back": request.META.get("HTTP_REFERER")}
    template = "refused.html#message" if request.htmx else "refused.html"
    return render(request, template, context, status=status)


def sender_action(
    request: HttpRequest, item: ErpItem, action: str, *, next_url: str
) -> HttpResponse:
    """POST Send, Resend or Retrieve on an item; the service checks everything again."""
    try:
        erp_action = ErpAction(action)
        service = SENDER_SERVICES[erp_action]
    except (ValueError, KeyError):
        return refused(request, [f"'{action}' is not an action here."], 404)
    try:
        service(item=item, user=request.user)
    except ErpActionRefused as refusal:
        return refused(
            request, refusal.reasons, refusal.status_code, title=f"{erp_action.label} refused"
        )
    messages.success(request, DONE[erp_action])
    return redirect(next_url)


def locked(request: HttpRequest, error: ItemLocked) -> HttpResponse:
    return refused(request, [error.message], error.status_code, title="Locked while with the ERP")
