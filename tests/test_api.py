"""The REST API's items: token authentication, reads, actions, refusals as problem details."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from api.services import token_create, token_revoke
from erpsync.models import ErpEvent
from erpsync.services import erp_send
from tests import factories as f
from tests.api_helpers import client_for, url

pytestmark = pytest.mark.django_db


def test_a_token_reads_the_queue_and_an_item_with_its_snapshot_and_history(
    company: Any, sub_job: Any, admin: Any, approver: Any
) -> None:
    erp_send(item=sub_job, user=admin)
    api = client_for(approver, company)
    response = api.get(url(company, "sub-jobs/"), {"queue": "ready"})
    assert response.status_code == 200, response.content
    [row] = response.json()["results"]
    assert (row["id"], row["state"], row["version"]) == (sub_job.pk, "pending", 1)
    assert row["snapshot"]["code"] == sub_job.code
    detail = api.get(row["url"]).json()
    assert [h["action"] for h in detail["history"]] == ["send"]
    assert detail["sent"]["name"]


def test_accept_needs_the_version_reviewed_and_a_stale_one_is_a_409_naming_who_acted(
    company: Any, sub_job: Any, admin: Any, approver: Any
) -> None:
    erp_send(item=sub_job, user=admin)
    api = client_for(approver, company)
    response = api.post(url(company, f"sub-jobs/{sub_job.pk}/accept/"), {}, format="json")
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert "version" in response.json()["errors"]
    response = api.post(
        url(company, f"sub-jobs/{sub_job.pk}/accept/"), {"version": 1}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["state"] in ("accepted", "synced")
    again = api.post(url(company, f"sub-jobs/{sub_job.pk}/accept/"), {"version": 1}, format="json")
    assert again.status_code == 409
    problem = again.json()
    assert problem["status"] == 409 and problem["acted_by"] and problem["acted_at"]


def test_reject_without_a_reason_is_422_and_changes_nothing(
    company: Any, sub_job: Any, admin: Any, approver: Any
) -> None:
    erp_send(item=sub_job, user=admin)
    api = client_for(approver, company)
    before = ErpEvent.objects.count()
    response = api.post(
        url(company, f"sub-jobs/{sub_job.pk}/reject/"), {"reason": " "}, format="json"
    )
    assert response.status_code == 422
    assert response.json()["errors"]["reason"]
    assert ErpEvent.objects.count() == before


def test_another_companys_items_and_a_token_of_another_company_answer_404(
    company: Any, sub_job: Any, admin: Any, approver: Any
) -> None:
    other = f.CompanyFactory()
    f.CompanyMembershipFactory(company=other, user=approver, can_push_to_accounting=True)
    elsewhere = client_for(approver, other)
    assert elsewhere.get(url(company, "sub-jobs/")).status_code == 404
    assert elsewhere.get(url(company, f"sub-jobs/{sub_job.pk}/")).status_code == 404
    stranger = client_for(f.approver(other), other)
    assert stranger.get(url(company, f"sub-jobs/{sub_job.pk}/")).status_code == 404


def test_a_read_only_token_reads_but_cannot_act(
    company: Any, sub_job: Any, admin: Any, approver: Any
) -> None:
    erp_send(item=sub_job, user=admin)
    api = client_for(approver, company, read_only=True)
    assert api.get(url(company, "sub-jobs/")).status_code == 200
    response = api.post(
        url(company, f"sub-jobs/{sub_job.pk}/accept/"), {"version": 1}, format="json"
    )
    assert response.status_code == 403
    assert "read-only" in response.json()["detail"]
    sub_job.refresh_from_db()
    assert sub_job.erp_state == "pending"


def test_a_token_grants_no_more_than_its_user_has(company: Any, sub_job: Any, admin: Any) -> None:
    erp_send(item=sub_job, user=admin)
    api = client_for(admin, company)  # a project admin, not an accounting approver
    response = api.post(
        url(company, f"sub-jobs/{sub_job.pk}/accept/"), {"version": 1}, format="json"
    )
    assert response.status_code == 403
    sub_job.refresh_from_db()
    assert sub_job.erp_state == "pending"


def test_revoked_expired_and_garbled_tokens_are_401(company: Any, approver: Any) -> None:
    token, raw = token_create(user=approver, company=company, name="x")
    api = APIClient()
    for header in ("Bearer nonsense", "Bearer esk_abc_def", f"Bearer {raw}x", "Bearer a b"):
        api.credentials(HTTP_AUTHORIZATION=header)
        response = api.get(url(company, "sub-jobs/"))
        assert response.status_code == 401, header
        assert response["WWW-Authenticate"].startswith("Bearer")
    token_revoke(token=token, user=approver)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get(url(company, "sub-jobs/")).status_code == 401


def test_a_bad_filter_is_422_with_the_field(company: Any, approver: Any) -> None:
    api = client_for(approver, company)
    response = api.get(url(company, "sub-jobs/"), {"state": "nope", "sent_from": "yesterday"})
    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"state", "sent_from"}


def test_the_schema_and_its_docs_are_served_without_a_cdn(client: Any, approver: Any) -> None:
    client.force_login(approver)
    assert client.get("/api/v1/schema/").status_code == 200
    for page in ("/api/v1/docs/", "/api/v1/redoc/"):
        html = client.get(page).content.decode()
        assert "cdn" not in html.lower() and "//unpkg" not in html
