"""Pages of one's own account: the lockout page and the password change."""

from __future__ import annotations

import math
from typing import Any

from axes.helpers import get_client_username, get_cool_off
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.db.models import Max
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse_lazy
from django.utils import timezone

ACCOUNT_CRUMBS = [("Home", reverse_lazy("home"))]


def _minutes_left(request: HttpRequest, username: str) -> int | None:
    """Whole minutes until the lockout ends (rounded up), or None when only an admin ends it.

    Attempts made while locked are not recorded (AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT
    is off), so the lockout ends a cool-off after the failure that started it.
    """
    cool_off = get_cool_off(request)
    if cool_off is None:
        return None
    last_failure = AccessAttempt.objects.filter(
        username=username, ip_address=getattr(request, "axes_ip_address", None)
    ).aggregate(last=Max("attempt_time"))["last"]
    if last_failure is None:
        return math.ceil(cool_off.total_seconds() / 60)
    left = (last_failure + cool_off - timezone.now()).total_seconds()
    return max(1, math.ceil(left / 60))


def locked_out(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    """django-axes' lockout response (AXES_LOCKOUT_CALLABLE): a page in the app's layout."""
    username = get_client_username(request, credentials) or ""
    minutes = _minutes_left(request, username)
    response = render(
        request,
        "registration/locked_out.html",
        {
            "username": username,
            "minutes": minutes,
            "failure_limit": settings.AXES_FAILURE_LIMIT,
            "title": "Account locked",
        },
        status=settings.AXES_HTTP_RESPONSE_CODE,
    )
    if minutes is not None:
        response["Retry-After"] = str(minutes * 60)
    return response


class PasswordChangeView(auth_views.PasswordChangeView):
    """Every logged-in user, staff or not, changes their own password here."""

    extra_context = {"breadcrumbs": [*ACCOUNT_CRUMBS, ("Change password", None)]}


class PasswordChangeDoneView(auth_views.PasswordChangeDoneView):
    extra_context = {"breadcrumbs": [*ACCOUNT_CRUMBS, ("Password changed", None)]}
