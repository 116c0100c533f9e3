"""The Webhooks pages of the company settings (ERP tool Admins only). Thin: reads in
webhooks.selectors, writes in webhooks.services. Another company's webhook answers 404."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings as django_settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from companysettings.access import settings_access
from companysettings.services import SettingsRefused
from companysettings.views import _context
from erpsync.web import apply_errors, refused
from projects.models import CompanyMembership
from webhooks import services
from webhooks.forms import SubscriptionForm
from webhooks.http import EVENT_ID_HEADER, EVENT_TYPE_HEADER, USER_AGENT
from webhooks.models import WebhookSubscription
from webhooks.selectors import LOG_SIZE, company_subscriptions, delivery_log

SECTION = "webhooks"
BAD_CURSOR = "This page link is damaged: open the webhook's delivery log again."


def _subscription(membership: CompanyMembership, pk: int) -> WebhookSubscription:
    found = company_subscriptions(membership.company).filter(pk=pk).first()
    if found is None:
        raise Http404("No such webhook in this company.")
    return found


def _page_context(membership: CompanyMembership, **extra: Any) -> dict[str, Any]:
    context = _context(membership, SECTION, **extra)
    company = membership.company
    context["breadcrumbs"][-1] = ("Webhooks", reverse("webhook_list", args=[company.slug]))
    return context


def _secret_page(
    request: HttpRequest, membership: CompanyMembership, new: services.NewSecret, created: bool
) -> HttpResponse:
    """The only page that ever shows the secret: answered to the POST, never cached."""
    context = _page_context(
        membership,
        subscription=new.subscription,
        secret=new.secret,
        created=created,
        headers={"id": EVENT_ID_HEADER, "type": EVENT_TYPE_HEADER, "agent": USER_AGENT},
    )
    return render(request, "webhooks/secret.html", context, status=201 if created else 200)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def webhook_list(request: HttpRequest, slug: str) -> HttpResponse:
    membership = settings_access(request.user, slug)
    company = membership.company
    form = SubscriptionForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                new = services.subscription_create(
                    company=company, user=request.user, **form.service_kwargs()
                )
            except ValidationError as error:
                apply_errors(form, error)
            else:
                return _secret_page(request, membership, new, created=True)
        status = 422
    context = _page_context(
        membership,
        subscriptions=list(company_subscriptions(company)),
        form=form,
        give_up_hours=django_settings.WEBHOOK_GIVE_UP_HOURS,
    )
    context["breadcrumbs"][-1] = ("Webhooks", None)
    return render(request, "webhooks/list.html", context, status=status)


def _before(request: HttpRequest) -> int | None:
    raw = request.GET.get("before")
    if raw is None:
        return None
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 18):
        raise ValueError(BAD_CURSOR)
    return int(raw)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def webhook_detail(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    membership = settings_access(request.user, slug)
    subscription = _subscription(membership, pk)
    try:
        before = _before(request)
    except ValueError as error:
        return refused(request, [str(error)], 400)
    form = SubscriptionForm(
        request.POST if request.method == "POST" else None, subscription=subscription
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.subscription_update(
                    company=membership.company,
                    user=request.user,
                    subscription_id=subscription.pk,
                    **form.service_kwargs(),
                )
            except services.SubscriptionNotFound:
                raise Http404("No such webhook in this company.") from None
            except ValidationError as error:
                apply_errors(form, error)
            else:
                messages.success(request, "Webhook saved.")
                return redirect("webhook_detail", slug, pk)
        status = 422
    log = delivery_log(subscription, before)
    context = _page_context(
        membership,
        subscription=subscription,
        form=form,
        deliveries=log[:LOG_SIZE],
        older=log[LOG_SIZE - 1].pk if len(log) > LOG_SIZE else None,
        paged=before is not None,
    )
    # The host alone: a URL's path and query may be long and unbroken.
    host = urlsplit(subscription.url).hostname or subscription.url
    context["breadcrumbs"].append((f"Webhook to {host}", None))
    return render(request, "webhooks/detail.html", context, status=status)


def _act(
    request: HttpRequest,
    slug: str,
    pk: int,
    action: Callable[..., Any],
    done: str,
    **kwargs: Any,
) -> tuple[CompanyMembership, Any] | HttpResponse:
    """Run one button's service on the company's webhook `pk`: its result, or the refusal."""
    membership = settings_access(request.user, slug)
    try:
        # The service takes the row in the company, or answers SubscriptionNotFound: no read
        # of it beforehand.
        result = action(company=membership.company, user=request.user, subscription_id=pk, **kwargs)
    except services.SubscriptionNotFound:
        raise Http404("No such webhook in this company.") from None
    except SettingsRefused as refusal:
        back = reverse("webhook_detail", args=[slug, pk])
        return refused(request, [refusal.message], refusal.status_code, back=back)
    if done:
        messages.success(request, done)
    return membership, result


def _act_and_return(
    request: HttpRequest, slug: str, pk: int, action: Callable[..., Any], done: str, **kwargs: Any
) -> HttpResponse:
    """A button that goes back to the webhook's page (or the refusal) once its service ran."""
    outcome = _act(request, slug, pk, action, done, **kwargs)
    return outcome if isinstance(outcome, HttpResponse) else redirect("webhook_detail", slug, pk)


@login_required
@require_POST
def webhook_active(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    value = request.POST.get("active")
    if value not in ("0", "1"):
        return refused(request, ["Choose Enable or Disable."], 400)
    active = value == "1"
    done = (
        "Webhook enabled: events are sent to it again."
        if active
        else "Webhook disabled: no events are sent to it."
    )
    return _act_and_return(request, slug, pk, services.subscription_set_active, done, active=active)


@never_cache
@login_required
@require_POST
def webhook_rotate(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    outcome = _act(request, slug, pk, services.subscription_rotate_secret, "")
    if isinstance(outcome, HttpResponse):
        return outcome
    membership, new = outcome
    return _secret_page(request, membership, new, created=False)


@login_required
@require_POST
def webhook_end_rotation(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    done = "Rotation ended: events are signed with the new secret only."
    return _act_and_return(request, slug, pk, services.subscription_end_rotation, done)


@login_required
@require_POST
def webhook_test(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    done = "Test event queued: its delivery shows in the log below in a moment."
    return _act_and_return(request, slug, pk, services.send_test_event, done)


@login_required
@require_POST
def webhook_delete(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    outcome = _act(request, slug, pk, services.subscription_delete, "Webhook deleted.")
    return outcome if isinstance(outcome, HttpResponse) else redirect("webhook_list", slug)
