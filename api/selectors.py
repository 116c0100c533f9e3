"""Reads of the API app for the pages: a user's tokens and the companies they may scope one to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from api.models import ApiToken
from approvals.kinds import kinds_for
from projects.models import Company


@dataclass(frozen=True)
class TokenRow:
    token: ApiToken
    status: str  # active, expired or revoked
    kinds: str  # what the API serves in the token's company, in that company's terms


def token_companies(user: Any) -> list[Company]:
    """The companies a user may scope a token to: those whose directory lists them."""
    return list(Company.objects.filter(memberships__user=user).order_by("name"))


def token_rows(user: Any) -> list[TokenRow]:
    """Every token of the user's, newest first, revoked and expired ones included."""
    now = timezone.now()
    tokens = list(ApiToken.objects.filter(user=user).select_related("company"))
    kinds: dict[int, str] = {}
    rows = []
    for token in tokens:
        if token.company_id not in kinds:
            labels = [kind.label for kind in kinds_for(token.company)]
            kinds[token.company_id] = ", ".join(labels)
        if token.revoked_at is not None:
            status = "revoked"
        elif token.expires_at is not None and token.expires_at <= now:
            status = "expired"
        else:
            status = "active"
        rows.append(TokenRow(token=token, status=status, kinds=kinds[token.company_id]))
    return rows
