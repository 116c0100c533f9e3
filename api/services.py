"""Writes of the API app: personal tokens, each change audited on the company's log."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from api.models import ApiToken, hash_token, new_raw_token
from erpsync.services import record_settings_event, require_storable
from projects.permissions import company_membership

MAX_DAYS = 366
NAME_MAX = 100


def token_create(
    *,
    user: Any,
    company: Any,
    name: str,
    read_only: bool = False,
    expires_in_days: int | None = 90,
) -> tuple[ApiToken, str]:
    """A new token for `user` in `company`; the raw token is returned once and never kept."""
    name = (name or "").strip()
    errors: dict[str, str] = {}
    if not name:
        errors["name"] = "Name the token after what uses it (e.g. 'Month-end script')."
    elif len(name) > NAME_MAX:
        errors["name"] = f"Keep the name under {NAME_MAX} characters."
    if expires_in_days is not None and not 1 <= expires_in_days <= MAX_DAYS:
        errors["expires_in_days"] = f"Choose between 1 and {MAX_DAYS} days."
    if errors:
        raise ValidationError(errors)
    require_storable(name=name)
    if company_membership(user, company) is None:
        raise ValidationError("You are not a member of this company.")
    lookup, raw = new_raw_token()
    now = timezone.now()
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            company=company,
            name=name,
            lookup=lookup,
            hashed=hash_token(raw),
            read_only=read_only,
            created_at=now,
            expires_at=now + timedelta(days=expires_in_days) if expires_in_days else None,
        )
        record_settings_event(
            obj=token,
            company=company,
            user=user,
            changes={
                "api token": ["", f"{name} ({'read only' if read_only else 'read and write'})"]
            },
        )
    return token, raw


def token_revoke(*, token: ApiToken, user: Any) -> ApiToken:
    """Revoke one of the user's own tokens; revoking twice changes nothing."""
    with transaction.atomic():
        locked = ApiToken.objects.select_for_update().get(pk=token.pk, user=user)
        if locked.revoked_at is None:
            locked.revoked_at = timezone.now()
            locked.save(update_fields=["revoked_at"])
            record_settings_event(
                obj=locked,
                company=locked.company,
                user=user,
                changes={"api token": [locked.name, "revoked"]},
            )
    return locked
