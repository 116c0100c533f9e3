"""The projects a user may see in a company, so that a client can find project ids (for
creating sub jobs, or the queues' `project` filter)."""

from __future__ import annotations

from django.db.models import Q
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import views
from rest_framework.request import Request
from rest_framework.response import Response

from api.access import api_membership
from api.pagination import ItemCursor
from api.representations import project_payload
from api.serializers import ProjectSerializer
from api.views.items import PROBLEMS
from projects.models import Project, ProjectMembership
from projects.permissions import views_erp_tool
from projects.selectors import company_projects

SEARCH_MAX = 100


class ProjectCursor(ItemCursor):
    ordering = "number"  # unique in a company


class ProjectListView(views.APIView):
    pagination_class = ProjectCursor

    @extend_schema(
        parameters=[
            OpenApiParameter("q", str, description="Part of the project's number or name."),
            OpenApiParameter("page_size", int, description="At most 500 (default 50)."),
        ],
        responses={200: ProjectSerializer(many=True), **PROBLEMS},
    )
    def get(self, request: Request, company: str) -> Response:
        """The projects you may see: every project of the company for users of its ERP
        Integrations tool (as its Project filter lists them), else the projects you are a
        member of; each with what you may do on it."""
        membership = api_membership(request, company)
        rows = company_projects(membership.company)
        if not views_erp_tool(membership):
            rows = rows.filter(memberships__user=request.user)
        search = request.query_params.get("q", "").strip()[:SEARCH_MAX]
        if search:
            rows = rows.filter(Q(number__icontains=search) | Q(name__icontains=search))
        paginator = self.pagination_class()
        page: list[Project] = paginator.paginate_queryset(rows, request, view=self) or []
        mine = {
            m.project_id: m
            for m in ProjectMembership.objects.filter(user=request.user, project__in=page)
        }
        return paginator.get_paginated_response([project_payload(p, mine.get(p.pk)) for p in page])
