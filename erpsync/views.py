from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from erpsync.health import dependency_checks
from erpsync.states import ICONS
from projects.selectors import companies_for_user


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html", {"companies": companies_for_user(request.user)})


@login_required
def erp_icons(request: HttpRequest) -> HttpResponse:
    return render(request, "erp/legend.html", {"icons": list(ICONS.items())})


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Readiness: the database and the broker (when one is configured) answer. 503 names the
    failing part, so a load balancer stops sending work that could not be queued."""
    checks = dependency_checks()
    failing = [name for name, result in checks.items() if result != "ok"]
    body = {"status": "fail" if failing else "ok", "checks": checks, "failing": failing}
    return JsonResponse(body, status=503 if failing else 200)


@require_GET
def healthz_live(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers. Touches nothing else, so it stays cheap."""
    return JsonResponse({"status": "ok"})
