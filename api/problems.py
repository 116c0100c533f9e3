"""Every API error is an RFC 9457 problem: `application/problem+json` with type, title, status,
detail and instance, plus `errors` ({field: [messages]}) on 422 and, on a 409 about an item,
who last acted on it and when."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler

from erpsync.models import ErpItem, display_name
from erpsync.states import ErpActionRefused, ItemLocked, StaleEdit

PROBLEM_TYPES = "https://erpsync.invalid/problems/"
CONTENT_TYPE = "application/problem+json"


class Problem(exceptions.APIException):
    """A refusal with its own status and optional extra members."""

    def __init__(self, status: int, detail: str, **extra: Any) -> None:
        self.status_code = status
        self.extra = extra
        super().__init__(detail)


def refusal(error: ErpActionRefused | ItemLocked | StaleEdit, item: ErpItem | None) -> Problem:
    """An item's refusal, with who last acted on it and when when it is a conflict."""
    if isinstance(error, ErpActionRefused):
        status, detail, reasons = error.status_code, " ".join(error.reasons), error.reasons
    else:
        status, detail, reasons = error.status_code, error.message, [error.message]
    extra: dict[str, Any] = {"reasons": reasons}
    if item is not None and status == 409:
        extra |= {
            "state": item.erp_state,
            "version": item.erp_version,
            "acted_by": display_name(item.erp_changed_by) if item.erp_changed_at else None,
            "acted_at": item.erp_changed_at.isoformat() if item.erp_changed_at else None,
        }
    return Problem(status, detail, **extra)


def field_errors(error: DjangoValidationError) -> Problem:
    if hasattr(error, "error_dict"):
        errors = {field: [str(m) for m in e.messages] for field, e in _dict(error).items()}
    else:
        errors = {"non_field_errors": [str(m) for m in error.messages]}
    detail = " ".join(m for messages in errors.values() for m in messages)
    return Problem(422, detail, errors=errors)


def _dict(error: DjangoValidationError) -> dict[str, DjangoValidationError]:
    return {field: DjangoValidationError(errors) for field, errors in error.error_dict.items()}


def _slug(status: int) -> str:
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "-").replace("'", "")
    except ValueError:
        return "error"


def _title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def flat_errors(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested errors as {"items[3].version": ["…"]}: problem details keep `errors` one
    level deep, whatever the body's shape."""
    if isinstance(detail, dict):
        found: dict[str, list[str]] = {}
        for key, value in detail.items():
            if isinstance(key, int):  # a list's item (DRF keys them by index)
                name = f"{prefix}[{key}]"
            else:
                name = f"{prefix}.{key}" if prefix and key != "non_field_errors" else prefix or key
            for field, messages in flat_errors(value, name).items():
                found.setdefault(field, []).extend(messages)
        return found
    if isinstance(detail, list) and any(isinstance(v, dict | list) for v in detail):
        found = {}
        for index, value in enumerate(detail):
            if isinstance(value, dict | list):
                for field, messages in flat_errors(value, f"{prefix}[{index}]").items():
                    found.setdefault(field, []).extend(messages)
            else:
                found.setdefault(prefix or "non_field_errors", []).append(str(value))
        return found
    messages = detail if isinstance(detail, list) else [detail]
    return {prefix or "non_field_errors": [str(m) for m in messages]} if messages else {}


def problem_body(
    status: int, detail: str | None, instance: str | None = None, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": f"{PROBLEM_TYPES}{_slug(status)}",
        "title": _title(status),
        "status": status,
        "detail": str(detail if detail is not None else _title(status)),
    }
    if instance is not None:
        body["instance"] = instance
    return body | extra


def problem_response(
    status: int, detail: str, request: HttpRequest | None = None, **extra: Any
) -> HttpResponse:
    """A problem answered outside DRF's views (middleware): the same shape as theirs."""
    instance = request.get_full_path() if request is not None else None
    return HttpResponse(
        json.dumps(problem_body(status, detail, instance, **extra)),
        status=status,
        content_type=CONTENT_TYPE,
    )


def _throttled(exc: exceptions.Throttled) -> exceptions.Throttled:
    wait = math.ceil(exc.wait) if exc.wait is not None else None
    exc.wait = wait
    exc.detail = (
        "Too many requests for this token or user. "
        + (f"Retry in {wait} s. " if wait is not None else "")
        + "The limits are per minute; README, API → Rate limits lists them."
    )
    exc.extra = {"retry_after": wait}  # type: ignore[attr-defined]
    return exc


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ErpActionRefused | ItemLocked | StaleEdit):
        exc = refusal(exc, None)
    elif isinstance(exc, DjangoValidationError):
        exc = field_errors(exc)
    elif isinstance(exc, exceptions.ValidationError):
        # A request the serializers refused: 422 naming each field, a list's too.
        errors = flat_errors(exc.detail)
        detail = " ".join(f"{field}: {' '.join(m)}" for field, m in errors.items())
        exc = Problem(422, detail, errors=errors)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "Not found.")
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, exceptions.Throttled):
        exc = _throttled(exc)
    response = exception_handler(exc, context)
    if response is None:
        return None
    status = response.status_code
    detail = response.data.get("detail") if isinstance(response.data, dict) else None
    request = context.get("request")
    instance = request.get_full_path() if request is not None else None
    response.data = problem_body(
        status, str(detail) if detail is not None else None, instance, **getattr(exc, "extra", {})
    )
    response.content_type = CONTENT_TYPE
    return response


class ProblemResponses:
    """Django's own error pages (an address no API route matches, a crash, a body too large)
    are HTML; under /api/v1/ a client gets them as problem details like every other error."""

    prefix = "/api/v1/"

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code >= 400
            and request.path_info.startswith(self.prefix)
            and response.get("Content-Type", "").startswith("text/html")
        ):
            detail = {
                404: f"No API resource at {request.path}; the schema lists them: /api/v1/docs/.",
                500: "The server failed to answer; the error has been logged.",
            }.get(response.status_code, _title(response.status_code))
            replaced = problem_response(response.status_code, detail, request)
            for header in ("Allow", "Retry-After", "WWW-Authenticate"):
                if response.has_header(header):
                    replaced[header] = response[header]
            return replaced
        return response
