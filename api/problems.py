"""Every API error is an RFC 9457 problem: `application/problem+json` with type, title, status,
detail and instance, plus `errors` ({field: [messages]}) on 422 and, on a 409 about an item,
who last acted on it and when."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
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


def _flatten(data: Any) -> list[str]:
    if isinstance(data, dict):
        return [m for value in data.values() for m in _flatten(value)]
    if isinstance(data, list):
        return [m for value in data for m in _flatten(value)]
    return [str(data)]


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ErpActionRefused | ItemLocked | StaleEdit):
        exc = refusal(exc, None)
    elif isinstance(exc, DjangoValidationError):
        exc = field_errors(exc)
    elif isinstance(exc, exceptions.ValidationError):
        # A request the serializers refused: 422 with the fields, as the pages show them.
        errors = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        exc = Problem(422, " ".join(_flatten(errors)), errors=errors)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "Not found.")
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    response = exception_handler(exc, context)
    if response is None:
        return None
    status = response.status_code
    detail = response.data.get("detail") if isinstance(response.data, dict) else None
    body: dict[str, Any] = {
        "type": f"{PROBLEM_TYPES}{_slug(status)}",
        "title": _title(status),
        "status": status,
        "detail": str(detail if detail is not None else _title(status)),
    }
    request = context.get("request")
    if request is not None:
        body["instance"] = request.get_full_path()
    body |= getattr(exc, "extra", {})
    response.data = body
    response.content_type = CONTENT_TYPE
    return response
