"""Bulk decisions on one kind of item: accept, reject or retry up to 500 items in one request
(approvals.services.decide_many: an accept or a reject in one transaction, erpsync.bulk),
with an outcome per item. The rules are the page's (approvals.views.erp_bulk): accounting
approvers holding the kind's export right; a refusal of one item never undoes another."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import views
from rest_framework.request import Request
from rest_framework.response import Response

from api.access import api_tool_access, kind_at, kind_path
from api.problems import field_errors
from api.serializers import (
    BulkAcceptSerializer,
    BulkRejectSerializer,
    BulkResultSerializer,
    BulkSerializer,
    read_body,
)
from api.views.items import PROBLEMS
from approvals.services import decide_many, summary
from projects.permissions import APPROVER_REQUIRED, approver_required


class BulkView(views.APIView):
    """`kind_key` is set per kind (see api.urls), as for ItemViewSet."""

    kind_key: str = ""

    def _decide(
        self, request: Request, company: str, decision: str, body: dict[str, Any]
    ) -> Response:
        access = api_tool_access(request, company)
        if not access.can_decide:
            raise PermissionDenied(APPROVER_REQUIRED)
        kind = kind_at(access.company, kind_path(self.kind_key))
        if not access.decides(kind.key):
            raise PermissionDenied(approver_required(kind.model.erp_kind_label))
        versions = {item["id"]: item.get("version") for item in body["items"]}
        try:
            outcomes = decide_many(
                company=access.company,
                kind=kind,
                user=request.user,
                decision=decision,
                versions=versions,
                reason=body.get("reason", ""),
            )
        except ValidationError as error:
            raise field_errors(error) from error
        # Where each item stands now (one query): an accept may have been exported already.
        states = dict(
            kind.model.erp_queue(access.company)
            .filter(pk__in=versions)
            .values_list("pk", "erp_state")
        )
        results = [
            {
                "id": o.item_id,
                "title": o.title,
                "done": o.done,
                "state": states.get(o.item_id),
                "message": o.message,
                "progress": o.progress or None,
            }
            for o in outcomes
        ]
        done = sum(1 for o in outcomes if o.done)
        return Response(
            {
                "decision": decision,
                "done": done,
                "skipped": len(outcomes) - done,
                "summary": summary(outcomes, decision),
                "results": results,
            }
        )


class BulkAcceptView(BulkView):
    @extend_schema(request=BulkAcceptSerializer, responses={200: BulkResultSerializer, **PROBLEMS})
    def post(self, request: Request, company: str) -> Response:
        """Accept up to 500 items, each at the version you reviewed. An item that cannot be
        accepted (a newer version, your own item under the policy, already decided) is skipped
        with its reason; the others are accepted. With an approval policy asking for more than
        one approval, an item may be approved only partly: its `progress` says '1 of 2'."""
        return self._decide(request, company, "accept", read_body(BulkAcceptSerializer, request))


class BulkRejectView(BulkView):
    @extend_schema(request=BulkRejectSerializer, responses={200: BulkResultSerializer, **PROBLEMS})
    def post(self, request: Request, company: str) -> Response:
        """Reject up to 500 items with one reason (required: each sender is emailed it)."""
        return self._decide(request, company, "reject", read_body(BulkRejectSerializer, request))


class BulkRetryView(BulkView):
    @extend_schema(request=BulkSerializer, responses={200: BulkResultSerializer, **PROBLEMS})
    def post(self, request: Request, company: str) -> Response:
        """Retry the export of up to 500 items whose export failed."""
        return self._decide(request, company, "retry", read_body(BulkSerializer, request))


BULK_VIEWS: dict[str, type[BulkView]] = {
    "accept": BulkAcceptView,
    "reject": BulkRejectView,
    "retry": BulkRetryView,
}
