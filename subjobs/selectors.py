"""Reads for the Sub Jobs pages."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import QueryDict
from django.urls import reverse

from erpsync.filters import erp_csv_columns
from erpsync.updates import with_update_state
from projects.access import ProjectAccess
from projects.listing import Column, Listing, attr, build_listing
from subjobs.filters import SubJobFilterSet
from subjobs.models import SubJob


def project_sub_jobs(access: ProjectAccess) -> QuerySet[SubJob]:
    rows = SubJob.objects.filter(project=access.project).select_related(
        "erp_sent_by", "erp_accepted_by", "erp_changed_by"
    )
    # "Update pending" on a synced sub job's row, read with the page (Ready to Update).
    return with_update_state(rows)


def sub_job_listing(access: ProjectAccess, data: QueryDict) -> Listing:
    """One page of the project's sub jobs as `data` (request.GET) searches, filters and sorts
    them: a count and a page of rows, whatever the size."""
    project = access.project
    filters = SubJobFilterSet(data, project_sub_jobs(access), company=project.company)
    return build_listing(filters, reverse("sub_job_list", args=[project.pk]))


def sub_job_csv_columns() -> list[Column]:
    return [
        ("Sub Job ID", attr("code")),
        ("Name", attr("name")),
        ("Status", attr("get_status_display")),
        *erp_csv_columns(),
        ("Created at", attr("created_at")),
        ("Updated at", attr("updated_at")),
    ]
