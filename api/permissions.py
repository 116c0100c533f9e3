from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from api.models import ApiToken

READ_ONLY_TOKEN = "This API token is read-only: it can read but not change anything."


class TokenScope(BasePermission):
    """A read-only token reads; it never writes, whatever its user may do."""

    message = READ_ONLY_TOKEN

    def has_permission(self, request: Request, view: Any) -> bool:
        token = request.auth
        if isinstance(token, ApiToken) and token.read_only:
            return request.method in SAFE_METHODS
        return True
