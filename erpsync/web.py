"""Pieces every item page shares: the ERP buttons with their reasons, and refusals."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from erpsync.adapters import ErpError
from erpsync.approval import approval_state
from erpsync.models import ErpEvent, ErpItem, UpdateState
from erpsync.refresh import erp_refresh, refresh_decision
from erpsync.selectors import history_rows
from erpsync.services import erp_resend, erp_retrieve, erp_send
from erpsync.states import AWAITING_APPROVAL, ErpAction, ErpActionRefused, ErpState, ItemLocked
from erpsync.unlink import StillInErp, erp_unlink, unlink_decision
from erpsync.updates import change_rows, last_update

SENDER_SERVICES: dict[ErpAction, Callable[..., ErpItem]] = {
    ErpAction.SEND: erp_send,
    ErpAction.RESEND: erp_resend,
    ErpAction.RETRIEVE: erp_retrieve,
}
# Every ERP button of an item page posts to sender_action, which calls one of these.
PAGE_SERVICES: dict[ErpAction, Callable[..., ErpItem]] = {
    **SENDER_SERVICES,
    ErpAction.REFRESH: erp_refresh,
    ErpAction.UNLINK: erp_unlink,
}
DONE = {
    ErpAction.SEND: "Sent to ERP: it waits for an accounting approver.",
    ErpAction.RESEND: "Resent to ERP: the accounting approvers have been told.",
    ErpAction.RETRIEVE: "Retrieved from ERP: you can edit it again.",
}


def apply_errors(form: forms.BaseForm, error: ValidationError) -> None:
    """Put a service's ValidationError on the form: at its field when the form has that field,
    else above the form, named after the model field it is about."""
    if not hasattr(error, "error_dict"):
        for message in error.messages:
            form.add_error(None, message)
        return
    model = getattr(getattr(form, "_meta", None), "model", None)
    for name, field_messages in error.message_dict.items():
        for message in field_messages:
            if name in form.fields:
                form.add_error(name, message)
            elif name == "__all__" or model is None:
                form.add_error(None, message)
            else:
                label = str(model._meta.get_field(name).verbose_name).capitalize()
                form.add_error(None, f"{label}: {message}")


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
    refresh = refresh_button(item, user)
    if refresh is not None:
        buttons.append(refresh)
    if item.erp_version:
        # Once sent, the item may come to be synced: Unlink shows, greyed out until then. An
        # item never sent has nothing to unlink and no button for it.
        buttons.append(unlink_button(item, user))
    return buttons


def refresh_button(item: ErpItem, user: Any) -> ErpButton | None:
    """Refresh on a synced item, for its approvers and ERP tool Admins; greyed out with the
    reason when the company's ERP cannot be read back."""
    decision = refresh_decision(item, user)
    if not (decision.fits_state and decision.permitted):
        return None
    return ErpButton(ErpAction.REFRESH, "Refresh", decision.allowed, decision.reasons)


def unlink_button(item: ErpItem, user: Any) -> ErpButton:
    """Unlink, on every item page: enabled for an ERP tool Admin on a synced item whose ERP
    can void it, else greyed out with every reason (the permission, the state, the ERP)."""
    decision = unlink_decision(item, user)
    return ErpButton(ErpAction.UNLINK, "Unlink", decision.allowed, decision.reasons)


UNLINKED = (
    "Unlinked from the ERP: {detail} It is not sent now; sending it again makes a new record "
    "in the ERP."
)


def unlinked_message(item: ErpItem) -> str:
    """What the ERP did, from the unlink's audit row ('… was voided in the sandbox ERP.')."""
    event = (
        ErpEvent.objects.filter(
            content_type=ContentType.objects.get_for_model(item),
            object_id=item.pk,
            action=ErpAction.UNLINK,
        )
        .order_by("-pk")
        .first()
    )
    return UNLINKED.format(detail=event.reason if event else "")


def refreshed_message(item: ErpItem) -> str:
    if item.erp_drift:
        return f"Refreshed from the ERP: {item.erp_drift}"
    return "Refreshed from the ERP."


def erp_panel(item: ErpItem, user: Any, page_url: str) -> dict[str, Any]:
    """The context of an item page's ERP panel (templates/erp/ribbon, buttons, history).

    The action URLs are the item page's own URL + "erp/<action>/".
    """
    return {
        "item": item,
        "buttons": sender_buttons(item, user),
        "action_base": page_url + "erp/",
        "history": history_rows(item),
        # The ribbon of a partly approved item says how far it got, and who approved.
        "approval": approval_state(item) if item.erp_state in AWAITING_APPROVAL else None,
        **update_panel(item),
    }


def update_panel(item: ErpItem) -> dict[str, Any]:
    """A synced item's latest update request (Ready to Update) and its changes, for the banner
    under the ribbon (templates/erp/update.html); a synced one needs no banner."""
    request = last_update(item) if item.erp_state == ErpState.SYNCED else None
    if request is None or request.state in (UpdateState.SYNCED, UpdateState.WITHDRAWN):
        return {"update": None}
    return {"update": request, "update_changes": change_rows(item, request)}


def safe_url[Default: str | None](
    request: HttpRequest, candidate: str | None, default: Default
) -> str | Default:
    """`candidate` when it is a page of this site (this host; HTTPS when the request came over
    HTTPS), else `default`. Every next or back URL taken from a request goes through here:
    anything else is an open redirect, or a javascript: link."""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return default


def next_url(request: HttpRequest, default: str) -> str:
    """Where to go after a POST: its `next` field when safe_url allows it, else `default`."""
    return safe_url(request, request.POST.get("next"), default)


def refused(
    request: HttpRequest,
    reasons: list[str],
    status: int,
    *,
    title: str = "Not done",
    breadcrumbs: list[tuple[str, str | None]] | None = None,
    back: str | None = None,
) -> HttpResponse:
    """A readable refusal: a page in the app's layout (breadcrumbs, and a link back to where
    the user came from or to `back`), or for htmx a message that replaces the target."""
    back = safe_url(request, request.META.get("HTTP_REFERER"), None) or back
    context = {"title": title, "reasons": reasons, "back": back, "breadcrumbs": breadcrumbs}
    template = "refused.html#message" if request.htmx else "refused.html"
    return render(request, template, context, status=status)


def sender_action(
    request: HttpRequest, item: ErpItem, action: str, *, next_url: str
) -> HttpResponse:
    """POST Send, Resend, Retrieve, Refresh or Unlink on an item's page."""
    if action not in PAGE_SERVICES:  # ErpAction members are their str values
        return refused(request, [f"'{action}' is not an action here."], 404)
    return item_action(request, item, ErpAction(action), next_url=next_url)


def item_action(
    request: HttpRequest,
    item: ErpItem,
    erp_action: ErpAction,
    *,
    next_url: str,
    named: bool = False,
) -> HttpResponse:
    """Run one of PAGE_SERVICES on the item (the service checks everything again) and answer
    as every page does: its refusal with the reasons, 503 when the ERP could not be asked,
    else back to `next_url` saying what happened (after the item's name, with `named`: the
    company's lists mix items)."""
    label = erp_action.label.removesuffix(" from ERP")
    crumbs = {"breadcrumbs": item_breadcrumbs(item), "back": next_url}
    try:
        item = PAGE_SERVICES[erp_action](item=item, user=request.user)
    except ErpError as error:
        reasons = [f"The ERP could not be asked: {error.message}"]
        return refused(request, reasons, 503, title=f"{label} failed", **crumbs)
    except StillInErp as refusal:
        return refused(
            request, refusal.reasons, refusal.status_code, title="Still in the ERP", **crumbs
        )
    except ErpActionRefused as refusal:
        return refused(
            request, refusal.reasons, refusal.status_code, title=f"{label} refused", **crumbs
        )
    if erp_action == ErpAction.REFRESH:
        done = refreshed_message(item)
    elif erp_action == ErpAction.UNLINK:
        done = unlinked_message(item)
    else:
        done = DONE[erp_action]
    messages.success(request, f"{item.erp_name_in(item.erp_company)}: {done}" if named else done)
    return redirect(next_url)


def locked(request: HttpRequest, error: ItemLocked) -> HttpResponse:
    return refused(request, [error.message], error.status_code, title="Locked while with the ERP")


# ----- optimistic concurrency on edit forms ------------------------------------------------

SEEN_EVENT = "seen_event"
BAD_SEEN_EVENT = "This form is damaged or out of date: reload the page and make your change again."


def seen_event_of(request: HttpRequest) -> int | None:
    """The newest audit row the submitted form showed (its hidden `seen_event`): None when
    absent; ValueError unless it is ASCII digits (no sign, no other scripts' digits)."""
    raw = request.POST.get(SEEN_EVENT)
    if raw is None:
        return None
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 18):
        raise ValueError(BAD_SEEN_EVENT)
    return int(raw)


def item_breadcrumbs(item: ErpItem) -> list[tuple[str, str | None]]:
    """Company, project, item: the trail of pages about one item (refusals among them)."""
    project, company = item.erp_project, item.erp_company
    return [
        (company.name, reverse("home")),
        (f"{project.number} {project.name}", reverse("project", args=[project.pk])),
        (item.erp_name_in(company), item.get_absolute_url()),
    ]
