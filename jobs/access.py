"""Access to a project's job: the project's Admin tool, on projects.access."""

from __future__ import annotations

from django.http import Http404

from jobs.models import Job
from projects.access import ProjectAccess
from projects.models import ProjectTool

JOB_VIEW_REQUIRED = (
    "The project's ERP job is in the project's Admin tool: you need Read Only or more on it."
)


def require_job_view(access: ProjectAccess) -> None:
    access.require(access.can_view(ProjectTool.ADMIN), JOB_VIEW_REQUIRED)


def job_of(access: ProjectAccess) -> Job:
    """The project's job, or an unsaved one when it was never sent (it is created on the first
    send). 403 without Read Only on the Admin tool."""
    require_job_view(access)
    job = (
        Job.objects.select_related("project__company", "erp_sent_by", "erp_changed_by")
        .filter(project=access.project)
        .first()
    )
    return job or Job(project=access.project)


def get_job(access: ProjectAccess) -> Job:
    """The project's job; 404 when it was never sent."""
    job = job_of(access)
    if job.pk is None:
        raise Http404("This project has not been sent to the ERP as a job.")
    return job
