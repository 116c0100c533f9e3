"""The client's address, as the login lockout counts it."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """The address the nearest trusted proxy saw, or REMOTE_ADDR with no proxy in front.

    Each of the ERPSYNC_PROXY_COUNT proxies appends the address it received the request from
    to X-Forwarded-For, so the entry that many places from the right is the client as our own
    proxies saw it. Anything to its left was written by the client and may be forged; reading
    the leftmost entry would let an attacker choose a fresh address for every guess.
    """
    count: int = settings.ERPSYNC_PROXY_COUNT
    remote_addr = request.META.get("REMOTE_ADDR")
    if count == 0:
        return remote_addr
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [part for part in forwarded if part]
    if len(forwarded) < count:
        # Fewer hops than proxies: the request did not come through them all. Counting it by
        # the peer address keeps the lockout working instead of trusting a partial header.
        return remote_addr
    return forwarded[-count]
