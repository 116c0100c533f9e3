"""Sub jobs through the API: create one on a project, edit its Sub Job ID and name, approve
it, and read it with its own fields. Thin over subjobs.services and subjobs.access, the
pages' rules: Admin on the project's Admin tool; a sub job with the ERP tool is locked (409)."""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import views
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from api.access import api_membership, company_item
from api.problems import Problem, field_errors, refusal
from api.representations import item_payload, sub_job_fields
from api.serializers import (
    ProblemSerializer,
    SubJobCreateSerializer,
    SubJobDetailSerializer,
    SubJobUpdateSerializer,
    read_body,
)
from api.views.items import PROBLEMS, ItemViewSet
from erpsync.states import ErpActionRefused, ErpState, ItemLocked, StaleEdit
from projects.access import ProjectAccess, project_access
from projects.models import Project
from projects.permissions import SUB_JOB_ADMIN_REQUIRED
from subjobs.access import get_sub_job, require_sub_jobs_view
from subjobs.models import SubJob
from subjobs.services import (
    sub_job_approve,
    sub_job_create,
    sub_job_request_update,
    sub_job_update,
)

# If-Match: "123" or W/"123" (the ETag of the sub job's detail: its newest audit row's id).
_ETAG = re.compile(r'\s*(?:W/)?"([0-9]{1,18})"\s*')
BAD_IF_MATCH = (
    'If-Match must be the ETag of the sub job\'s detail, as it came (e.g. "123"): read the '
    "sub job again."
)
IF_MATCH = OpenApiParameter(
    "If-Match",
    str,
    OpenApiParameter.HEADER,
    description="The ETag of the sub job's detail you read: refused with 412 if it changed since.",
)
ETAG = OpenApiParameter(
    "ETag",
    str,
    OpenApiParameter.HEADER,
    response=[200],
    description="The version of the sub job's detail, for If-Match on PATCH.",
)
PRECONDITION_FAILED = OpenApiResponse(
    ProblemSerializer, description="If-Match: the sub job changed since you read it."
)


def detail(sub_job: SubJob) -> Response:
    """The sub job's detail: the item, its history and its own fields, with an ETag."""
    payload = item_payload(sub_job, with_history=True)
    payload["sub_job"] = sub_job_fields(sub_job)
    newest = max((row["id"] for row in payload["history"]), default=0)
    return Response(payload, headers={"ETag": f'"{newest}"'})


def _if_match(request: Request) -> int | None:
    header = request.headers.get("If-Match")
    if header is None:
        return None
    match = _ETAG.fullmatch(header)
    if match is None:
        raise Problem(412, BAD_IF_MATCH)
    return int(match[1])


def _write(sub_job: SubJob, do: Any, *, if_match: bool = False) -> Response:
    """Run a write; its refusals as problems: locked or stale 409 (412 for If-Match)."""
    try:
        sub_job = do()
    except (ItemLocked, StaleEdit) as error:
        sub_job.refresh_from_db()
        problem = refusal(error, sub_job)
        if if_match and isinstance(error, StaleEdit):
            problem.status_code = 412
        raise problem from error
    except ValidationError as error:
        raise field_errors(error) from error
    return detail(sub_job)


def _request_update(sub_job: SubJob, user: Any, body: dict[str, Any]) -> SubJob:
    """A synced sub job's rename, as on its page: an update request (sub_job_request_update)."""
    if "name" not in body:
        raise ValidationError({"name": "A synced sub job changes only its name: send name."})
    try:
        sub_job_request_update(sub_job=sub_job, user=user, name=body["name"], code=body.get("code"))
    except ErpActionRefused as error:
        raise refusal(error, sub_job) from error
    sub_job.refresh_from_db()
    return sub_job


class SubJobViewSet(ItemViewSet):
    """The items of kind sub_job (api.urls), with the sub job's own reads and writes."""

    kind_key = "sub_job"
    item_actions = (("approve", "approve"),)

    def _managed(self, request: Request, company: str, pk: int) -> SubJob:
        """The sub job, for its project's Admin tool Admins (as the pages' Edit and Approve)."""
        membership = api_membership(request, company)
        item = company_item(membership.company, self._kind(membership.company), pk)
        access = project_access(request.user, item.erp_project.pk)
        sub_job = get_sub_job(access, pk)
        access.require(access.manages_sub_jobs, SUB_JOB_ADMIN_REQUIRED)
        return sub_job

    @extend_schema(parameters=[ETAG], responses={200: SubJobDetailSerializer, **PROBLEMS})
    def retrieve(self, request: Request, company: str, pk: int) -> Response:
        """The sub job with its history and its own fields; the ETag serves If-Match."""
        return detail(self._readable(request, company, pk))

    @extend_schema(
        request=SubJobUpdateSerializer,
        parameters=[IF_MATCH],
        responses={200: SubJobDetailSerializer, 412: PRECONDITION_FAILED, **PROBLEMS},
    )
    def partial_update(self, request: Request, company: str, pk: int) -> Response:
        """Change the Sub Job ID or the name (a rename). Refused with 409 while the sub job is
        with the ERP Integrations tool (pending, partly approved or exporting): retrieve it
        first, or wait for a rejection. A synced sub job's new name becomes an update request
        (`update_request` in the answer) for the accounting approvers (Ready to Update); its
        Sub Job ID and status cannot change then."""
        sub_job = self._managed(request, company, pk)
        body = read_body(SubJobUpdateSerializer, request)
        seen_event = body.pop("seen_event", None)
        header = _if_match(request)
        if header is not None:
            seen_event = header
        if sub_job.erp_state == ErpState.SYNCED:
            return _write(sub_job, lambda: _request_update(sub_job, request.user, body))
        return _write(
            sub_job,
            lambda: sub_job_update(
                sub_job=sub_job, user=request.user, seen_event=seen_event, **body
            ),
            if_match=header is not None,
        )

    @extend_schema(request=None, responses={200: SubJobDetailSerializer, **PROBLEMS})
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, company: str, pk: int) -> Response:
        """Approve the sub job (its Approved status), which it needs before it can be sent to
        ERP. Approving an approved sub job changes nothing."""
        sub_job = self._managed(request, company, pk)
        return _write(sub_job, lambda: sub_job_approve(sub_job=sub_job, user=request.user))


class ProjectSubJobsView(views.APIView):
    """A project's sub jobs: add one."""

    def _project(self, request: Request, company: str, project_id: int) -> ProjectAccess:
        membership = api_membership(request, company)
        if not Project.objects.filter(pk=project_id, company=membership.company).exists():
            # Another company's project answers as if it did not exist, whoever asks.
            raise Http404("No such project.")
        access = project_access(request.user, project_id)
        require_sub_jobs_view(access)
        access.require(access.manages_sub_jobs, SUB_JOB_ADMIN_REQUIRED)
        return access

    @extend_schema(
        request=SubJobCreateSerializer, responses={201: SubJobDetailSerializer, **PROBLEMS}
    )
    def post(self, request: Request, company: str, project_id: int) -> Response:
        """Add a sub job to the project, in the Draft status: approve it, then send it."""
        access = self._project(request, company, project_id)
        body = read_body(SubJobCreateSerializer, request)
        try:
            sub_job = sub_job_create(project=access.project, user=request.user, **body)
        except ValidationError as error:
            raise field_errors(error) from error
        response = detail(sub_job)
        response.status_code = 201
        response["Location"] = response.data["url"]
        return response
