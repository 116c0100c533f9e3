"""Tryton's JSON-RPC: a logged-in session, its calls, and what its errors mean."""

from __future__ import annotations

import base64
import datetime
import json
import urllib.error
import urllib.request
from decimal import Decimal
from http.client import HTTPException
from typing import Any
from urllib.parse import urlsplit

from erpsync.adapters.base import PermanentErpError, TransientErpError, seconds

DEFAULT_TIMEOUT = 30.0
MESSAGE_LIMIT = 500
READ_LIMIT = 20_000_000

# JSON-RPC error names that mean "try again later".
_TRANSIENT_ERRORS = {"ConcurrencyException", "RateLimitException", "TimeOutException"}


# ----- Tryton's JSON encoding ----------------------------------------------------------------


def _encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return {"__class__": "Decimal", "decimal": str(value)}
    if isinstance(value, datetime.datetime):
        raise TypeError("datetimes are not sent to Tryton")
    if isinstance(value, datetime.date):
        return {"__class__": "date", "year": value.year, "month": value.month, "day": value.day}
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_encode(v) for v in value]
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        kind = value.get("__class__")
        if kind == "Decimal":
            return Decimal(value["decimal"])
        if kind == "date":
            return datetime.date(value["year"], value["month"], value["day"])
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def _trim(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 1] + "…"


def _error_message(error: Any) -> tuple[str, str]:
    """(the exception's name, Tryton's message) from a JSON-RPC error value."""
    if isinstance(error, list) and error and isinstance(error[0], str):
        name, args = error[0], error[1] if len(error) > 1 else None
        if name == "UserError" and isinstance(args, list) and args:
            parts = [str(a) for a in args[:2] if a]
            return name, " ".join(parts)
        if name == "UserWarning" and isinstance(args, list) and len(args) > 1:
            return name, " ".join(str(a) for a in args[1:3] if a)
        if name in _TRANSIENT_ERRORS or name == "LoginException":
            return name, str(args if not isinstance(args, list) else " ".join(map(str, args)))
        # Any other exception: [str(exception), traceback].
        return "Exception", name
    return "Exception", str(error)


class TrytonRpc:
    """The JSON-RPC half of the adapter: needs `settings` (url, database, username, password,
    timeout) and keeps the session and the user's context."""

    settings: dict[str, Any]

    @property
    def timeout(self) -> float:
        return seconds(self.settings.get("timeout"), DEFAULT_TIMEOUT)

    @property
    def rpc_url(self) -> str:
        base = str(self.settings["url"]).strip().rstrip("/")
        return f"{base}/{str(self.settings['database']).strip()}/rpc/"

    # ----- JSON-RPC -----------------------------------------------------------------------

    def _post(self, method: str, params: list[Any]) -> Any:
        if self._problems:
            raise PermanentErpError(
                "The Tryton adapter is not configured: " + " ".join(self._problems)
            )
        self._request_id += 1
        body = json.dumps(
            {"id": self._request_id, "method": method, "params": _encode(params)}
        ).encode("utf-8")
        headers = {"Content-Type": "application/json", "User-Agent": "erpsync"}
        if self._auth:
            headers["Authorization"] = self._auth
        request = urllib.request.Request(self.rpc_url, data=body, method="POST", headers=headers)
        where = self._where()
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                content = response.read(READ_LIMIT)
        except urllib.error.HTTPError as error:
            error.close()
            status = error.code
            if status in (401, 403):
                raise PermanentErpError(
                    f"Tryton at {where} refused the login of {self.settings['username']!r} "
                    f"({status}): check the username and password."
                ) from error
            if status in (404,):
                raise PermanentErpError(
                    f"Tryton at {where} has no database {self.settings['database']!r} (404)."
                ) from error
            if status in (409, 423, 429) or status >= 500:
                raise TransientErpError(
                    f"Tryton at {where} answered {status} {error.reason}: try again later."
                ) from error
            raise PermanentErpError(
                f"Tryton at {where} answered {status} {error.reason}."
            ) from error
        except urllib.error.URLError as error:
            reason = error.reason
            if isinstance(reason, TimeoutError) or "timed out" in str(reason).lower():
                raise TransientErpError(
                    f"Tryton at {where} did not answer within {self.timeout:g} s"
                ) from error
            text = reason.strerror if isinstance(reason, OSError) and reason.strerror else reason
            raise TransientErpError(f"Tryton could not be reached at {where}: {text}") from error
        except TimeoutError as error:
            raise TransientErpError(
                f"Tryton at {where} did not answer within {self.timeout:g} s"
            ) from error
        except (OSError, HTTPException) as error:
            raise TransientErpError(f"Tryton could not be reached at {where}: {error}") from error
        try:
            data = json.loads(content)
        except ValueError as error:
            raise TransientErpError(
                f"Tryton at {where} sent an answer that is not JSON."
            ) from error
        if not isinstance(data, dict):
            raise TransientErpError(f"Tryton at {where} sent an unexpected answer.")
        if data.get("error") is not None:
            name, message = _error_message(data["error"])
            if name in _TRANSIENT_ERRORS or "database is locked" in message:
                raise TransientErpError(f"Tryton is busy: {_trim(message)}")
            if name == "LoginException":
                raise PermanentErpError(
                    f"Tryton refused the login of {self.settings['username']!r}: "
                    "check the username and password."
                )
            raise PermanentErpError(f"Tryton refused it: {_trim(message)}")
        return _decode(data.get("result"))

    def _where(self) -> str:
        parts = urlsplit(str(self.settings.get("url", "")).strip())
        host = parts.hostname or "?"
        return f"{host}:{parts.port}" if parts.port else host

    def login(self) -> None:
        if self._auth:
            return
        username = str(self.settings["username"])
        result = self._post(
            "common.db.login", [username, {"password": str(self.settings["password"])}, "en"]
        )
        if not isinstance(result, list) or len(result) < 2 or not result[0]:
            raise PermanentErpError(
                f"Tryton refused the login of {username!r}: check the username and password."
            )
        uid, session = result[0], result[1]
        token = base64.b64encode(f"{username}:{uid}:{session}".encode()).decode("ascii")
        self._auth = f"Session {token}"
        preferences = self._post("model.res.user.get_preferences", [True, {}])
        self._context = {
            k: v
            for k, v in (preferences or {}).items()
            if k in ("company", "companies", "language", "groups", "employee", "employees")
        }
        if not self._context.get("company"):
            raise PermanentErpError(
                f"The Tryton user {username!r} has no current company: set one in Tryton."
            )

    def call(self, model: str, method: str, *args: Any) -> Any:
        """model.<model>.<method>(*args, context) as the logged-in user."""
        self.login()
        return self._post(f"model.{model}.{method}", [*args, self._context])

    def search_read(
        self, model: str, domain: list[Any], fields: list[str], limit: int | None = None
    ) -> list[dict[str, Any]]:
        return self.call(model, "search_read", domain, 0, limit, [["id", "ASC"]], fields)
