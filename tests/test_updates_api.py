"""Ready to Update through the API and event webhooks: a synced sub job's PATCH of its name is
an update request, as its page's rename is (the same service, the same refusals), and each
step of a request is an event."""

from __future__ import annotations

from typing import Any

import pytest

from erpsync.models import UpdateRequest
from erpsync.updates import erp_accept_update, erp_reject_update, erp_request_update
from tests import factories as f
from tests.api_helpers import client_for, url
from tests.updating import send_update, synced
from webhooks.models import EventType, WebhookDelivery, WebhookSubscription

pytestmark = pytest.mark.django_db


@pytest.fixture
def synced_sub_job(sub_job: Any, admin: Any, approver: Any) -> Any:
    sub_job.name = "Concrete"
    sub_job.save()
    return synced(sub_job, admin, approver)


def test_patching_a_synced_sub_jobs_name_requests_an_update(
    company: Any, synced_sub_job: Any, admin: Any, approver: Any
) -> None:
    path = url(company, f"sub-jobs/{synced_sub_job.pk}/")
    response = client_for(admin, company).patch(path, {"name": "Cast Concrete"}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["state"] == "synced" and body["sub_job"]["name"] == "Cast Concrete"
    update = body["update_request"]
    assert (update["number"], update["state"]) == (1, "pending")
    assert update["changes"] == {"name": {"erp": "Concrete", "requested": "Cast Concrete"}}
    key = f"erpsync:sub_job:{synced_sub_job.pk}:v1:u1"
    assert update["idempotency_key"] == key
    assert update["requested_by"]["id"] == admin.pk and update["decided_by"] is None
    assert UpdateRequest.objects.get().state == "pending"
    # The approver reads the same request on the item.
    read = client_for(approver, company).get(path).json()
    assert read["update_request"]["changes"] == update["changes"]


def test_a_synced_sub_jobs_code_cannot_change_and_nothing_is_saved(
    company: Any, synced_sub_job: Any, admin: Any
) -> None:
    api = client_for(admin, company)
    path = url(company, f"sub-jobs/{synced_sub_job.pk}/")
    response = api.patch(path, {"code": "99-999", "name": "X"}, format="json")
    assert response.status_code == 422, response.content
    assert "cannot change: it is its key in the ERP" in response.json()["errors"]["code"][0]
    response = api.patch(path, {"code": synced_sub_job.code}, format="json")
    assert response.status_code == 422 and "name" in response.json()["errors"]
    synced_sub_job.refresh_from_db()
    assert synced_sub_job.name == "Concrete" and not UpdateRequest.objects.exists()


def test_an_adapter_that_cannot_update_refuses_with_its_reason(
    company: Any, synced_sub_job: Any, admin: Any
) -> None:
    company.erp_adapter = "webhook"
    company.erp_settings = {"url": "http://127.0.0.1:9/", "secret": "s" * 32}
    company.save()
    path = url(company, f"sub-jobs/{synced_sub_job.pk}/")
    response = client_for(admin, company).patch(path, {"name": "Cast"}, format="json")
    assert response.status_code == 409, response.content
    assert "cannot be updated through it" in response.json()["detail"]
    assert not UpdateRequest.objects.exists()


def test_a_project_viewer_cannot_request_an_update(
    company: Any, synced_sub_job: Any, project: Any
) -> None:
    viewer = f.member(project, admin=False)
    path = url(company, f"sub-jobs/{synced_sub_job.pk}/")
    assert client_for(viewer, company).patch(path, {"name": "X"}, format="json").status_code == 403
    assert not UpdateRequest.objects.exists()


def test_update_requests_are_announced_to_webhook_subscribers(
    company: Any, synced_sub_job: Any, admin: Any, approver: Any
) -> None:
    hooked = [e.value for e in EventType if e.value.startswith("item.update_")]
    subscription = WebhookSubscription.objects.create(
        company=company, url="http://127.0.0.1:9/hook", events=hooked, secret="s"
    )
    deaf = WebhookSubscription.objects.create(
        company=company, url="http://127.0.0.1:9/other", events=["item.synced"], secret="s"
    )
    request = erp_request_update(item=synced_sub_job, user=admin, values={"name": "Cast"})
    assert request is not None
    erp_reject_update(request=request, user=approver, reason="Keep Concrete.")
    second = erp_request_update(
        item=type(synced_sub_job).objects.get(pk=synced_sub_job.pk),
        user=admin,
        values={"name": "Poured Concrete"},
    )
    assert second is not None
    erp_accept_update(request=second, user=approver, expected_revision=second.revision)
    assert send_update(second) == "synced"

    rows = WebhookDelivery.objects.filter(subscription=subscription).order_by("pk")
    assert [r.event_type for r in rows] == [
        "item.update_requested",
        "item.update_rejected",
        "item.update_requested",
        "item.update_accepted",
        "item.update_synced",
    ]
    rejected = rows[1].payload["data"]
    assert rejected["update_request"]["reason"] == "Keep Concrete."
    assert rejected["item"]["state"] == "synced"
    synced_row = rows[4].payload["data"]["update_request"]
    assert synced_row["state"] == "synced"
    assert synced_row["changes"] == {"name": {"erp": "Concrete", "requested": "Poured Concrete"}}
    assert not WebhookDelivery.objects.filter(subscription=deaf).exists()
