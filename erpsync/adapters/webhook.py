"""An ERP reached over HTTP: erpsync POSTs each accepted item to a URL the company configures.

Settings (Company.erp_settings): ``url`` (required, http or https), ``secret`` (required, the
shared HMAC key), ``timeout`` (seconds, default 10). Every request carries the headers
``User-Agent: erpsync`` and ``X-Erpsync-Signature: sha256=<hex HMAC-SHA256(secret, message)>``.
Redirects are not followed. What the receiving server must do:

- ``POST <url>``, export. The body is
  ``{"idempotency_key": ..., "kind": "sub_job" | "owner_invoice", "snapshot": {...}}``
  (compact JSON, sorted keys) with ``Content-Type: application/json`` and an
  ``Idempotency-Key`` header equal to the body's key; the signed message is the raw body bytes.
  Verify the signature (constant-time compare), then create the item, or, when this key was
  seen before, create nothing: either way answer 2xx with ``{"id": "<ERP id>"}``, the same id
  for the same key.
- ``GET <url>?idempotency_key=<key>``, lookup. The signed message is the raw query string,
  everything after ``?`` exactly as sent (it includes any query already in ``url``). Answer 200
  with ``{"id": "<ERP id>"}`` when an export with this key was made, 404 when none was.
- ``GET <url>?check=1``, connectivity check, signed like a lookup. Answer 2xx (404 and 405
  also count as reachable); answer 401 or 403 to a bad signature.
- Errors: 429 and 5xx mean "try again later" (erpsync retries). Any other 4xx means "this
  item is refused": give a reason as ``{"error": "..."}`` (or ``{"message": "..."}``, or plain
  text), which approvers see under Failed to Export.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.request
from http.client import HTTPException
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from erpsync.adapters.base import (
    Adapter,
    PermanentErpError,
    TransientErpError,
    seconds,
    timeout_problems,
    url_problems,
)

if TYPE_CHECKING:
    from projects.models import Company

DEFAULT_TIMEOUT = 10.0
# Longest error text kept from a response, and most bytes read from one.
MESSAGE_LIMIT = 500
READ_LIMIT = 1_000_000

SIGNATURE_HEADER = "X-Erpsync-Signature"


def sign(secret: str, message: bytes) -> str:
    """The X-Erpsync-Signature value for a message: ``sha256=<hex digest>``."""
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are answers, not hops: following one would turn a POST into a GET."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


class _Response:
    def __init__(self, status: int, reason: str, body: bytes) -> None:
        self.status = status
        self.reason = reason
        self.body = body

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def message(self) -> str:
        """The server's reason: its JSON error or message, else its text, else the status."""
        data = self.json()
        if isinstance(data, dict):
            for field in ("error", "message"):
                value = data.get(field)
                if isinstance(value, str) and value.strip():
                    return _trim(value)
        text = self.body.decode("utf-8", errors="replace").strip()
        return _trim(text) if text else self.reason or "no message"


def _trim(text: str) -> str:
    text = text.strip()
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 1] + "…"


def _is_timeout(reason: object) -> bool:
    # socket.timeout is TimeoutError; urlopen wraps a connect timeout in URLError.
    return isinstance(reason, TimeoutError) or (
        isinstance(reason, str) and "timed out" in reason.lower()
    )


class WebhookAdapter(Adapter):
    key = "webhook"
    label = "Webhook"
    supports = frozenset({"sub_job", "owner_invoice"})

    def __init__(self, *, company: Company, settings: dict[str, Any] | None = None) -> None:
        super().__init__(company=company, settings=settings)
        # Settings are checked on the first request, so a page can list a misconfigured company.
        self._problems = self.validate_settings(self.settings)

    # ----- settings -----------------------------------------------------------------------

    @classmethod
    def validate_settings(cls, settings: dict[str, Any]) -> list[str]:
        """Readable problems with these settings; empty when they are usable."""
        problems: list[str] = []
        url = settings.get("url")
        if url is None or (isinstance(url, str) and not url.strip()):
            problems.append("The webhook URL (url) is missing.")
        elif not isinstance(url, str):
            problems.append("The webhook URL (url) must be text.")
        problems += url_problems(url, "webhook URL")
        secret = settings.get("secret")
        if secret is None or (isinstance(secret, str) and not secret):
            problems.append("The webhook secret (secret) is missing.")
        elif not isinstance(secret, str):
            problems.append("The webhook secret (secret) must be text.")
        return problems + timeout_problems(settings.get("timeout"), "webhook")

    @property
    def url(self) -> str:
        return str(self.settings["url"]).strip()

    @property
    def secret(self) -> str:
        return str(self.settings["secret"])

    @property
    def timeout(self) -> float:
        return seconds(self.settings.get("timeout"), DEFAULT_TIMEOUT)

    # ----- the adapter ----------------------------------------------------------------------

    def export(self, *, kind: str, snapshot: dict[str, Any], idempotency_key: str) -> str:
        body = json.dumps(
            {"kind": kind, "idempotency_key": idempotency_key, "snapshot": snapshot},
            sort_keys=True,
            separators=(",", ":"),
        ).encode("utf-8")
        response = self._request(
            "POST",
            self.url,
            body=body,
            signed=body,
            headers={"Content-Type": "application/json", "Idempotency-Key": idempotency_key},
        )
        if 200 <= response.status < 300:
            return _id_from(response)
        raise self._error(response)

    def lookup(self, *, kind: str, idempotency_key: str) -> str | None:
        response = self._get({"idempotency_key": idempotency_key})
        if response.status == 404:
            return None
        if 200 <= response.status < 300:
            return _id_from(response)
        raise self._error(response)

    def check(self) -> None:
        response = self._get({"check": "1"})
        if 200 <= response.status < 300 or response.status in (404, 405):
            return
        raise self._error(response)

    # ----- HTTP -----------------------------------------------------------------------------

    def _get(self, params: dict[str, str]) -> _Response:
        base = self.url.split("#", 1)[0]  # a fragment is never sent
        query = urlencode(params)
        if urlsplit(base).query:
            url = f"{base}&{query}"
        elif base.endswith("?"):
            url = f"{base}{query}"
        else:
            url = f"{base}?{query}"
        signed = urlsplit(url).query.encode("utf-8")
        return self._request("GET", url, body=None, signed=signed, headers={})

    def _request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None,
        signed: bytes,
        headers: dict[str, str],
    ) -> _Response:
        if self._problems:
            raise PermanentErpError(
                "The webhook adapter is not configured: " + " ".join(self._problems)
            )
        request = urllib.request.Request(
            url,
            data=body,
            method=method,
            headers={
                **headers,
                "User-Agent": "erpsync",
                SIGNATURE_HEADER: sign(self.secret, signed),
            },
        )
        timeout = self.timeout
        try:
            with _opener.open(request, timeout=timeout) as response:
                return _Response(response.status, response.reason or "", response.read(READ_LIMIT))
        except urllib.error.HTTPError as error:
            try:
                content = error.read(READ_LIMIT)
            except (OSError, HTTPException):
                content = b""
            finally:
                error.close()
            return _Response(error.code, str(error.reason or ""), content)
        except urllib.error.URLError as error:
            if _is_timeout(error.reason):
                raise self._timed_out(timeout) from error
            raise TransientErpError(
                f"The ERP could not be reached at {self._where()}: {_reason(error.reason)}"
            ) from error
        except TimeoutError as error:
            raise self._timed_out(timeout) from error
        except (OSError, HTTPException) as error:
            # ConnectionError (refused, reset), a dropped connection, a malformed answer.
            raise TransientErpError(
                f"The ERP could not be reached at {self._where()}: {_reason(error)}"
            ) from error

    def _timed_out(self, timeout: float) -> TransientErpError:
        return TransientErpError(f"The ERP did not answer within {timeout:g} s")

    def _where(self) -> str:
        """The URL's host and port, never its credentials."""
        parts = urlsplit(self.url)
        host = parts.hostname or "?"
        return f"{host}:{parts.port}" if parts.port else host

    def _error(self, response: _Response) -> TransientErpError | PermanentErpError:
        status = response.status
        message = f"The ERP answered {status}: {response.message()}"
        if status == 429 or status >= 500:
            return TransientErpError(message)
        if status in (401, 403):
            return PermanentErpError(
                f"The ERP refused our signature: check the secret ({status}: {response.message()})"
            )
        return PermanentErpError(message)


def _id_from(response: _Response) -> str:
    data = response.json()
    erp_id = data.get("id") if isinstance(data, dict) else None
    if erp_id is None or isinstance(erp_id, bool | dict | list) or str(erp_id).strip() == "":
        raise PermanentErpError("The ERP answered without an id")
    return str(erp_id)


def _reason(reason: object) -> str:
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return str(reason) or type(reason).__name__
