"""`Idempotency-Key` on every write under /api/v1/: a retried request replays the first answer.

A middleware, not a view mixin, so that every write view under the API's prefix gets it, the
views other apps add included, with no code of their own (README, API → Idempotency):

- the same key, user and request (method, path and body) within 24 hours replays the stored
  answer, with `Idempotent-Replayed: true`;
- the same key with another request is refused with 422, saying what differs;
- concurrent requests with one key make one effect. The first inserts the key's row and runs
  the view in the same transaction; the others wait on that uncommitted insert (PostgreSQL's
  unique index) and then replay its answer. One that waits longer than
  ERPSYNC_IDEMPOTENCY_WAIT_SECONDS is answered 409 ("in progress") and may retry.

Answers of 5xx, 401 and 429 are not stored: the key stays free for a retry. A request whose
credentials fail is passed to the view untouched (it answers 401 or 403 itself).
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import OperationalError, connection, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.settings import api_settings

from api.models import IdempotencyRecord
from api.problems import problem_response
from api.services import IDEMPOTENCY_WINDOW as WINDOW

API_PREFIX = "/api/v1/"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
HEADER = "Idempotency-Key"
META_KEY = "HTTP_IDEMPOTENCY_KEY"
REPLAYED = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
# Answers a retry should not get back: the server failed, or the client was not let in yet.
NOT_STORED = frozenset({401, 429})
# Headers of the first answer that a replay repeats (Content-Type is stored on its own).
KEPT_HEADERS = ("Location",)
LOCK_NOT_AVAILABLE = "55P03"


def key_problem(key: str) -> str | None:
    """Why `key` is not a usable Idempotency-Key, or None."""
    if not key:
        return "Idempotency-Key is empty: send 1 to 255 printable ASCII characters."
    if len(key) > MAX_KEY_LENGTH:
        return f"Idempotency-Key is {len(key)} characters long; the most is {MAX_KEY_LENGTH}."
    if not all(" " <= ch <= "~" for ch in key):
        return "Idempotency-Key may hold only printable ASCII characters (a UUID is ideal)."
    return None


def fingerprint(method: str, path: str, body: bytes) -> str:
    """The request a key stands for. A JSON body is compared by its meaning, so a client that
    serialises its retry with other spacing or key order still gets the replay."""
    try:
        canonical = json.dumps(
            json.loads(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
    except ValueError:
        canonical = body
    digest = hashlib.sha256(f"{method} {path}\n".encode())
    digest.update(canonical)
    return digest.hexdigest()


def api_user(request: HttpRequest, body: bytes) -> Any | None:
    """Who the API will take the request to be from, by the API's own authenticators, or None
    when nobody is (the view then refuses the request itself). Nothing on `request` changes."""
    wrapped = Request(
        request,
        parsers=[cls() for cls in api_settings.DEFAULT_PARSER_CLASSES],
        authenticators=[cls() for cls in api_settings.DEFAULT_AUTHENTICATION_CLASSES],
    )
    # A session's CSRF check reads the parsed body: from a stream of its own, so the view
    # still reads the request's.
    wrapped._stream = io.BytesIO(body) if body else None
    for authenticator in wrapped.authenticators:
        try:
            found = authenticator.authenticate(wrapped)
        except APIException:
            return None
        if found is not None:
            return found[0]
    return None


def _replay(record: IdempotencyRecord) -> HttpResponse:
    response = HttpResponse(
        record.body, status=record.status or 200, content_type=record.content_type or None
    )
    for name, value in record.headers.items():
        response[name] = value
    response[REPLAYED] = "true"
    return response


def _mismatch(
    request: HttpRequest, record: IdempotencyRecord, method: str, path: str
) -> HttpResponse:
    if (record.method, record.path) != (method, path):
        what = f"{record.method} {record.path}"
    else:
        what = "the same address with another body"
    first = timezone.localtime(record.created_at).strftime("%Y-%m-%d %H:%M %Z")
    return problem_response(
        422,
        f"This Idempotency-Key was first used at {first} for {what}; a key stands for one "
        "request. Send a new key for a new request.",
        request,
        errors={HEADER: ["Already used for a different request."]},
    )


def _lock_wait(seconds: int) -> None:
    """Bound this transaction's lock waits (PostgreSQL); SQLite serialises writers anyway."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('lock_timeout', %s, true)", [f"{seconds}s"])


class IdempotencyMiddleware:
    """See the module's docstring. Sits after AuthenticationMiddleware (session users)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (
            request.method not in WRITE_METHODS
            or META_KEY not in request.META
            or not request.path_info.startswith(API_PREFIX)
        ):
            return self.get_response(request)
        key = request.META[META_KEY].strip()
        problem = key_problem(key)
        if problem is not None:
            return problem_response(422, problem, request, errors={HEADER: [problem]})
        try:
            # Read before authenticating: a session's CSRF check may read the form body.
            body = request.body
        except RequestDataTooBig:
            return problem_response(413, "The request body is too large.", request)
        user = api_user(request, body)
        if user is None:
            return self.get_response(request)
        method, path = request.method or "", request.get_full_path()
        return self._once(request, user, key, method, path, fingerprint(method, path, body))

    def _once(
        self, request: HttpRequest, user: Any, key: str, method: str, path: str, digest: str
    ) -> HttpResponse:
        with transaction.atomic():
            IdempotencyRecord.objects.filter(
                user=user, key=key, created_at__lt=timezone.now() - WINDOW
            ).delete()
            wait = settings.ERPSYNC_IDEMPOTENCY_WAIT_SECONDS
            _lock_wait(wait)
            try:
                with transaction.atomic():
                    record, created = IdempotencyRecord.objects.get_or_create(
                        user=user,
                        key=key,
                        defaults={"method": method, "path": path, "fingerprint": digest},
                    )
            except OperationalError as error:
                if getattr(error.__cause__, "sqlstate", None) != LOCK_NOT_AVAILABLE:
                    raise
                return problem_response(
                    409,
                    f"A request with this Idempotency-Key is in progress (waited {wait} s). "
                    "Retry it later: it will then get that request's answer.",
                    request,
                )
            _lock_wait(0)  # the view's own lock waits are unbounded, as without a key
            if not created:
                if record.fingerprint != digest:
                    return _mismatch(request, record, method, path)
                return _replay(record)
            response = self.get_response(request)
            status = response.status_code
            if status >= 500 or status in NOT_STORED or response.streaming:
                record.delete()
                return response
            record.status = response.status_code
            record.content_type = response.get("Content-Type", "")
            record.headers = {h: response[h] for h in KEPT_HEADERS if response.has_header(h)}
            record.body = response.content.decode(response.charset or "utf-8", "replace")
            record.save(update_fields=["status", "content_type", "headers", "body"])
            return response
