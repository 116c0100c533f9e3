"""Writes of the API app: personal tokens, each change audited on the company's log."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from api.models import ApiToken, IdempotencyRecord, hash_token, new_raw_token
from erpsync.services import record_settings_event, require_storable
from projects.permissions import company_membership

MAX_DAYS = 366
IDEMPOTENCY_WINDOW = timedelta(hours=24)
NAME_MAX = 100


def token_create(
    *,
    user: Any,
    company: Any,
    name: str,
    read_only: bool = False,
    expires_in_days: int | None = 90,
    expires_on: date | None = None,
) -> tuple[ApiToken, str]:
    """A new token for `user` in `company`; the raw token is returned once and never kept.

    It expires `expires_in_days` from now, or at the end of the day `expires_on` (in
    TIME_ZONE) when that is given; at most a year ahead either way."""
    name = (name or "").strip()
    errors: dict[str, str] = {}
    if not name:
        errors["name"] = "Name the token after what uses it (e.g. 'Month-end script')."
    elif len(name) > NAME_MAX:
        errors["name"] = f"Keep the name under {NAME_MAX} characters."
    now = timezone.now()
    expires_at: datetime | None = None
    if expires_on is not None:
        today = timezone.localdate(now)
        if not today <= expires_on <= today + timedelta(days=MAX_DAYS - 1):
            errors["expires_on"] = (
                f"Choose a day from today to {today + timedelta(days=MAX_DAYS - 1):%d %b %Y}."
            )
        else:
            midnight = datetime.combine(expires_on + timedelta(days=1), time())
            expires_at = timezone.make_aware(midnight)
    elif expires_in_days is not None:
        if not 1 <= expires_in_days <= MAX_DAYS:
            errors["expires_in_days"] = f"Choose between 1 and {MAX_DAYS} days."
        expires_at = now + timedelta(days=expires_in_days)
    if errors:
        raise ValidationError(errors)
    require_storable(name=name)
    if company_membership(user, company) is None:
        raise ValidationError("You are not a member of this company.")
    lookup, raw = new_raw_token()
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            company=company,
            name=name,
            lookup=lookup,
            hashed=hash_token(raw),
            read_only=read_only,
            created_at=now,
            expires_at=expires_at,
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


def idempotency_prune(*, now: datetime | None = None) -> int:
    """Delete stored Idempotency-Key answers past their 24 hours; how many went."""
    cutoff = (now or timezone.now()) - IDEMPOTENCY_WINDOW
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted
