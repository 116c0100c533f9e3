"""Items of every kind: one URL pattern per kind (/companies/{company}/sub-jobs/…), thin over
the services and access rules the pages use."""

from __future__ import annotations

from typing import Any, ClassVar

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import QueryDict
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from api.access import api_membership, api_tool_access, company_item, kind_at, kind_path
from api.pagination import ItemCursor
from api.problems import Problem, field_errors, refusal
from api.representations import item_payload, item_payloads
from api.serializers import (
    AcceptSerializer,
    ItemDetailSerializer,
    ItemSerializer,
    ProblemSerializer,
    RejectSerializer,
    read_body,
)
from approvals.filters import queue_filterset
from approvals.kinds import Kind
from approvals.selectors import FILTERS
from approvals.services import decide
from erpsync.adapters import ErpError
from erpsync.models import ErpItem
from erpsync.services import erp_resend, erp_retrieve, erp_send
from erpsync.states import ErpActionRefused, ErpState
from erpsync.unlink import erp_unlink
from projects.permissions import views_erp_tool

QUEUES = {key: f for key, f in FILTERS.items() if f.states}
PROBLEMS = {
    status: OpenApiResponse(ProblemSerializer, description=text)
    for status, text in (
        (401, "No valid token or session."),
        (403, "You may not do this (the detail says why)."),
        (404, "No such company, kind or item (or not yours to see)."),
        (409, "The item's state does not allow it: who acted last, and when."),
        (422, "The request's fields are wrong: `errors` names each."),
    )
}
LIST_PARAMETERS = [
    OpenApiParameter("state", str, enum=[s.value for s in ErpState], description="ERP state."),
    OpenApiParameter(
        "queue",
        str,
        enum=list(QUEUES),
        description="A list of the ERP Integrations tool (ready = pending or partly approved).",
    ),
    OpenApiParameter("q", str, description="Free text: every word must match."),
    OpenApiParameter("project", int, description="A project's id."),
    OpenApiParameter("sender", int, description="The id of the user who sent it."),
    OpenApiParameter("sent_from", str, description="Sent on or after this day (YYYY-MM-DD)."),
    OpenApiParameter("sent_to", str, description="Sent on or before this day (YYYY-MM-DD)."),
    OpenApiParameter("amount_min", str, description="Amount due at least (kinds with one)."),
    OpenApiParameter("amount_max", str, description="Amount due at most (kinds with one)."),
]


def _list_filter(request: Request, kind: Kind, company: Any) -> QuerySet[ErpItem]:
    data = request.query_params
    rows: QuerySet[ErpItem] = kind.model.erp_queue(company)
    errors: dict[str, list[str]] = {}
    state = data.get("state")
    if state is not None:
        if state in ErpState.values:
            rows = rows.filter(erp_state=state)
        else:
            errors["state"] = [f"Choose one of: {', '.join(ErpState.values)}."]
    queue = data.get("queue")
    if queue is not None:
        if queue in QUEUES:
            rows = rows.filter(erp_state__in=QUEUES[queue].states)
        else:
            errors["queue"] = [f"Choose one of: {', '.join(QUEUES)}."]
    search = QueryDict(mutable=True)
    for name in ("q", "project", "sender", "sent_from", "sent_to", "amount_min", "amount_max"):
        if name in data:
            search[name] = data[name]
    filters = queue_filterset(kind.model)(search, rows, company=company, default=("pk",))
    filters.drop("sort")
    if not filters.is_valid():
        errors |= {name: list(messages) for name, messages in filters.errors.items()}
    if errors:
        detail = " ".join(m for messages in errors.values() for m in messages)
        raise Problem(422, detail, errors=errors)
    return filters.qs


class ItemViewSet(viewsets.ViewSet):
    """Items of one kind: the subclass per kind sets `kind_key` (see api.urls)."""

    kind_key: ClassVar[str]
    # (method, URL segment) of a kind's own POST actions on one item, routed by api.urls.
    item_actions: ClassVar[tuple[tuple[str, str], ...]] = ()
    pagination_class = ItemCursor

    def _kind(self, company: Any) -> Kind:
        return kind_at(company, kind_path(self.kind_key))

    def _readable(self, request: Request, company_slug: str, pk: int) -> ErpItem:
        """Approvers and the tool's viewers see every item; a sender sees the items they may
        send (a project's sub job admins)."""
        membership = api_membership(request, company_slug)
        item = company_item(membership.company, self._kind(membership.company), pk)
        if not views_erp_tool(membership) and not item.erp_sender_may(request.user):
            raise PermissionDenied(item.erp_sender_permission_message)
        return item

    @extend_schema(
        parameters=LIST_PARAMETERS, responses={200: ItemSerializer(many=True), **PROBLEMS}
    )
    def list(self, request: Request, company: str) -> Response:
        access = api_tool_access(request, company)
        rows = _list_filter(request, self._kind(access.company), access.company)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(rows, request, view=self) or []
        return paginator.get_paginated_response(item_payloads(page, access.company))

    @extend_schema(responses={200: ItemDetailSerializer, **PROBLEMS})
    def retrieve(self, request: Request, company: str, pk: int) -> Response:
        item = self._readable(request, company, pk)
        return Response(item_payload(item, with_history=True))

    def _act(self, request: Request, company: str, pk: int, do: Any) -> Response:
        item = self._readable(request, company, pk)
        try:
            item = do(item)
        except ErpActionRefused as error:
            item.refresh_from_db()
            raise refusal(error, item) from error
        except ValidationError as error:
            raise field_errors(error) from error
        return Response(item_payload(item, with_history=True))

    @extend_schema(request=None, responses={200: ItemDetailSerializer, **PROBLEMS})
    @action(detail=True, methods=["post"])
    def send(self, request: Request, company: str, pk: int) -> Response:
        """Send to ERP: the item waits for an accounting approver."""
        return self._act(request, company, pk, lambda i: erp_send(item=i, user=request.user))

    @extend_schema(request=None, responses={200: ItemDetailSerializer, **PROBLEMS})
    @action(detail=True, methods=["post"])
    def resend(self, request: Request, company: str, pk: int) -> Response:
        """Resend to ERP after a rejection: a new version for the approvers."""
        return self._act(request, company, pk, lambda i: erp_resend(item=i, user=request.user))

    @extend_schema(request=None, responses={200: ItemDetailSerializer, **PROBLEMS})
    @action(detail=True, methods=["post"])
    def retrieve_from_erp(self, request: Request, company: str, pk: int) -> Response:
        """Retrieve a pending item from the ERP Integrations tool to edit it again."""
        return self._act(request, company, pk, lambda i: erp_retrieve(item=i, user=request.user))

    def _decide(
        self, request: Request, company: str, pk: int, decision: str, **how: Any
    ) -> Response:
        return self._act(
            request,
            company,
            pk,
            lambda i: decide(item=i, user=request.user, decision=decision, **how),
        )

    @extend_schema(request=AcceptSerializer, responses={200: ItemDetailSerializer, **PROBLEMS})
    @action(detail=True, methods=["post"])
    def accept(self, request: Request, company: str, pk: int) -> Response:
        """Accept the version you reviewed (or add your approval when the policy asks for more
        than one); the export starts when the policy is met."""
        return self._decide(request, company, pk, "accept", **read_body(AcceptSerializer, request))

    @extend_schema(request=RejectSerializer, responses={200: ItemDetailSerializer, **PROBLEMS})
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, company: str, pk: int) -> Response:
        """Reject with a reason; the sender is emailed."""
        return self._decide(request, company, pk, "reject", **read_body(RejectSerializer, request))

    @extend_schema(
        request=None,
        responses={
            200: ItemDetailSerializer,
            503: OpenApiResponse(ProblemSerializer, description="The ERP could not be asked."),
            **PROBLEMS,
        },
    )
    @action(detail=True, methods=["post"])
    def unlink(self, request: Request, company: str, pk: int) -> Response:
        """Unlink a synced item from the ERP (ERP Integrations tool Admins): the ERP voids its
        record or finds it gone, and the item is not sent again (its old ERP id is kept as
        `erp_unlinked_id`). 409 "Still in the ERP" when the ERP keeps the record."""

        def do(item: ErpItem) -> ErpItem:
            try:
                return erp_unlink(item=item, user=request.user)
            except ErpError as error:
                raise Problem(503, f"The ERP could not be asked: {error.message}") from error

        return self._act(request, company, pk, do)

    @extend_schema(request=None, responses={200: ItemDetailSerializer, **PROBLEMS})
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, company: str, pk: int) -> Response:
        """Retry a failed export."""
        return self._decide(request, company, pk, "retry")
