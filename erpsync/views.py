from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from erpsync.states import ICONS
from projects.selectors import companies_for_user


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html", {"companies": companies_for_user(request.user)})


@login_required
def erp_icons(request: HttpRequest) -> HttpResponse:
    return render(request, "erp/legend.html", {"icons": list(ICONS.items())})


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    reason = str(exception) if exception and str(exception) else ""
    template = "refused.html#message" if getattr(request, "htmx", False) else "403.html"
    context = {"reason": reason, "title": "Not allowed", "reasons": [reason or "Not allowed."]}
    return render(request, template, context, status=403)


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
