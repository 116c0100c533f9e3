"""Ready to Update through the API: a synced sub job's PATCH of its name is an update request,
as its page's rename is (the same service, the same refusals)."""

from __future__ import annotations

from typing import Any

import pytest

from erpsync.models import UpdateRequest
from tests import factories as f
from tests.api_helpers import client_for, url
from tests.updating import synced

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
