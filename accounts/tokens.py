"""Your API tokens: create one (shown once, right after), see them all, revoke one.

Thin over api.services (which validates and audits) and api.selectors. A page that shows a
new token is never cached, so the browser's Back button cannot bring the token back."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_http_methods, require_POST

from accounts.forms import ApiTokenForm
from api.models import ApiToken
from api.selectors import token_companies, token_rows
from api.services import token_create, token_revoke
from erpsync.web import apply_errors

TEMPLATE = "accounts/api_tokens.html"


def _page(
    request: HttpRequest,
    form: ApiTokenForm | None = None,
    *,
    created: tuple[ApiToken, str] | None = None,
    notice: str = "",
    status: int = 200,
) -> HttpResponse:
    companies = token_companies(request.user)
    context: dict[str, Any] = {
        "form": form or ApiTokenForm(companies=companies),
        "has_companies": bool(companies),
        "rows": token_rows(request.user),
        "created": created,
        "notice": notice,
        "title": "API tokens",
        "breadcrumbs": [("Home", reverse("home")), ("API tokens", None)],
        "api_docs": reverse("api:docs"),
    }
    # htmx swaps the panel alone; a plain request gets the whole page.
    template = f"{TEMPLATE}#panel" if getattr(request, "htmx", False) else TEMPLATE
    response = render(request, template, context, status=status)
    add_never_cache_headers(response)
    return response


@login_required
@require_http_methods(["GET", "POST"])
def api_tokens(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _page(request)
    form = ApiTokenForm(request.POST, companies=token_companies(request.user))
    if form.is_valid():
        try:
            created = token_create(user=request.user, **form.service_kwargs())
        except ValidationError as error:
            apply_errors(form, error)
        else:
            # Rendered, not redirected: the raw token exists only in this one answer.
            return _page(request, created=created, status=201)
    return _page(request, form, status=422)


@login_required
@require_POST
def api_token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    token = ApiToken.objects.filter(pk=token_id, user=request.user).first()
    if token is None:
        raise Http404("No such API token of yours.")
    token_revoke(token=token, user=request.user)
    notice = f"Revoked “{token.name}” ({token.shown_prefix}): it no longer works."
    if getattr(request, "htmx", False):
        return _page(request, notice=notice)
    messages.success(request, notice)
    return redirect("api_tokens")
