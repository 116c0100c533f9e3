"""One signed POST of a delivery to a subscriber's URL, and what came back.

Signed exactly as the webhook ERP adapter signs its requests (erpsync.adapters.webhook): the
same header, the same HMAC, the same verify() on the receiving side. Redirects are not
followed: a 3xx is an answer, and counts as a failed try.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from http.client import HTTPException
from typing import Any

from erpsync.adapters.webhook import SIGNATURE_HEADER, signature_header

USER_AGENT = "erpsync-webhooks/1"
EVENT_ID_HEADER = "X-Erpsync-Event-Id"
EVENT_TYPE_HEADER = "X-Erpsync-Event"
# Most bytes read from an answer, and most characters of it kept on the delivery row.
READ_LIMIT = 64_000
EXCERPT_LIMIT = 1000


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


@dataclass(frozen=True)
class Answer:
    """`status` None: no HTTP answer at all (`error` says why: refused, timed out…)."""

    status: int | None
    body: str
    error: str
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def excerpt(data: bytes | str) -> str:
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    text = text.strip()
    return text if len(text) <= EXCERPT_LIMIT else text[: EXCERPT_LIMIT - 1] + "…"


def signed_headers(
    *, secrets: Sequence[str], body: bytes, event_id: str, event_type: str
) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        EVENT_ID_HEADER: event_id,
        EVENT_TYPE_HEADER: event_type,
        SIGNATURE_HEADER: signature_header(secrets, body, int(time.time())),
    }


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Answer:
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    start = time.monotonic()

    def answer(status: int | None, content: bytes | str = b"", error: str = "") -> Answer:
        elapsed = int((time.monotonic() - start) * 1000)
        return Answer(status, excerpt(content), excerpt(error), elapsed)

    try:
        with _opener.open(request, timeout=timeout) as response:
            return answer(response.status, response.read(READ_LIMIT))
    except urllib.error.HTTPError as error:
        try:
            content = error.read(READ_LIMIT)
        except (OSError, HTTPException):
            content = b""
        finally:
            error.close()
        return answer(error.code, content, str(error.reason or ""))
    except urllib.error.URLError as error:
        reason = error.reason
        if isinstance(reason, TimeoutError) or "timed out" in str(reason).lower():
            return answer(None, error=f"No answer within {timeout:g} s.")
        return answer(None, error=f"Could not connect: {_reason(reason)}")
    except TimeoutError:
        return answer(None, error=f"No answer within {timeout:g} s.")
    except (OSError, HTTPException, ValueError) as error:
        # A dropped connection, a malformed answer, a URL urllib cannot use.
        return answer(None, error=f"Failed: {_reason(error)}")


def _reason(reason: object) -> str:
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return str(reason) or type(reason).__name__
