"""The Webhooks pages of the company settings: who may open them, what each button does and
audits, the secret shown once, and bad input answered with reasons, never a 500."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from erpsync.models import ErpEvent
from erpsync.services import erp_send
from projects.models import Company, ToolLevel
from tests import factories as f
from tests.settings_pages import client_for, text, url
from tests.test_webhooks import Receiver, receiver  # noqa: F401 - the receiver
from webhooks.models import WebhookDelivery, WebhookSubscription
from webhooks.outbox import deliver

pytestmark = pytest.mark.django_db


def audit_changes() -> list[dict[str, Any]]:
    return [e.details["changes"] for e in ErpEvent.objects.filter(action="edit").order_by("pk")]


@pytest.fixture
def erp_admin(company: Any) -> Any:
    return f.approver(company, erp_tool_level=ToolLevel.ADMIN, can_push_to_accounting=False)


@pytest.fixture
def hook(company: Any, erp_admin: Any) -> WebhookSubscription:
    return WebhookSubscription.objects.create(
        company=company,
        url="https://hooks.example.com/erpsync",
        events=["item.sent"],
        secret="whsec_the-current-one",
        created_by=erp_admin,
    )


def create(client: Client, company: Company, **data: Any) -> Any:
    return client.post(url("webhook_list", company), data)


# ----- who may open the pages ---------------------------------------------------------------


def test_an_admin_opens_the_pages_from_the_settings_tabs(
    company: Any, erp_admin: Any, hook: WebhookSubscription
) -> None:
    client = client_for(erp_admin)
    page = client.get(url("settings_dictionary", company))
    assert url("webhook_list", company) in text(page)
    listing = client.get(url("webhook_list", company))
    assert listing.status_code == 200
    assert hook.url in text(listing) and 'data-settings-tab="webhooks"' in text(listing)
    detail = client.get(url("webhook_detail", company, hook.pk))
    assert detail.status_code == 200
    assert "data-send-test" in text(detail)
    assert hook.secret not in text(listing) + text(detail)


@pytest.mark.parametrize("name", ["list", "detail", "active", "rotate", "test", "delete"])
def test_an_approver_is_refused_and_another_company_is_not_found(
    company: Any, approver: Any, hook: WebhookSubscription, name: str
) -> None:
    route = {"list": ("webhook_list",)}.get(name, (f"webhook_{name}", hook.pk))
    before = list(WebhookSubscription.objects.values_list("url", "active", "secret", "events"))
    data = {"active": "0", "url": "https://x.example.com/", "events": ["item.sent"]}
    refused = client_for(approver).post(url(route[0], company, *route[1:]), data)
    assert refused.status_code == 403
    assert "Admins of the company's ERP Integrations tool" in text(refused)

    stranger = f.approver(f.CompanyFactory(), erp_tool_level=ToolLevel.ADMIN)
    assert client_for(stranger).post(url(route[0], company, *route[1:]), data).status_code == 404
    assert client_for(stranger).get(url("webhook_list", company)).status_code == 404

    assert (
        list(WebhookSubscription.objects.values_list("url", "active", "secret", "events")) == before
    )
    assert WebhookDelivery.objects.count() == 0 and audit_changes() == []


def test_an_admin_of_another_company_cannot_reach_this_companys_webhook_through_their_own(
    hook: WebhookSubscription,
) -> None:
    other = f.CompanyFactory()
    admin = f.approver(other, erp_tool_level=ToolLevel.ADMIN)
    client = client_for(admin)
    for name in ("webhook_detail", "webhook_test", "webhook_delete", "webhook_rotate"):
        method = client.get if name == "webhook_detail" else client.post
        assert method(url(name, other, hook.pk)).status_code == 404
    assert WebhookSubscription.objects.filter(pk=hook.pk).exists()


# ----- adding one: the secret shown once ------------------------------------------------------


def test_adding_a_webhook_shows_its_secret_once_and_audits_it(company: Any, erp_admin: Any) -> None:
    client = client_for(erp_admin)
    response = create(
        client, company, url=" https://hooks.example.com/in ", events=["item.accepted", "item.sent"]
    )
    assert response.status_code == 201
    assert response["Cache-Control"].startswith("max-age=0")
    subscription = WebhookSubscription.objects.get()
    assert subscription.url == "https://hooks.example.com/in"
    assert subscription.events == ["item.sent", "item.accepted"]  # in the page's order
    assert subscription.secret.startswith("whsec_") and len(subscription.secret) > 40
    assert subscription.secret in text(response)
    assert "it is not shown again" in text(response)
    # Never again: not on the list, the webhook's page, nor in the audit row.
    for page in ("webhook_list", "webhook_detail"):
        args = (subscription.pk,) if page == "webhook_detail" else ()
        assert subscription.secret not in text(client.get(url(page, company, *args)))
    [changes] = audit_changes()
    assert changes == {"webhook": ["", "https://hooks.example.com/in (item.sent, item.accepted)"]}
    event = ErpEvent.objects.get()
    assert event.actor == erp_admin and subscription.secret not in str(event.details)
    audit = text(client.get(url("audit_log", company)))
    assert "Webhook" in audit and "https://hooks.example.com/in" in audit


@pytest.mark.parametrize(
    ("data", "field", "reason"),
    [
        ({"url": "", "events": ["item.sent"]}, "url", "This field is required."),
        ({"url": "ftp://example.com/x", "events": ["item.sent"]}, "url", "must start with http"),
        ({"url": "hooks.example.com", "events": ["item.sent"]}, "url", "http://"),
        ({"url": "http://", "events": ["item.sent"]}, "url", "has no host"),
        ({"url": "http://exa mple.com/", "events": ["item.sent"]}, "url", "not a valid"),
        ({"url": "http://example.com:99999/", "events": ["item.sent"]}, "url", "not a valid"),
        ({"url": "https://x.example.com/" + "a" * 600, "events": ["item.sent"]}, "url", "500"),
        ({"url": "https://hooks.example.com/"}, "events", "Choose at least one event."),
        ({"url": "https://hooks.example.com/", "events": ["item.deleted"]}, "events", "valid"),
        ({"url": "https://hooks.example.com/", "events": ""}, "events", "valid choice"),
    ],
)
def test_bad_input_is_refused_with_its_reason_and_saves_nothing(
    company: Any, erp_admin: Any, data: dict[str, Any], field: str, reason: str
) -> None:
    response = create(client_for(erp_admin), company, **data)
    assert response.status_code == 422
    page = text(response)
    assert f'data-field-error="{field}"' in page and reason in page
    assert not WebhookSubscription.objects.exists() and audit_changes() == []


def test_a_bad_delivery_log_cursor_is_a_400(
    company: Any, erp_admin: Any, hook: WebhookSubscription
) -> None:
    client = client_for(erp_admin)
    for cursor in ("abc", "-1", "١٢", "9" * 30):
        response = client.get(url("webhook_detail", company, hook.pk), {"before": cursor})
        assert response.status_code == 400, cursor
    assert client.get(url("webhook_detail", company, 999999)).status_code == 404


# ----- changing one ---------------------------------------------------------------------------


def test_editing_events_and_url_is_audited_and_bad_input_keeps_the_old(
    company: Any, erp_admin: Any, hook: WebhookSubscription
) -> None:
    client = client_for(erp_admin)
    page = url("webhook_detail", company, hook.pk)
    refused = client.post(page, {"url": hook.url})
    assert refused.status_code == 422 and "Choose at least one event." in text(refused)
    hook.refresh_from_db()
    assert hook.events == ["item.sent"]

    saved = client.post(page, {"url": hook.url, "events": ["item.rejected", "item.synced"]})
    assert saved.status_code == 302
    hook.refresh_from_db()
    assert hook.events == ["item.rejected", "item.synced"]
    assert audit_changes() == [
        {
            "webhook_events": [
                f"{hook.url}: item.sent",
                f"{hook.url}: item.rejected, item.synced",
            ]
        }
    ]
    client.post(page, {"url": "http://127.0.0.1:8080/in", "events": hook.events})
    hook.refresh_from_db()
    assert hook.url == "http://127.0.0.1:8080/in"
    assert audit_changes()[-1] == {
        "webhook_url": ["https://hooks.example.com/erpsync", "http://127.0.0.1:8080/in"]
    }


def test_disable_then_enable_is_audited_and_starts_the_failure_count_over(
    company: Any, erp_admin: Any, hook: WebhookSubscription
) -> None:
    client = client_for(erp_admin)
    action = url("webhook_active", company, hook.pk)
    assert client.post(action, {"active": "maybe"}).status_code == 400
    assert client.post(action, {"active": "0"}).status_code == 302
    hook.refresh_from_db()
    assert not hook.active and hook.disabled_reason == "Disabled by an Admin."
    page = text(client.get(url("webhook_detail", company, hook.pk)))
    assert "Enable the webhook to send a test event." in page
    # A forged test event for a disabled webhook: refused with the reason.
    refused = client.post(url("webhook_test", company, hook.pk))
    assert refused.status_code == 409 and "enable it to send a test event" in text(refused)

    WebhookSubscription.objects.filter(pk=hook.pk).update(consecutive_failures=7)
    assert client.post(action, {"active": "1"}).status_code == 302
    hook.refresh_from_db()
    assert (hook.active, hook.consecutive_failures, hook.disabled_at) == (True, 0, None)
    assert [list(c) for c in audit_changes()] == [["webhook_active"], ["webhook_active"]]
    assert audit_changes()[0]["webhook_active"] == [f"{hook.url}: Enabled", f"{hook.url}: Disabled"]


def test_rotating_shows_the_new_secret_once_and_keeps_the_old_one_signing(
    company: Any, erp_admin: Any, hook: WebhookSubscription
) -> None:
    client = client_for(erp_admin)
    response = client.post(url("webhook_rotate", company, hook.pk))
    assert response.status_code == 200
    hook.refresh_from_db()
    assert hook.previous_secret == "whsec_the-current-one"
    assert hook.secret in text(response) and hook.previous_secret not in text(response)
    assert hook.secrets() == [hook.secret, "whsec_the-current-one"]
    page = text(client.get(url("webhook_detail", company, hook.pk)))
    assert "data-rotation" in page and hook.secret not in page

    client.post(url("webhook_end_rotation", company, hook.pk))
    hook.refresh_from_db()
    assert hook.secrets() == [hook.secret]
    secrets = str([e.details for e in ErpEvent.objects.all()])
    assert hook.secret not in secrets and "whsec_the-current-one" not in secrets
    assert [list(c) for c in audit_changes()] == [["webhook_secret"], ["webhook_previous_secret"]]


def test_deleting_removes_the_webhook_and_its_log_and_is_audited(
    company: Any, erp_admin: Any, hook: WebhookSubscription, sub_job: Any, admin: Any
) -> None:
    erp_send(item=sub_job, user=admin)
    assert WebhookDelivery.objects.count() == 1
    response = client_for(erp_admin).post(url("webhook_delete", company, hook.pk))
    assert response.status_code == 302 and response["Location"] == url("webhook_list", company)
    assert not WebhookSubscription.objects.exists() and not WebhookDelivery.objects.exists()
    assert audit_changes() == [{"webhook": [f"{hook.url} (item.sent)", ""]}]


# ----- the test event ----------------------------------------------------------------------


def test_send_test_event_goes_through_the_outbox_to_the_receiver(
    company: Any,
    erp_admin: Any,
    receiver: Receiver,  # noqa: F811
) -> None:
    client = client_for(erp_admin)
    create(client, company, url=receiver.url, events=["item.synced"])
    subscription = WebhookSubscription.objects.get()
    receiver.secrets = [subscription.secret]
    response = client.post(url("webhook_test", company, subscription.pk))
    assert response.status_code == 302
    [row] = WebhookDelivery.objects.all()
    assert row.event_type == "webhook.test" and row.state == "pending"
    assert deliver(row.pk) == "delivered"
    [request] = receiver.received
    assert request.refusal == ""
    body = request.json()
    assert (body["type"], body["company"], body["data"]["test"]) == (
        "webhook.test",
        company.slug,
        True,
    )
    page = text(client.get(url("webhook_detail", company, subscription.pk)))
    assert 'data-state="delivered"' in page and "Test event" in page
    assert "from the test receiver" in page  # the answer's excerpt


def test_the_delivery_log_pages_back_through_older_rows(
    company: Any, erp_admin: Any, hook: WebhookSubscription
) -> None:
    WebhookDelivery.objects.bulk_create(
        WebhookDelivery(subscription=hook, event_type="item.sent", payload={"n": n})
        for n in range(55)
    )
    client = client_for(erp_admin)
    first = text(client.get(url("webhook_detail", company, hook.pk)))
    assert first.count("data-delivery=") == 50 and "data-older" in first
    oldest_shown = WebhookDelivery.objects.order_by("-pk")[49].pk
    second = text(
        client.get(url("webhook_detail", company, hook.pk), {"before": str(oldest_shown)})
    )
    assert second.count("data-delivery=") == 5 and "data-older" not in second
