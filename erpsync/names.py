"""How pages, messages and emails name people and moments: one helper each."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

DELETED_USER = "a deleted user"
SYSTEM_NAME = "erpsync"


def display_name(user: Any) -> str:
    """How pages, messages and emails name a person; the one helper for it.

    Every user link is SET_NULL, so None is an account deleted since (the system's own rows
    say so themselves: see ErpEvent.actor_name).
    """
    if user is None:
        return DELETED_USER
    return user.get_full_name() or user.get_username()


def when(moment: datetime | None) -> str:
    if moment is None:
        return "an unknown time"
    local = timezone.localtime(moment)
    return f"{local:%H:%M} on {local.day} {local:%b %Y}"
