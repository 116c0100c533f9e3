"""The project Admin tool's Sub Jobs pages, as in the sub job seed page."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from erpsync.models import UpdateRequest, UpdateState
from erpsync.selectors import latest_event_id
from erpsync.states import ErpActionRefused, ErpState, ItemLocked, StaleEdit
from erpsync.updates import open_update, update_request_decision
from erpsync.web import (
    apply_errors,
    erp_panel,
    locked,
    next_url,
    refused,
    seen_event_of,
    sender_action,
)
from projects.access import ProjectAccess, project_access
from projects.listing import CSV_CHUNK, Listing, csv_filename, csv_response, wants_csv
from projects.permissions import SUB_JOB_ADMIN_REQUIRED
from projects.views import page_context
from subjobs.access import get_sub_job, require_sub_jobs_view
from subjobs.forms import EditForm, SubJobForm
from subjobs.models import SubJob
from subjobs.selectors import sub_job_csv_columns, sub_job_listing
from subjobs.services import (
    sub_job_approve,
    sub_job_create,
    sub_job_request_update,
    sub_job_update,
)


def _list_context(
    access: ProjectAccess, form: SubJobForm, listing: Listing, **extra: Any
) -> dict[str, Any]:
    project = access.project
    crumbs = [("Admin", reverse("project_admin", args=[project.pk])), ("Sub Jobs", None)]
    return page_context(
        access, crumbs, form=form, listing=listing, sub_jobs=listing.page or [], **extra
    )


def _admin_tool(request: HttpRequest, project_id: int) -> ProjectAccess:
    access = project_access(request.user, project_id)
    require_sub_jobs_view(access)
    return access


@login_required
@require_http_methods(["GET", "POST"])
def sub_job_list(request: HttpRequest, project_id: int) -> HttpResponse:
    access = _admin_tool(request, project_id)
    if request.method == "GET" and wants_csv(request.GET):
        return _sub_jobs_csv(request, access)
    form = SubJobForm(request.POST or None)
    status = 200
    added = None
    if request.method == "POST":
        access.require(access.manages_sub_jobs, SUB_JOB_ADMIN_REQUIRED)
        if form.is_valid():
            try:
                added = sub_job_create(
                    project=access.project, user=request.user, **form.cleaned_data
                )
            except ValidationError as error:
                apply_errors(form, error)
        if added is None:
            status = 422
        elif not request.htmx:
            messages.success(request, f"Sub job {added.code} added.")
            return redirect("sub_job_list", project_id)
        else:
            form = SubJobForm()
    # Read after any add, so that the new sub job is counted and listed.
    listing = sub_job_listing(access, request.GET)
    if not listing.valid and status == 200:
        status = 400
    context = _list_context(access, form, listing, added=added)
    template = "subjobs/list.html#section" if request.htmx else "subjobs/list.html"
    return render(request, template, context, status=status)


def _sub_jobs_csv(request: HttpRequest, access: ProjectAccess) -> HttpResponse:
    """The list as filtered, every page of it, streamed as CSV."""
    listing = sub_job_listing(access, request.GET)
    if not listing.valid:
        return refused(request, listing.error_messages, 400, title="Not downloaded")
    name = csv_filename(access.project.number, "sub jobs", filtered=listing.active)
    rows = listing.rows.iterator(chunk_size=CSV_CHUNK)
    return csv_response(name, sub_job_csv_columns(), rows)


def _row(
    request: HttpRequest, access: ProjectAccess, sub_job: SubJob, status: int = 200, **extra: Any
) -> HttpResponse:
    context = page_context(access, [], sub_job=sub_job, **extra)
    return render(request, "subjobs/list.html#row", context, status=status)


@login_required
@require_GET
def sub_job_row(request: HttpRequest, project_id: int, sub_job_id: int) -> HttpResponse:
    access = _admin_tool(request, project_id)
    return _row(request, access, get_sub_job(access, sub_job_id))


@login_required
@require_http_methods(["GET", "POST"])
def sub_job_rename(request: HttpRequest, project_id: int, sub_job_id: int) -> HttpResponse:
    """Edit a sub job's Sub Job ID and name. With htmx the row turns into an editor (double-
    click the name, or Enter or F2 on it, or its Edit button; Enter saves, Escape cancels);
    without, it is a page of its own."""
    access = _admin_tool(request, project_id)
    access.require(access.manages_sub_jobs, SUB_JOB_ADMIN_REQUIRED)
    sub_job = get_sub_job(access, sub_job_id)
    if sub_job.erp_state == ErpState.SYNCED:
        return _request_update(request, access, sub_job)
    if sub_job.erp_locked:
        reason = sub_job.erp_lock_reason(request.user) or ""
        if not request.htmx:
            return locked(request, ItemLocked(reason))
        return _row(request, access, sub_job, status=409, row_error=reason)
    form = EditForm(request.POST or None, initial={"code": sub_job.code, "name": sub_job.name})
    status = 422 if request.method == "POST" else 200
    row_error = None
    if request.method == "POST":
        try:
            seen_event = seen_event_of(request)
        except ValueError as error:
            return _editor(request, access, sub_job, form, status=422, error=str(error))
        if form.is_valid():
            try:
                fields = dict(form.cleaned_data)
                if "code" not in request.POST:
                    del fields["code"]  # a rename alone (an older page) keeps the Sub Job ID
                sub_job = sub_job_update(
                    sub_job=sub_job, user=request.user, seen_event=seen_event, **fields
                )
            except ItemLocked as error:
                return _row(request, access, sub_job, status=409, row_error=error.message)
            except StaleEdit as error:
                status, row_error = error.status_code, error.message
                sub_job.refresh_from_db()
            except ValidationError as error:
                apply_errors(form, error)
            else:
                if not request.htmx:
                    messages.success(request, f"Sub job {sub_job.code} saved.")
                    return redirect("sub_job_detail", project_id, sub_job.pk)
                return _row(request, access, sub_job)
    return _editor(request, access, sub_job, form, status=status, error=row_error)


def _request_update(request: HttpRequest, access: ProjectAccess, sub_job: SubJob) -> HttpResponse:
    """Rename a synced sub job: the new name becomes an update request (Ready to Update) and
    the sub job stays synced. Its Sub Job ID is shown but cannot change. Refused with every
    reason where the company's ERP cannot update it, or an update is under way."""
    open_request = open_update(sub_job)
    decision = update_request_decision(
        sub_job, request.user, open_state=open_request.state if open_request else None
    )
    if not decision.allowed:
        if request.htmx:
            return _row(
                request,
                access,
                sub_job,
                status=decision.status_code,
                row_error=" ".join(decision.reasons),
            )
        return refused(request, decision.reasons, decision.status_code, title="Not editable")
    form = EditForm(request.POST or None, initial={"code": sub_job.code, "name": sub_job.name})
    form.fields["code"].widget.attrs["readonly"] = True
    form.fields["code"].help_text = UPDATE_CODE_HELP
    status = 200
    if request.method == "POST":
        status = 422
        if form.is_valid():
            try:
                update = sub_job_request_update(
                    sub_job=sub_job,
                    user=request.user,
                    name=form.cleaned_data["name"],
                    code=request.POST.get("code"),
                )
            except ErpActionRefused as refusal:
                return refused(request, refusal.reasons, refusal.status_code, title="Not saved")
            except ValidationError as error:
                apply_errors(form, error)
            else:
                sub_job.refresh_from_db()
                if not request.htmx:
                    messages.success(request, _update_message(sub_job, update))
                    return redirect("sub_job_detail", sub_job.project_id, sub_job.pk)
                return _row(request, access, sub_job)
    return _editor(request, access, sub_job, form, status=status, error=None, updating=True)


UPDATE_CODE_HELP = "The Sub Job ID of a synced sub job is its key in the ERP: it cannot change."


def _update_message(sub_job: SubJob, update: UpdateRequest | None) -> str:
    if update is None:
        return f"Sub job {sub_job.code}: nothing changed."
    if update.state == UpdateState.WITHDRAWN:
        return f"Sub job {sub_job.code} is back to its name in the ERP: no update is needed."
    return (
        f"Sub job {sub_job.code}: update requested. It stays synced with the ERP; an "
        "accounting approver will accept or reject the new name (Ready to Update)."
    )


def _editor(
    request: HttpRequest,
    access: ProjectAccess,
    sub_job: SubJob,
    form: EditForm,
    *,
    status: int,
    error: str | None,
    updating: bool = False,
) -> HttpResponse:
    """The editor: the row's inline form for htmx, else the edit page. `updating`: the sub job
    is synced, and saving requests an update of its name."""
    seen_event = latest_event_id(sub_job)
    if request.htmx:
        return _row(
            request,
            access,
            sub_job,
            status=status,
            editing=True,
            edit_form=form,
            row_error=error,
            seen_event=seen_event,
            updating=updating,
        )
    project = access.project
    crumbs = [
        ("Admin", reverse("project_admin", args=[project.pk])),
        ("Sub Jobs", reverse("sub_job_list", args=[project.pk])),
        (sub_job.code, reverse("sub_job_detail", args=[project.pk, sub_job.pk])),
        ("Edit", None),
    ]
    context = page_context(
        access,
        crumbs,
        sub_job=sub_job,
        edit_form=form,
        error=error,
        seen_event=seen_event,
        updating=updating,
    )
    return render(request, "subjobs/edit.html", context, status=status)


@login_required
@require_POST
def sub_job_approve_view(request: HttpRequest, project_id: int, sub_job_id: int) -> HttpResponse:
    access = _admin_tool(request, project_id)
    access.require(access.manages_sub_jobs, SUB_JOB_ADMIN_REQUIRED)
    sub_job = get_sub_job(access, sub_job_id)
    try:
        sub_job = sub_job_approve(sub_job=sub_job, user=request.user)
    except ItemLocked as error:
        if request.htmx:
            return _row(request, access, sub_job, status=409, row_error=error.message)
        return locked(request, error)
    if request.htmx:
        return _row(request, access, sub_job)
    messages.success(request, f"Sub job {sub_job.code} approved.")
    return redirect(next_url(request, reverse("sub_job_list", args=[project_id])))


@login_required
@require_GET
def sub_job_detail(request: HttpRequest, project_id: int, sub_job_id: int) -> HttpResponse:
    access = _admin_tool(request, project_id)
    sub_job = get_sub_job(access, sub_job_id)
    project = access.project
    crumbs = [
        ("Admin", reverse("project_admin", args=[project.pk])),
        ("Sub Jobs", reverse("sub_job_list", args=[project.pk])),
        (sub_job.code, None),
    ]
    context = page_context(
        access,
        crumbs,
        sub_job=sub_job,
        **erp_panel(sub_job, request.user, request.path),
    )
    return render(request, "subjobs/detail.html", context)


@login_required
@require_POST
def sub_job_erp_action(
    request: HttpRequest, project_id: int, sub_job_id: int, action: str
) -> HttpResponse:
    access = _admin_tool(request, project_id)
    sub_job = get_sub_job(access, sub_job_id)
    next_url = reverse("sub_job_detail", args=[project_id, sub_job_id])
    return sender_action(request, sub_job, action, next_url=next_url)
