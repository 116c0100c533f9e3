"""The company ERP Integrations tool: the accounting approvers' pages."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.text import capfirst
from django.views.decorators.http import require_GET, require_POST

from approvals.access import ErpToolAccess, erp_tool_access
from approvals.diff import changes_since_rejection
from approvals.filters import CARRIED
from approvals.kinds import Kind, kind_for, kinds_for
from approvals.refresh_views import refresh_context
from approvals.selectors import (
    FILTERS,
    Filter,
    filter_counts,
    history_csv_columns,
    history_listing,
    queue_csv_columns,
    queue_item,
    queue_listing,
    with_approvals,
)
from approvals.services import DECISIONS, decide, decide_many, summary
from approvals.unlink_views import unlink_context
from erpsync.approval import approval_state
from erpsync.models import ErpItem
from erpsync.selectors import history_rows, submitted_snapshot
from erpsync.snapshots import sections
from erpsync.states import AWAITING_APPROVAL, ErpActionRefused, ErpState
from erpsync.web import next_url, refused, unlink_button
from projects.listing import CSV_CHUNK, csv_filename, csv_response, wants_csv
from projects.permissions import APPROVER_REQUIRED, approver_required
from projects.terms import TERMS, term, terms_for


def _context(
    access: ErpToolAccess, kind: Kind | None = None, *, carry: str = "", **extra: Any
) -> dict[str, Any]:
    """What every page of the tool shows: the tabs and the state filters with their
    unfiltered counts; `carry` is the search the state links keep."""
    company = access.company
    kinds = kinds_for(company)
    counts = filter_counts(company)
    current = counts[kind.key] if kind else {}
    may_decide = kind is not None and access.decides(kind.key)
    return {
        "company": company,
        "access": access,
        "tabs": [(k, counts[k.key]["ready"]) for k in kinds],
        "kind": kind,
        # Accept, Reject, Retry on this tab: its approvers only; other approvers read it.
        "may_decide": may_decide,
        "rights_note": _rights_note(kind) if kind and access.can_decide and not may_decide else "",
        "filters": [(f, current.get(f.key)) for f in FILTERS.values()],
        "carry": carry,
        "now": timezone.now(),
        **refresh_context(access, kind),
        **unlink_context(access),
        "breadcrumbs": [(company.name, reverse("home")), ("ERP Integrations", None)],
        **extra,
    }


def _rights_note(kind: Kind) -> str:
    return (
        f"Read only: you may accept and reject other kinds of item, but you hold no right to "
        f"export {kind.label}. An ERP Integrations tool Admin grants it in Company settings, "
        "Directory."
    )


def _requirement_text(access: ErpToolAccess, item: ErpItem) -> str:
    """The rule the item's amount falls under, in the company's terms ('Owner Invoices of
    $250,000.00 or more need 2 approvals, one of them an ERP tool Admin's'), or ''."""
    rule = item.erp_approval.requirement.rule
    if rule is None:
        return ""
    kind = item.erp_kind
    label = term(access.company, kind) if kind in TERMS else capfirst(item.erp_kind_label)
    return rule.describe(label)


def _decorated[Item: ErpItem](
    request: HttpRequest, access: ErpToolAccess, kind: Kind, items: list[Item]
) -> list[Item]:
    """The rows with their approvals so far and the user's Accept decision (a fixed number
    of queries for the whole page)."""
    return with_approvals(
        items,
        access.company,
        request.user,
        access.membership,
        decides=access.decides(kind.key),
    )


@login_required
@require_GET
def erp_tool(request: HttpRequest, slug: str) -> HttpResponse:
    """Opens on the first tab with items ready to export (the first tab when none are)."""
    access = erp_tool_access(request.user, slug)
    kinds = kinds_for(access.company)
    counts = filter_counts(access.company)
    waiting = [kind for kind in kinds if counts.get(kind.key, {}).get("ready")]
    return redirect("erp_queue", slug, (waiting or kinds)[0].key, "ready")


def _queue_response(
    request: HttpRequest,
    access: ErpToolAccess,
    tab: Kind,
    filter_: Filter,
    data: QueryDict,
    *,
    status: int = 200,
    **extra: Any,
) -> HttpResponse:
    """The page of one state (or the history) as `data` searches, filters and sorts it; a
    filter that cannot be read answers 400 with the reason at its field."""
    company = access.company
    extra.setdefault("here", request.get_full_path())
    context = _context(access, tab, filter=filter_, **extra)
    if filter_.key == "history":
        listing = history_listing(company, tab, data)
    else:
        total = dict((f.key, n) for f, n in context["filters"])[filter_.key]
        listing = queue_listing(company, tab, filter_, data, total=total)
    if request.method == "GET" and wants_csv(data):
        if not listing.valid:
            return refused(request, listing.error_messages, 400, title="Not downloaded")
        columns = (history_csv_columns if filter_.key == "history" else queue_csv_columns)(
            company, tab
        )
        name = csv_filename(company.slug, tab.key, filter_.key, filtered=listing.active)
        return csv_response(name, columns, listing.rows.iterator(chunk_size=CSV_CHUNK))
    if filter_.key == "ready" and listing.page is not None:
        listing.page.object_list = _decorated(request, access, tab, list(listing.page.object_list))
    context.update(listing=listing, page=listing.page, carry=_carry(data))
    return render(request, "approvals/queue.html", context, status=status if listing.valid else 400)


@login_required
@require_GET
def erp_queue(request: HttpRequest, slug: str, kind: str, filter_key: str) -> HttpResponse:
    access = erp_tool_access(request.user, slug)
    tab = kind_for(access.company, kind)
    filter_ = FILTERS.get(filter_key)
    if filter_ is None:
        raise Http404("No such filter.")
    return _queue_response(request, access, tab, filter_, request.GET)


def _carry(data: QueryDict) -> str:
    """The search that the links to the other states keep (not the sort, nor the page)."""
    keep = QueryDict(mutable=True)
    for name in CARRIED:
        value = data.get(name, "")
        if value.strip():
            keep[name] = value
    return keep.urlencode()


def _query_of(url: str | None) -> QueryDict:
    return QueryDict(urlsplit(url or "").query)


def _current_query(request: HttpRequest) -> QueryDict:
    """The query of the page an htmx request came from (HX-Current-URL)."""
    return _query_of(request.htmx.current_url if request.htmx else None)


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


_LIST_OF_STATE = {ErpState.EXPORT_FAILED: "failed", ErpState.ACCEPTED: "exporting"}


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
    # The list the decision's button was on (Export now is on Exporting).
    filter_ = FILTERS[_LIST_OF_STATE.get(item.erp_state, "ready")]
    back = next_url(request, reverse("erp_queue", args=[slug, kind, filter_.key]))
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
        # The row answers in place; the tabs and state filters come along (out of band) with
        # their new counts.
        carry = _carry(_current_query(request))
        if item.erp_state in AWAITING_APPROVAL:
            # One approval of several: the row stays, showing its progress and the message.
            item = queue_item(access.company, tab, item.pk) or item
            [item] = _decorated(request, access, tab, [item])
            context = _context(
                access, tab, carry=carry, item=item, row_done=message, filter=filter_, here=back
            )
            return render(request, "approvals/queue.html#row_answer", context)
        context = _context(access, tab, carry=carry, item=item, done=message, filter=filter_)
        return render(request, "approvals/queue.html#decided", context)
    messages.success(request, message)
    return redirect(back)


def _done(access: ErpToolAccess, tab: Kind, item: ErpItem, decision: str) -> str:
    """'Sub job 03-000 accepted.'; an export that already ran (eager tasks, the embedded
    demo) says how it ended."""
    message = f"{capfirst(item.erp_title)} {DECISIONS[decision]}."
    if decision == "accept" and item.erp_state in AWAITING_APPROVAL:
        progress = approval_state(item).progress
        message = (
            f"{capfirst(item.erp_title)} approved ({progress}): it waits for another approver."
        )
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
    [item] = _decorated(request, access, tab, [item])
    # The row goes back into the list its button was on.
    if decision == "export":
        filter_ = FILTERS["exporting"]
    else:
        filter_ = FILTERS["failed" if item.erp_state == ErpState.EXPORT_FAILED else "ready"]
    context = _context(
        access,
        tab,
        carry=_carry(_current_query(request)),
        item=item,
        row_error=" ".join(reasons),
        reason_error=reason_error,
        reason=request.POST.get("reason", "") if reason_error else "",
        filter=filter_,
        here=next_url(
            request, reverse("erp_queue", args=[access.company.slug, tab.key, filter_.key])
        ),
    )
    return render(request, "approvals/queue.html#row_answer", context, status=status)


@login_required
@require_POST
def erp_bulk(request: HttpRequest, slug: str, kind: str) -> HttpResponse:
    """Accept or reject the selected rows (decide_many: one refusal undoes no other); report
    what happened to each."""
    access = _approver(request, slug)
    tab = kind_for(access.company, kind)
    if not access.decides(tab.key):
        raise PermissionDenied(approver_required(tab.model.erp_kind_label))
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
        # The page comes back as it was, the same rows still selected, with the reason's
        # error at the reason (its dialog open).
        return _queue_response(
            request,
            access,
            tab,
            FILTERS["ready"],
            _query_of(back),
            status=422,
            here=back,
            selected=set(versions),
            bulk_error=" ".join(error.messages),
            bulk_reason=request.POST.get("reason", ""),
        )
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
    [item] = _decorated(request, access, tab, [item])
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
        approval=item.erp_approval,
        awaiting=item.erp_state in AWAITING_APPROVAL,
        accept_version=str(submitted.version if submitted else item.erp_version),
        requirement_text=_requirement_text(access, item),
        filter=FILTERS["failed" if item.erp_state == ErpState.EXPORT_FAILED else "ready"],
        # Unlink on a synced item's preview (greyed out with every reason when not allowed).
        unlink_buttons=[unlink_button(item, request.user)]
        if item.erp_state == ErpState.SYNCED
        else [],
        unlink_base=reverse("erp_item", args=[slug, kind, item.pk]),
    )
    context["breadcrumbs"] = [
        (access.company.name, reverse("home")),
        ("ERP Integrations", reverse("erp_queue", args=[slug, kind, "ready"])),
        (name, None),
    ]
    return render(request, "approvals/item.html", context)
