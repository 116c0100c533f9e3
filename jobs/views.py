"""The project's job: its page, its panel on the project page, and its ERP actions."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from erpsync.models import UpdateState
from erpsync.states import ErpAction, ErpActionRefused, ErpState, ItemLocked
from erpsync.updates import open_update, update_request_decision
from erpsync.web import (
    DONE,
    apply_errors,
    erp_panel,
    item_breadcrumbs,
    refused,
    sender_action,
    sender_buttons,
)
from jobs.access import get_job, job_of
from jobs.forms import ProjectForm, ProjectNameForm
from jobs.models import JOB_ADMIN_REQUIRED, Job
from jobs.services import hand_synced_reason, job_send, project_create, project_rename
from projects.access import ProjectAccess, company_access, project_access
from projects.models import ProjectTool
from projects.permissions import PROJECT_CREATOR_REQUIRED
from projects.tools import register_panel
from projects.views import company_context, page_context


def _panel(job: Job, user: Any) -> dict[str, Any]:
    url = reverse("job_detail", args=[job.project_id])
    context = erp_panel(job, user, url) if job.pk else _unsent_panel(job, user, url)
    return {**context, "job": job}


def _unsent_panel(job: Job, user: Any, url: str) -> dict[str, Any]:
    # A job never sent has no row yet: its buttons are decided on an unsaved one, no history.
    return {
        "item": job,
        "history": [],
        "buttons": sender_buttons(job, user),
        "action_base": url + "erp/",
    }


def project_panel(access: ProjectAccess) -> tuple[str, dict[str, Any]] | None:
    """The job's panel on the project page, for those who see the project's Admin tool."""
    if not access.can_view(ProjectTool.ADMIN):
        return None
    return "jobs/panel.html", _panel(job_of(access), access.user)


def register() -> None:
    register_panel("job", project_panel)


def _rename(job: Job, access: ProjectAccess) -> dict[str, Any]:
    """The project rename form's state: `updating` once the job is synced (a new name is an
    update request), and every reason it cannot be used now (greyed out)."""
    if not access.manages_sub_jobs:
        return {"shown": False}
    if job.pk is not None and job.erp_state == ErpState.SYNCED:
        request = open_update(job)
        decision = update_request_decision(
            job, access.user, open_state=request.state if request else None
        )
        return {"shown": True, "updating": True, "reasons": decision.reasons}
    if job.pk is None:
        reason = hand_synced_reason(access.project) if access.project.erp_synced else None
    else:
        reason = job.erp_lock_reason(access.user)
    return {"shown": True, "updating": False, "reasons": [reason] if reason else []}


def _detail(
    request: HttpRequest,
    access: ProjectAccess,
    form: ProjectNameForm | None = None,
    status: int = 200,
) -> HttpResponse:
    job = job_of(access)
    form = form or ProjectNameForm(initial={"name": access.project.name})
    context = page_context(
        access,
        [("Job in the ERP", None)],
        rename=_rename(job, access),
        rename_form=form,
        **_panel(job, request.user),
    )
    return render(request, "jobs/detail.html", context, status=status)


@login_required
@require_GET
def job_detail(request: HttpRequest, project_id: int) -> HttpResponse:
    return _detail(request, project_access(request.user, project_id))


@login_required
@require_POST
def job_rename(request: HttpRequest, project_id: int) -> HttpResponse:
    """Rename the project: directly before its job is synced; once it is, an update request
    for the accounting approvers (Ready to Update), the job staying synced."""
    access = project_access(request.user, project_id)
    access.require(access.manages_sub_jobs, JOB_ADMIN_REQUIRED)
    job_of(access)  # 403 without Read Only on the Admin tool, as the page
    page = reverse("job_detail", args=[project_id])
    form = ProjectNameForm(request.POST)
    if not form.is_valid():
        return _detail(request, access, form, status=422)
    try:
        update = project_rename(
            project=access.project, user=request.user, name=form.cleaned_data["name"]
        )
    except ItemLocked as error:
        return refused(request, [error.message], error.status_code, title="Not renamed", back=page)
    except ErpActionRefused as refusal:
        return refused(
            request, refusal.reasons, refusal.status_code, title="Not renamed", back=page
        )
    except ValidationError as error:
        apply_errors(form, error)
        return _detail(request, access, form, status=422)
    if update is None:
        messages.success(request, "Project name saved.")
    elif update.state == UpdateState.WITHDRAWN:
        messages.success(
            request, "The project name is back to its name in the ERP: no update is needed."
        )
    else:
        messages.success(
            request,
            "Update requested: the job stays synced with the ERP; an accounting approver will "
            "accept or reject the new name (Ready to Update).",
        )
    return redirect(page)


@login_required
@require_POST
def job_erp_action(request: HttpRequest, project_id: int, action: str) -> HttpResponse:
    access = project_access(request.user, project_id)
    page = reverse("job_detail", args=[project_id])
    if action != ErpAction.SEND:
        return sender_action(request, get_job(access), action, next_url=page)
    job = job_of(access)
    try:
        job_send(project=access.project, user=request.user)
    except ErpActionRefused as refusal:
        return refused(
            request,
            refusal.reasons,
            refusal.status_code,
            title=f"{ErpAction.SEND.label} refused",
            breadcrumbs=item_breadcrumbs(job),
            back=page,
        )
    messages.success(request, DONE[ErpAction.SEND])
    return redirect(page)


@login_required
@require_http_methods(["GET", "POST"])
def project_new(request: HttpRequest, slug: str) -> HttpResponse:
    """Add a project to the company; its job page follows, where it is sent to the ERP."""
    membership = company_access(request.user, slug)
    if not membership.creates_projects:
        raise PermissionDenied(PROJECT_CREATOR_REQUIRED)
    company = membership.company
    form = ProjectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            project = project_create(company=company, user=request.user, **form.cleaned_data)
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(
                request,
                f"Project {project.number} created. Send it to the ERP as a job before its "
                "sub jobs and owner invoices.",
            )
            return redirect("job_detail", project.pk)
    status = 422 if form.is_bound else 200
    context = company_context(company, "New project", form=form)
    return render(request, "jobs/project_new.html", context, status=status)
