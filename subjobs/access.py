"""Access to sub jobs: the project's Admin tool, on projects.access and projects.permissions."""

from __future__ import annotations

from django.http import Http404

from projects.access import ProjectAccess
from projects.models import ProjectTool
from projects.permissions import SUB_JOBS_VIEW_REQUIRED
from subjobs.models import SubJob


def require_sub_jobs_view(access: ProjectAccess) -> None:
    access.require(access.can_view(ProjectTool.ADMIN), SUB_JOBS_VIEW_REQUIRED)


def get_sub_job(access: ProjectAccess, sub_job_id: int) -> SubJob:
    """The project's sub job: 403 without Read Only on the Admin tool, 404 if not there."""
    require_sub_jobs_view(access)
    sub_job = (
        SubJob.objects.select_related("project__company", "erp_sent_by", "erp_changed_by")
        .filter(pk=sub_job_id, project=access.project)
        .first()
    )
    if sub_job is None:
        raise Http404("No such sub job.")
    return sub_job
