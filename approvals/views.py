"""The company ERP Integrations tool: the accounting approvers' pages."""

from __future__ import annotations

import re
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.text import capfirst
from django.views.decorators.http import require_GET, require_POST

from approvals.access import ErpToolAccess, erp_tool_access
from approvals.diff import changes_since_rejection
from approvals.kinds import Kind, kind_for, kinds_for
from approvals.selectors import FILTERS, filter_counts, history_page, queue_item, queue_page
from approvals.services import DECISIONS, decide, decide_many, summary
from erpsync.models import ErpItem
from erpsync.selectors import history_rows, submitted_snapshot
from erpsync.snapshots import sections
from erpsync.states import ErpActionRefused, ErpState
from erpsync.web import next_url, refused
from projects.permissions import APPROVER_REQUIRED
from projects.terms import terms_for


def _context(access: ErpToolAccess, kind: Kind | None = None, **extra: Any) -> dict[str, Any]:
    company = access.company
    kinds = kinds_for(company)
    counts = filter_counts(company)
    current = counts[kind.key] if kind else {}
    return {
        "company": company,
        "access": access,
        "tabs": [(k, counts[k.key]["ready"]) for k in kinds],
        "kind": kind,
        "filters": [(f, current.get(f.key)) for f in FILTERS.values()],
        "now": timezone.now(),
        "breadcrumbs": [(company.name, reverse("home")), ("ERP Integrations", None)],
        **extra,
    }


@login_required
@require_GET
def erp_tool(request: HttpRequest, slug: str) -> HttpResponse:
    access = erp_tool_access(request.user, slug)
    first = kinds_for(access.company)[0]
    return redirect("erp_queue", slug, first.key, "ready")


@login_required
@require_GET
def erp_queue(request: HttpRequest, slug: str, kind: str, filter_key: str) -> HttpResponse:
    access = erp_tool_access(request.user, slug)
    tab = kind_for(access.company, kind)
    filter_ = FILTERS.get(filter_key)
    if filter_ is None:
        raise Http404("No such filter.")
    page_number = request.GET.get("page", 1)
    if filter_.key == "history":
        page = history_page(access.company, tab, page_number)
    else:
        page = queue_page(access.company, tab, filter_, page_number)
    return render(request, "approvals/queue.html", _context(access, tab, filter=filter_, page=page))


def _approver(request: HttpRequest, slug: str) -> ErpToolAccess:
    access = erp_tool_access(request.user, slug)
    if not access.can_decide:
        raise PermissionDenied(APPROVER_REQUIRED)
    return access


# ASCII digits only: str.isdigit() also takes Arabic-Indic digits or "²", which int() reads
# or refuses. A version or id of more digits than this is no row of ours.
_NUMBER = re.compile(r"[0-9]{1,18}")
BAD_VERSION = (
    "The version you reviewed did not come with the request, or is not a version number: "
    "reload the page and review it again."
)
BAD_SELECTION = (
    "A selected row did not come as an item and its version: reload the page and select again."
)


def _number(raw: str | None) -> int | None:
    return int(raw) if raw is not None and _NUMBER.fullmatch(raw) else None


def _version(request: HttpRequest) -> int | None:
    """The version an Accept decides: the pages always send the one they show."""
    return _number(request.POST.get("version"))


def _selection(values: list[str]) -> dict[int, int | None] | None:
    """{item id: version} from the bulk form's `<id>:<version>` values; None if one is not."""
    versions: dict[int, int | None] = {}
    for value in values:
        item_id, _, version = value.partition(":")
        number, seen = _number(item_id), _number(version)
        if number is None or seen is None:
            return None
        versions[number] = seen
    return versions


@login_required
@require_POST
def erp_decide(
    request: HttpRequest, slug: str, kind: str, item_id: int, decision: str
) -> HttpResponse:
    """Accept, Reject or Retry one item; with htmx the row answers in place."""
    access = _approver(request, slug)
    tab = kind_for(access.company, kind)
    if decision not in DECISIONS:
        raise Http404("No such decision.")
    item = queue_item(access.company, tab, item_id)
    if item is None:
        raise Http404("No such item.")
    back = next_url(request, reverse("erp_queue", args=[slug, kind, "ready"]))
    reason = request.POST.get("reason", "")
    version = _version(request)
    if decision == "accept" and version is None:
        # Accepting without the version reviewed would skip the stale-page check.
        return _row_or_page(request, access, tab, item, [BAD_VERSION], 422)
    try:
        item = decide(
            item=item,
            user=request.user,
            decision=decision,
            reason=reason,
            version=version if decision == "accept" else None,
        )
    except ErpActionRefused as refusal:
        return _row_or_page(
            request, access, tab, item, refusal.reasons, refusal.status_code, decision=decision
        )
    except ValidationError as error:
        return _row_or_page(request, access, tab, item, error.messages, 422, reason_error=True)
    message = _done(access, tab, item, decision)
    if request.htmx:
        context = _context(access, tab, item=item, done=message, filter=FILTERS["ready"])
        return render(request, "approvals/queue.html#decided", context)
    messages.success(request, message)
    return redirect(back)


def _done(access: ErpToolAccess, tab: Kind, item: ErpItem, decision: str) -> str:
    """'Sub job 03-000 accepted.'; an export that already ran (eager tasks, the embedded
    demo) says how it ended."""
    message = f"{capfirst(item.erp_title)} {DECISIONS[decision]}."
    if decision in ("retry", "export"):
        now = queue_item(access.company, tab, item.pk) or item
        if now.erp_state == ErpState.SYNCED:
            message = f"{capfirst(item.erp_title)} exported to the ERP (ERP id {now.erp_id})."
        elif now.erp_state == ErpState.EXPORT_FAILED:
            message = f"{capfirst(item.erp_title)} could not be exported: {now.erp_error}"
    return message


def _row_or_page(
    request: HttpRequest,
    access: ErpToolAccess,
    tab: Kind,
    item: ErpItem,
    reasons: list[str],
    status: int,
    *,
    reason_error: bool = False,
    decision: str = "",
) -> HttpResponse:
    if not request.htmx:
        company = access.company
        queue = reverse("erp_queue", args=[company.slug, tab.key, "ready"])
        preview = reverse("erp_item", args=[company.slug, tab.key, item.pk])
        crumbs = [
            (company.name, reverse("home")),
            ("ERP Integrations", queue),
            (item.erp_name_in(company), preview),
            ("Not done", None),
        ]
        return refused(request, reasons, status, title="Not done", breadcrumbs=crumbs, back=queue)
    item = queue_item(access.company, tab, item.pk) or item
    # The row goes back into the list its button was on.
    if decision == "export":
        filter_ = FILTERS["exporting"]
    else:
        filter_ = FILTERS["failed" if item.erp_state == ErpState.EXPORT_FAILED else "ready"]
    context = _context(
        access,
        tab,
        item=item,
        row_error=" ".join(reasons),
        reason_error=reason_error,
        filter=filter_,
    )
    return render(request, "approvals/queue.html#row", context, status=status)


@login_required
@require_POST
def erp_bulk(request: HttpRequest, slug: str, kind: str) -> HttpResponse:
    """Accept or reject the selected rows, each on its own; report what happened to each."""
    access = _approver(request, slug)
    tab = kind_for(access.company, kind)
    back = next_url(request, reverse("erp_queue", args=[slug, kind, "ready"]))
    decision = request.POST.get("decision", "")
    if decision not in ("accept", "reject"):
        return refused(request, ["Choose Accept selected or Reject selected."], 400)
    versions = _selection(request.POST.getlist("selected"))
    if versions is None:
        return refused(request, [BAD_SELECTION], 422)
    if not versions:
        messages.error(request, "Select at least one item.")
        return redirect(back)
    try:
        outcomes = decide_many(
            company=access.company,
            kind=tab,
            user=request.user,
            decision=decision,
            versions=versions,
            reason=request.POST.get("reason", ""),
        )
    except ValidationError as error:
        return refused(request, error.messages, 422)
    level = messages.SUCCESS if all(o.done for o in outcomes) else messages.WARNING
    messages.add_message(request, level, summary(outcomes, decision))
    return redirect(back)


@login_required
@require_GET
def erp_item(request: HttpRequest, slug: str, kind: str, item_id: int) -> HttpResponse:
    """The approver's preview: exactly the submitted snapshot, and what changed since the
    last rejection."""
    access = erp_tool_access(request.user, slug)
    tab = kind_for(access.company, kind)
    item = queue_item(access.company, tab, item_id)
    if item is None:
        raise Http404("No such item.")
    if not item.erp_version:
        # Nothing was ever submitted: there is nothing for an approver to review.
        reason = f"This {item.erp_kind_label} has never been sent to the ERP Integrations tool."
        return refused(request, [reason], 404, title="Never sent")
    submitted = submitted_snapshot(item)
    name = item.erp_name_in(access.company)
    context = _context(
        access,
        tab,
        item=item,
        item_name=name,
        submitted=submitted,
        sections=sections(
            item.erp_snapshot_format,
            submitted.snapshot if submitted and submitted.snapshot else {},
            terms_for(access.company),
            title=name,
        ),
        since=changes_since_rejection(item),
        history=history_rows(item),
        filter=FILTERS["failed" if item.erp_state == ErpState.EXPORT_FAILED else "ready"],
    )
    context["breadcrumbs"] = [
        (access.company.name, reverse("home")),
        ("ERP Integrations", reverse("erp_queue", args=[slug, kind, "ready"])),
        (name, None),
    ]
    return render(request, "approvals/item.html", context)
