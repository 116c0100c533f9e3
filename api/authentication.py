"""`Authorization: Bearer esk_…`: a personal token acts as its user, within its company."""

from __future__ import annotations

import hmac
from datetime import timedelta
from typing import Any

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from api.models import TOKEN_PREFIX, ApiToken, hash_token

# last_used_at is written at most this often per token: one UPDATE per minute, not per call.
LAST_USED_PRECISION = timedelta(seconds=60)
BAD_TOKEN = "The API token is not valid: it is unknown, revoked or expired."


class TokenAuthentication(BaseAuthentication):
    keyword = b"bearer"

    def authenticate(self, request: Request) -> tuple[Any, ApiToken] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None
        if len(parts) != 2:
            raise AuthenticationFailed("Send the token as 'Authorization: Bearer <token>'.")
        try:
            raw = parts[1].decode("ascii")
        except UnicodeDecodeError as error:
            raise AuthenticationFailed(BAD_TOKEN) from error
        prefix, _, rest = raw.partition("_")
        lookup, _, secret = rest.partition("_")
        if prefix != TOKEN_PREFIX or not lookup or not secret or len(lookup) > 12:
            raise AuthenticationFailed(BAD_TOKEN)
        token = ApiToken.objects.usable().select_related("user", "company").filter(lookup=lookup)
        found = token.first()
        if found is None or not hmac.compare_digest(found.hashed, hash_token(raw)):
            raise AuthenticationFailed(BAD_TOKEN)
        if not found.user.is_active:
            raise AuthenticationFailed(BAD_TOKEN)
        now = timezone.now()
        if found.last_used_at is None or now - found.last_used_at > LAST_USED_PRECISION:
            ApiToken.objects.filter(pk=found.pk).update(last_used_at=now)
            found.last_used_at = now
        return found.user, found

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="erpsync"'


class TokenScheme(OpenApiAuthenticationExtension):  # type: ignore[misc]
    """The schema's security scheme for TokenAuthentication (drf-spectacular finds it by
    subclassing)."""

    target_class = "api.authentication.TokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "bearerFormat": "esk_<id>_<secret>"}
