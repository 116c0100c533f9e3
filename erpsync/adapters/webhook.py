"""An ERP reached over HTTP: erpsync POSTs each accepted item to a URL the company configures.

Settings (Company.erp_settings): ``url`` (required, http or https), ``secret`` (required, the
shared HMAC key), ``previous_secret`` (optional, the key being rotated out), ``timeout``
(seconds, default 10). Redirects are not followed. Every request carries the headers
``User-Agent: erpsync`` and::

    X-Erpsync-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + message)>

``t`` is when erpsync sent the request; the HMAC covers the ASCII bytes of ``t``, a dot, then
the message: the raw body bytes for a POST, the raw query string for a GET (below). While
``previous_secret`` is set, the header carries a second signature made with it:
``t=...,v1=<with secret>,v1=<with previous_secret>``.

Verifying (``verify()`` below is standard-library only: copy it): find the header whatever its
case; split it on commas into ``key=value`` items (ignore keys other than ``t`` and ``v1``);
compute the HMAC with each secret you hold and accept when it equals any ``v1`` (compare with
``hmac.compare_digest``); then refuse when ``t`` is more than DEFAULT_TOLERANCE (300) seconds
from your clock, in the past (a replay) or in the future. Answer 401 to any refusal. Within the
tolerance a captured request can be replayed: the idempotency key makes that harmless for an
export, and a lookup or check changes nothing.

Rotating the secret, without a refused request: (1) on erpsync set ``previous_secret`` to the
current secret and ``secret`` to the new one (every request is now signed with both); (2) give
each receiver the new secret (it may hold both meanwhile); (3) remove ``previous_secret``
(``erp_configure --unset previous_secret``). Receivers holding the old secret only are refused
from then on.

What the receiving server must do:

- ``POST <url>``, export. The body is
  ``{"idempotency_key": ..., "kind": "job" | "sub_job" | "owner_invoice", "snapshot": {...}}``
  (compact JSON, sorted keys) with ``Content-Type: application/json`` and an
  ``Idempotency-Key`` header equal to the body's key; the signed message is the raw body bytes.
  Verify the signature, then create the item, or, when this key was seen before, create
  nothing: either way answer 2xx with ``{"id": "<ERP id>"}``, the same id for the same key.
- ``GET <url>?idempotency_key=<key>``, lookup. The signed message is the raw query string,
  everything after ``?`` exactly as sent (it includes any query already in ``url``). Answer 200
  with ``{"id": "<ERP id>"}`` when an export with this key was made, 404 when none was.
- ``GET <url>?check=1``, connectivity check, signed like a lookup. Answer 2xx (404 and 405
  also count as reachable); answer 401 or 403 to a bad signature.
- Errors: 429 and 5xx mean "try again later" (erpsync retries). Any other 4xx means "this
  item is refused": give a reason as ``{"error": "..."}`` (or ``{"message": "..."}``, or plain
  text), which approvers see under Failed to Export.

Optional, a batch endpoint, used only when the company's settings name it (``batch_url``);
without it every item is POSTed on its own as above:

- ``POST <batch_url>``, export many. The body is ``{"items": [<an export's body>, ...]}``
  (compact JSON, sorted keys; each item as the single POST's body, with its own
  ``idempotency_key``), signed like any POST. Make one record per key exactly as the single
  POST does (a key seen before makes nothing and answers its id), and answer 2xx with
  ``{"results": {"<key>": {"id": "<ERP id>"} | {"error": "...", "retry": true|false}}}``:
  one entry per item, ``retry: true`` for an item to try again later, ``false`` (the
  default) for an item refused. A key missing from the answer is tried again later. An answer
  other than 2xx stands for every item (429 and 5xx: try again later; other 4xx: refused).
  Lookups before a retry stay one ``GET <url>?idempotency_key=…`` per key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from http.client import HTTPException
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from erpsync.adapters.base import (
    Adapter,
    Capability,
    ErpError,
    ExportRequest,
    ExportResults,
    PermanentErpError,
    SettingField,
    SettingKind,
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

# ----- signing and verifying -----------------------------------------------------------------
# Standard library only (hashlib, hmac, re, time, collections.abc), so a receiver can copy this
# part down to the adapter.

SIGNATURE_HEADER = "X-Erpsync-Signature"
# Seconds a signed request stays acceptable, either side of the receiver's clock.
DEFAULT_TOLERANCE = 300
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


class SignatureError(ValueError):
    """A request whose X-Erpsync-Signature is missing, malformed, stale or wrong: answer 401."""


def sign(secret: str, message: bytes, timestamp: int) -> str:
    """The hex HMAC-SHA256 of ``b"<timestamp>." + message`` under ``secret``."""
    signed = str(int(timestamp)).encode("ascii") + b"." + message
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def signature_header(secrets: Sequence[str], message: bytes, timestamp: int) -> str:
    """The X-Erpsync-Signature value: ``t=<timestamp>`` then one ``v1=`` per secret, in order."""
    if isinstance(secrets, str) or not secrets:
        raise ValueError("signature_header needs a list of one or more secrets")
    return ",".join(
        [f"t={int(timestamp)}", *(f"v1={sign(secret, message, timestamp)}" for secret in secrets)]
    )


def verify(
    headers: Mapping[str, str],
    body: bytes,
    secrets: Sequence[str],
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> None:
    """Raise SignatureError unless ``headers`` carry a fresh X-Erpsync-Signature over ``body``.

    ``headers`` is anything with ``items()``: a dict, http.server's ``self.headers``, Django's
    ``request.headers``; the name is matched whatever its case.
    ``body`` is the signed message: the raw request body of a POST, the raw query string of a
    GET (``query.encode()``). ``secrets`` are every secret the receiver accepts (two while it
    rotates). Refused: no or several signature headers, a malformed one, no ``v1`` equal to the
    HMAC under any of ``secrets``, a ``t`` more than ``tolerance`` seconds before or after
    ``now`` (default: the clock). Any malformed header raises SignatureError, nothing else.
    """
    if isinstance(secrets, str) or not secrets:
        raise ValueError("verify needs a list of one or more secrets")
    wanted = SIGNATURE_HEADER.lower()
    found = [v for k, v in headers.items() if isinstance(k, str) and k.lower() == wanted]
    if not found:
        raise SignatureError(f"The {SIGNATURE_HEADER} header is missing.")
    if len(found) > 1:
        raise SignatureError(f"There is more than one {SIGNATURE_HEADER} header.")
    [header] = found
    if not isinstance(header, str):
        raise SignatureError(f"The {SIGNATURE_HEADER} header is not text.")

    timestamps: list[str] = []
    candidates: list[bytes] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            raise SignatureError(f"The {SIGNATURE_HEADER} header is malformed: {item.strip()!r}.")
        if key == "t":
            timestamps.append(value)
        elif key == "v1":
            candidates.append(value.encode("utf-8", errors="replace"))
    if len(timestamps) != 1 or not _TIMESTAMP.fullmatch(timestamps[0]):
        raise SignatureError(
            f"The {SIGNATURE_HEADER} header needs exactly one timestamp t=<unix seconds>."
        )
    if not candidates:
        raise SignatureError(f"The {SIGNATURE_HEADER} header has no v1 signature.")
    timestamp = int(timestamps[0])

    expected = [sign(secret, body, timestamp).encode("ascii") for secret in secrets]
    # Every pair is compared, so the time taken says nothing about which one matched.
    matches = [hmac.compare_digest(e, c) for e in expected for c in candidates]
    if not any(matches):
        raise SignatureError("No v1 signature matches: wrong secret or altered message.")

    age = (time.time() if now is None else now) - timestamp
    if age > tolerance:
        raise SignatureError(
            f"The signature is {age:.0f} s old, more than the {tolerance} s allowed: a replay?"
        )
    if -age > tolerance:
        raise SignatureError(
            f"The signature is dated {-age:.0f} s in the future, more than the {tolerance} s "
            "allowed: check the clocks."
        )


# ----- HTTP and the adapter ------------------------------------------------------------------


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
    supports = frozenset({"job", "sub_job", "owner_invoice"})
    # The webhook contract is one-way (erpsync POSTs; the receiver answers with an id): it
    # has no documented endpoint to read a record back.
    unsupported_reasons = {
        Capability.FETCH: "The Webhook ERP integration only sends items to the ERP: it has no "
        "endpoint to read them back, so Refresh is not available.",
        Capability.UPDATE: "The Webhook ERP integration only creates records in the ERP: its "
        "contract has no request to change one, so a synced item cannot be updated through "
        "it.",
        Capability.UNLINK: "The Webhook ERP integration only sends items to the ERP: it has no "
        "endpoint to check that a record is gone or to void it, so Unlink is not available.",
    }
    setting_fields = (
        SettingField(
            "url",
            "URL",
            SettingKind.URL,
            required=True,
            help="Where each accepted item is POSTed (http:// or https://).",
        ),
        SettingField(
            "secret",
            "Secret",
            SettingKind.SECRET,
            required=True,
            help="The key every request is signed with; the receiving server holds it too.",
        ),
        SettingField(
            "previous_secret",
            "Previous secret",
            SettingKind.SECRET,
            help="Only while rotating the secret: requests are signed with both.",
        ),
        SettingField(
            "timeout", "Timeout (seconds)", SettingKind.NUMBER, help="Default 10 seconds."
        ),
        SettingField(
            "batch_url",
            "Batch URL",
            SettingKind.URL,
            help="Only if the receiving server has the batch endpoint (many items in one "
            "POST); leave it blank to POST each item on its own.",
        ),
    )

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
        previous = settings.get("previous_secret")
        if previous is not None:
            if not isinstance(previous, str):
                problems.append("The previous webhook secret (previous_secret) must be text.")
            elif not previous:
                problems.append(
                    "The previous webhook secret (previous_secret) is empty: remove the setting "
                    "once the rotation is over."
                )
            elif previous == secret:
                problems.append(
                    "The previous webhook secret (previous_secret) must differ from the secret "
                    "(secret)."
                )
        batch_url = settings.get("batch_url")
        if batch_url is not None and not isinstance(batch_url, str):
            problems.append("The webhook batch URL (batch_url) must be text.")
        problems += url_problems(batch_url, "webhook batch URL")
        return problems + timeout_problems(settings.get("timeout"), "webhook")

    def can_export_many(self) -> bool:
        """Only when the receiver declares the batch endpoint (batch_url)."""
        url = self.settings.get("batch_url")
        return isinstance(url, str) and bool(url.strip())

    @property
    def url(self) -> str:
        return str(self.settings["url"]).strip()

    @property
    def secret(self) -> str:
        return str(self.settings["secret"])

    @property
    def secrets(self) -> list[str]:
        """The keys each request is signed with: the secret, then any previous_secret."""
        previous = self.settings.get("previous_secret")
        return [self.secret] if previous is None else [self.secret, str(previous)]

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

    def export_many(self, items: Sequence[ExportRequest]) -> ExportResults:
        """The batch endpoint (batch_url): every item in one signed POST, a result per key."""
        if not self.can_export_many():
            raise self._unsupported(Capability.EXPORT_MANY)
        body = json.dumps(
            {
                "items": [
                    {"kind": r.kind, "idempotency_key": r.idempotency_key, "snapshot": r.snapshot}
                    for r in items
                ]
            },
            sort_keys=True,
            separators=(",", ":"),
        ).encode("utf-8")
        response = self._request(
            "POST",
            str(self.settings["batch_url"]).strip(),
            body=body,
            signed=body,
            headers={"Content-Type": "application/json"},
        )
        if not 200 <= response.status < 300:
            raise self._error(response)
        data = response.json()
        answers = data.get("results") if isinstance(data, dict) else None
        if not isinstance(answers, dict):
            raise TransientErpError("The ERP's batch answer has no results: trying again later")
        results: ExportResults = {}
        for request in items:
            results[request.idempotency_key] = _item_result(answers.get(request.idempotency_key))
        return results

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
                SIGNATURE_HEADER: signature_header(self.secrets, signed, int(time.time())),
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


def _item_result(answer: Any) -> str | ErpError:
    """One item's entry in a batch answer: its ERP id, or its error."""
    if not isinstance(answer, dict):
        return TransientErpError("The ERP's batch answer left this item out: trying again later")
    erp_id = answer.get("id")
    if erp_id is not None and not isinstance(erp_id, bool | dict | list) and str(erp_id).strip():
        return str(erp_id)
    message = answer.get("error")
    text = _trim(message) if isinstance(message, str) and message.strip() else "no message"
    if answer.get("retry") is True:
        return TransientErpError(f"The ERP asked to try this item again later: {text}")
    return PermanentErpError(f"The ERP refused this item: {text}")


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
