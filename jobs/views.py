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

from erpsync.states import ErpAction, ErpActionRefused
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
from jobs.forms import ProjectForm
from jobs.models import Job
from jobs.services import job_send, project_create
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


@login_required
@require_GET
def job_detail(request: HttpRequest, project_id: int) -> HttpResponse:
    access = project_access(request.user, project_id)
    job = job_of(access)
    context = page_context(access, [("Job in the ERP", None)], **_panel(job, request.user))
    return render(request, "jobs/detail.html", context)


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
