"""What the API platform adds around every view: Django's own error pages as problems under
/api/v1/, and the schema documenting the platform's answers for every operation."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import path
from drf_spectacular.generators import SchemaGenerator

from api.services import token_create
from erpsync.urls import handler404, handler500
from erpsync.urls import urlpatterns as app_urlpatterns

pytestmark = pytest.mark.django_db

__all__ = ["handler404", "handler500", "urlpatterns"]


def crash(request: Any) -> Any:
    raise RuntimeError("a bug, on purpose")


urlpatterns = [path("api/v1/test-crash/", crash), *app_urlpatterns]


def test_an_address_no_api_route_matches_is_a_404_problem(client: Client) -> None:
    for address in ("/api/v1/nowhere/", "/api/v1/companies/x/sub-jobs/not-a-number/"):
        response = client.get(address)
        assert response.status_code == 404
        assert response["Content-Type"] == "application/problem+json"
        problem = response.json()
        assert problem["status"] == 404 and problem["instance"] == address
        assert "/api/v1/docs/" in problem["detail"]


def test_outside_the_api_the_apps_own_pages_stay(client: Client) -> None:
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.urls("tests.test_api_platform")
def test_a_crash_under_the_api_is_a_500_problem_not_an_html_page() -> None:
    response = Client(raise_request_exception=False).get("/api/v1/test-crash/")
    assert response.status_code == 500
    assert response["Content-Type"] == "application/problem+json"
    assert "a bug" not in response.content.decode()  # nothing of the error leaks


def test_malformed_json_is_a_400_problem(client: Client, approver: Any, company: Any) -> None:
    _, raw = token_create(user=approver, company=company, name="script")
    response = client.post(
        f"/api/v1/companies/{company.slug}/sub-jobs/1/accept/",
        "{nope",
        content_type="application/json",
        headers={"Authorization": f"Bearer {raw}"},
    )
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert "JSON parse error" in response.json()["detail"]


@pytest.fixture(scope="module")
def operations() -> list[tuple[str, str, dict[str, Any]]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return [
        (route, method, operation)
        for route, methods in schema["paths"].items()
        for method, operation in methods.items()
    ]


def test_every_operation_documents_401_and_429_with_retry_after(operations: Any) -> None:
    for route, method, operation in operations:
        responses = operation["responses"]
        assert {"401", "429"} <= set(responses), (method, route)
        assert "Retry-After" in responses["429"]["headers"]


def test_every_error_is_documented_as_a_problem(operations: Any) -> None:
    for route, _method, operation in operations:
        for code, response in operation["responses"].items():
            if code[0] in "45":
                assert list(response["content"]) == ["application/problem+json"], (route, code)


def test_every_write_documents_the_idempotency_key_and_its_answers(operations: Any) -> None:
    writes = [(r, m, o) for r, m, o in operations if m in ("post", "put", "patch", "delete")]
    assert writes
    for route, method, operation in writes:
        names = [(p["in"], p["name"]) for p in operation.get("parameters", [])]
        assert ("header", "Idempotency-Key") in names, (method, route)
        assert {"403", "409", "422"} <= set(operation["responses"])
        ok = [c for c in operation["responses"] if c.startswith("2")]
        assert all("Idempotent-Replayed" in operation["responses"][c]["headers"] for c in ok)
        if "requestBody" in operation:
            assert {"400", "415"} <= set(operation["responses"]), (method, route)
