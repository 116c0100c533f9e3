"""Rate limits of the API, per token and per user, reads and writes counted apart.

Each request counts against the limit of its token (one client) and of its user (all of
their tokens and their browser session together), so more tokens do not buy more requests.
A request without credentials counts against its address's `anon` limit. The rates come from
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] (settings, from ERPSYNC_API_RATE_* variables).

Counts live in the default cache: Redis in production, so every worker process shares them;
the local-memory cache in the embedded default. A fixed window per scope and identity is one
atomic INCR per request, where DRF's SimpleRateThrottle would read and rewrite the whole
history of a busy token on every call, and lose counts between concurrent workers.
"""

from __future__ import annotations

import math
import time
from typing import Any, ClassVar

from django.core.cache import cache
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from api.models import ApiToken

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """ "300/min" → (300, 60): requests per window of seconds."""
    count, _, period = rate.partition("/")
    return int(count), PERIODS[period.strip()[:1]]


class ApiRateThrottle(BaseThrottle):
    kind: ClassVar[str]
    by_method: ClassVar[bool] = True

    def __init__(self) -> None:
        self.retry_in: float | None = None

    def identity(self, request: Request) -> str | None:
        raise NotImplementedError

    def scope(self, request: Request) -> str:
        if not self.by_method:
            return self.kind
        return f"{self.kind}_{'read' if request.method in SAFE_METHODS else 'write'}"

    def allow_request(self, request: Request, view: Any) -> bool:
        ident = self.identity(request)
        if ident is None:
            return True
        scope = self.scope(request)
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(scope)
        if not rate:
            return True
        limit, seconds = parse_rate(rate)
        now = time.time()
        window = int(now // seconds)
        key = f"api-throttle:{scope}:{ident}:{seconds}:{window}"
        # The key outlives its window by a little so that a slow request still finds it.
        cache.add(key, 0, seconds + 5)
        try:
            used = cache.incr(key)
        except ValueError:  # evicted between add and incr
            cache.set(key, 1, seconds + 5)
            used = 1
        if used <= limit:
            return True
        self.retry_in = (window + 1) * seconds - now
        return False

    def wait(self) -> float | None:
        return math.ceil(self.retry_in) if self.retry_in is not None else None


class TokenRateThrottle(ApiRateThrottle):
    """token_read, token_write: one token, whoever holds it."""

    kind = "token"

    def identity(self, request: Request) -> str | None:
        token = request.auth
        return str(token.pk) if isinstance(token, ApiToken) else None


class UserRateThrottle(ApiRateThrottle):
    """user_read, user_write: all of a user's tokens and their session together."""

    kind = "user"

    def identity(self, request: Request) -> str | None:
        user = request.user
        return str(user.pk) if user is not None and user.is_authenticated else None


class AnonRateThrottle(ApiRateThrottle):
    """anon: requests without credentials (the schema and its docs), per client address."""

    kind = "anon"
    by_method = False

    def identity(self, request: Request) -> str | None:
        if request.user is not None and request.user.is_authenticated:
            return None
        return self.get_ident(request)
