"""The company audit log through the API: the page's filters (companysettings.audit) and its
reader rule (companysettings.access.audit_access), newest first, cursor-paginated."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import views
from rest_framework.request import Request
from rest_framework.response import Response

from api.access import api_membership
from api.pagination import EventCursor
from api.problems import Problem
from api.representations import event_payload
from api.serializers import EventSerializer
from api.views.items import PROBLEMS
from companysettings.access import audit_access
from companysettings.audit import (
    COMPANY_KIND,
    DIRECTORY_KIND,
    SYSTEM_USER,
    AuditFilter,
    audit_row,
    with_items,
)
from erpsync.kinds import erp_item_models
from erpsync.states import ErpAction

PARAMETERS = [
    OpenApiParameter(
        "kind",
        str,
        enum=[*(m.erp_kind for m in erp_item_models()), COMPANY_KIND, DIRECTORY_KIND],
        description="A kind of item, or the company's settings, or its directory.",
    ),
    OpenApiParameter("q", str, description="Part of an item's code or number (or a member's)."),
    OpenApiParameter(
        "item", str, description="One item: `<kind>:<id>`, e.g. `sub_job:12` (or `directory:3`)."
    ),
    OpenApiParameter(
        "user", str, description=f"A user's id, or `{SYSTEM_USER}` for erpsync's own rows."
    ),
    OpenApiParameter("action", str, enum=list(ErpAction.values), description="The action."),
    OpenApiParameter("since", str, description="On or after this day (YYYY-MM-DD)."),
    OpenApiParameter("until", str, description="On or before this day (YYYY-MM-DD)."),
    OpenApiParameter("page_size", int, description="At most 500 (default 50)."),
]


class EventListView(views.APIView):
    pagination_class = EventCursor

    @extend_schema(parameters=PARAMETERS, responses={200: EventSerializer(many=True), **PROBLEMS})
    def get(self, request: Request, company: str) -> Response:
        """Every transition and edit of the company's items, and every change to its settings
        and directory, newest first: for users of the company's ERP Integrations tool (Read
        Only or more), as the Audit log page."""
        membership = api_membership(request, company)  # 404 outside the token's company
        audit_access(request.user, company)  # then 403 unless the page would let you in
        filters = AuditFilter(request.query_params, company=membership.company)
        if not filters.is_valid():
            errors = {name: list(messages) for name, messages in filters.errors.items()}
            detail = " ".join(m for messages in errors.values() for m in messages)
            raise Problem(422, detail, errors=errors)
        paginator = self.pagination_class()
        events = paginator.paginate_queryset(with_items(filters.qs), request, view=self) or []
        rows = [audit_row(event, membership.company, None) for event in events]
        return paginator.get_paginated_response([event_payload(row) for row in rows])
