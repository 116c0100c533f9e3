"""The pull connector's endpoints (README "Pull connector"), thin over erpsync.connector:
claim a batch of accepted items, report each one back, read what waits.

Only for a company whose adapter is the connector (else 409 naming it); claiming and reporting
need an Admin of the company's ERP Integrations tool and a token that is not read-only (403);
another company's URL answers 404.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from django.core.exceptions import ValidationError
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.access import api_membership
from api.connector_serializers import (
    ClaimRequestSerializer,
    ClaimSerializer,
    QueueSerializer,
    ReportSerializer,
    ReportsProblemSerializer,
    ReportsSerializer,
)
from api.problems import Problem, field_errors
from api.representations import item_payloads, item_url
from api.serializers import ProblemSerializer, read_body
from erpsync.connector import (
    MAX_BATCH,
    NotAConnectorCompany,
    ReportResult,
    claim_batch,
    report,
    require_connector,
)
from erpsync.exports import idempotency_key
from erpsync.models import ErpItem, display_name
from erpsync.selectors import connector_queue
from projects.models import Company

PROBLEMS = {
    status: OpenApiResponse(ProblemSerializer, description=text)
    for status, text in (
        (401, "No valid token or session."),
        (403, "A read-only token, or a user who is not an Admin of the ERP Integrations tool."),
        (404, "No such company (or not the token's)."),
        (409, "The company's ERP adapter is not the pull connector."),
        (422, "The request's fields are wrong: `errors` names each."),
    )
}


def _company(request: Request, slug: str, *, write: bool) -> Company:
    company = api_membership(request, slug).company
    try:
        require_connector(company=company, user=request.user, write=write)
    except NotAConnectorCompany as error:
        raise Problem(409, error.message, adapter=company.erp_adapter) from error
    return company


def _iso(moment: Any) -> str | None:
    return moment.isoformat() if moment else None


class ClaimsView(APIView):
    @extend_schema(
        operation_id="connector_claim",
        request=ClaimRequestSerializer,
        responses={200: ClaimSerializer, **PROBLEMS},
    )
    def post(self, request: Request, company: str) -> Response:
        """Claim up to `limit` accepted items, oldest first, for `lease_seconds`: no other
        claim gets them meanwhile. Write each into the ERP under its idempotency key, then
        report it. An empty `items` list: nothing waits."""
        found = _company(request, company, write=True)
        body = read_body(ClaimRequestSerializer, request)
        try:
            claim = claim_batch(company=found, user=request.user, **body)
        except ValidationError as error:
            raise field_errors(error) from error
        by_kind: dict[type[ErpItem], list[ErpItem]] = defaultdict(list)
        for claimed in claim.items:
            by_kind[type(claimed.item)].append(claimed.item)
        payloads = {
            (p["kind"], p["id"]): p for items in by_kind.values() for p in item_payloads(items)
        }
        items = []
        for claimed in claim.items:
            payload = payloads[(claimed.item.erp_kind, claimed.item.pk)]
            # Exactly the version claimed, whatever the item became since.
            payload |= {
                "version": claimed.version,
                "snapshot": claimed.snapshot,
                "idempotency_key": claimed.idempotency_key,
            }
            items.append(payload)
        return Response(
            {
                "claim": claim.token if items else None,
                "claimed_at": claim.claimed_at.isoformat(),
                "expires_at": claim.expires_at.isoformat(),
                "items": items,
            }
        )


def _result(result: ReportResult) -> dict[str, Any]:
    return {
        "kind": result.kind,
        "id": result.id,
        "version": result.version,
        "http_status": result.status,
        "ok": result.ok,
        "changed": result.changed,
        "state": result.state,
        "erp_id": result.erp_id or None,
        "detail": result.detail,
    }


class ReportsView(APIView):
    @extend_schema(
        operation_id="connector_report",
        request=ReportSerializer(many=True),
        responses={
            200: ReportsSerializer,
            **PROBLEMS,
            409: OpenApiResponse(
                ReportsProblemSerializer,
                description="Some reports were refused (or the company has no connector): "
                "`results` says why for each; the others are recorded.",
            ),
        },
    )
    def post(self, request: Request, company: str) -> Response:
        """Report what the ERP did with claimed items: a JSON list of {kind, id, version,
        status: synced with erp_id | failed with error, claim}. Each report stands alone:
        a repeat answers the same result and changes nothing. When every report is recorded
        the answer is 200; otherwise it is a problem whose status is the refusals' own when
        they agree (404, 409), else 409, and `results` lists every report's outcome."""
        found = _company(request, company, write=True)
        data = request.data
        if not isinstance(data, list):
            raise Problem(
                422,
                "Send a JSON list of reports: [{kind, id, version, status, erp_id | error}].",
                errors={"non_field_errors": ["Expected a list of reports."]},
            )
        if not 1 <= len(data) <= MAX_BATCH:
            raise Problem(
                422,
                f"Send between 1 and {MAX_BATCH} reports at a time.",
                errors={"non_field_errors": [f"Between 1 and {MAX_BATCH} reports."]},
            )
        body = ReportSerializer(data=data, many=True)
        body.is_valid(raise_exception=True)
        results = [
            report(
                company=found,
                user=request.user,
                kind=entry["kind"],
                item_id=entry["id"],
                version=entry["version"],
                outcome=entry["status"],
                erp_id=entry.get("erp_id", ""),
                error=entry.get("error", ""),
                claim=str(entry.get("claim") or ""),
            )
            for entry in body.validated_data
        ]
        shown = [_result(r) for r in results]
        refused = [r for r in results if not r.ok]
        counts = {
            "results": shown,
            "recorded": len(results) - len(refused),
            "refused": len(refused),
        }
        if not refused:
            return Response(counts)
        statuses = Counter(r.status for r in refused)
        status = refused[0].status if len(statuses) == 1 else 409
        first = refused[0]
        detail = (
            f"{len(refused)} of {len(results)} reports refused; the others are recorded. "
            f"{first.kind} {first.id}: {first.detail}"
        )
        raise Problem(status, detail, **counts)


def _claim_shown(claim: Any) -> dict[str, Any] | None:
    if claim is None:
        return None
    return {
        "id": str(claim.token),
        "claimed_at": claim.claimed_at.isoformat(),
        "expires_at": claim.expires_at.isoformat(),
        "claimed_by": {"id": claim.claimed_by_id, "name": display_name(claim.claimed_by)},
    }


class QueueView(APIView):
    @extend_schema(operation_id="connector_queue", responses={200: QueueSerializer, **PROBLEMS})
    def get(self, request: Request, company: str) -> Response:
        """What waits for the connector: accepted items, oldest first, with the live claim on
        each. Any user of the ERP Integrations tool may read it, with any token."""
        found = _company(request, company, write=False)
        queue = connector_queue(found)
        return Response(
            {
                "waiting": queue.waiting,
                "claimed": queue.claimed,
                "oldest_accepted_at": _iso(queue.oldest_accepted_at),
                "items": [
                    {
                        "kind": row.item.erp_kind,
                        "id": row.item.pk,
                        "title": row.item.erp_title,
                        "url": item_url(row.item),
                        "version": row.item.erp_version,
                        "idempotency_key": idempotency_key(row.item),
                        "accepted_at": _iso(row.item.erp_changed_at),
                        "claim": _claim_shown(row.claim),
                    }
                    for row in queue.rows
                ],
            }
        )
