"""The app's 403, 404 and 500 pages (urls.py's handlers and erpsync.middleware)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseServerError
from django.shortcuts import render
from django.template import loader


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    reason = str(exception) if exception and str(exception) else ""
    template = "refused.html#message" if getattr(request, "htmx", False) else "403.html"
    context = {"reason": reason, "title": "Not allowed", "reasons": [reason or "Not allowed."]}
    return render(request, template, context, status=403)


def not_found_page(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "404.html", {"path": request.path}, status=404)


def server_error_page(request: HttpRequest) -> HttpResponse:
    # No request context: a 500 may come from the database or a context processor itself.
    return HttpResponseServerError(loader.get_template("500.html").render())
