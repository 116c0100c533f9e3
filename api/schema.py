"""What the platform adds to every operation of the schema, whoever wrote the view
(SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]): the problems that authentication, rate
limits, the JSON parser and Idempotency-Key may answer, the `Idempotency-Key` header itself,
and `application/problem+json` as the content type of every error."""

from __future__ import annotations

from typing import Any

from api.idempotency import HEADER, MAX_KEY_LENGTH, REPLAYED
from api.problems import CONTENT_TYPE

WRITES = {"post", "put", "patch", "delete"}
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
# Used only when no view has put ProblemSerializer in the schema yet.
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details.",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
    },
    "required": ["type", "title", "status", "detail"],
}
RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds until the limit that was reached lets requests in again.",
        "schema": {"type": "integer"},
    }
}
REPLAYED_HEADER = {
    REPLAYED: {
        "description": (
            "`true` when this is the stored answer to an earlier request with the same "
            "Idempotency-Key, not a new effect."
        ),
        "schema": {"type": "string", "enum": ["true"]},
    }
}
IDEMPOTENCY_PARAMETER = {
    "in": "header",
    "name": HEADER,
    "required": False,
    "description": (
        "Any unique string (a UUID is ideal). Retrying with the same key and body within 24 h "
        "replays the first answer (`Idempotent-Replayed: true`) instead of acting twice; the "
        "same key with another body is refused with 422."
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH},
}
EVERY_OPERATION = {
    401: "No valid token or session (unknown, revoked or expired token).",
    429: "Too many requests: a rate limit was reached; `Retry-After` says when to retry.",
}
WRITE_OPERATION = {
    403: "You may not do this: a read-only token, a missing permission or a CSRF failure.",
    409: "A request with this Idempotency-Key is still in progress, or the state forbids it.",
    422: "The request is refused (bad fields, a malformed Idempotency-Key, or a key reused "
    "for another request): `errors` names each.",
}
WITH_BODY = {
    400: "The body is not valid JSON.",
    415: "The body is not `application/json`.",
}
WITH_PATH_PARAMETERS = {404: "No such resource (or not yours to see)."}


def _problem(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {CONTENT_TYPE: {"schema": PROBLEM_REF}},
    }
    if headers:
        response["headers"] = headers
    return response


def _errors_as_problems(responses: dict[str, Any]) -> None:
    for code, response in responses.items():
        content = response.get("content") if code[:1] in "45" else None
        if content and "application/json" in content:
            content[CONTENT_TYPE] = content.pop("application/json")


def _document(path: str, method: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    _errors_as_problems(responses)
    wanted = dict(EVERY_OPERATION)
    if "{" in path:
        wanted |= WITH_PATH_PARAMETERS
    if method in WRITES:
        wanted |= WRITE_OPERATION
        if "requestBody" in operation:
            wanted |= WITH_BODY
        parameters = operation.setdefault("parameters", [])
        if not any(p.get("in") == "header" and p.get("name") == HEADER for p in parameters):
            parameters.append(dict(IDEMPOTENCY_PARAMETER))
        for code, response in responses.items():
            if code.startswith("2"):
                response.setdefault("headers", {}).update(REPLAYED_HEADER)
    if not operation.get("security") or {} in operation["security"]:
        wanted.pop(401, None)  # open to everyone: never answers 401
    for code, description in wanted.items():
        if str(code) not in responses:
            responses[str(code)] = _problem(description, RETRY_AFTER if code == 429 else None)
    if "429" in responses:
        responses["429"].setdefault("headers", {}).update(RETRY_AFTER)


def document_platform(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    result.setdefault("components", {}).setdefault("schemas", {}).setdefault(
        "Problem", PROBLEM_SCHEMA
    )
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if isinstance(operation, dict) and "responses" in operation:
                _document(path, method, operation)
    return result
