"""A client with a personal API token, and the API's URLs, for the API tests."""

from __future__ import annotations

from typing import Any

from rest_framework.test import APIClient

from api.services import token_create


def client_for(user: Any, company: Any, **token: Any) -> APIClient:
    _, raw = token_create(user=user, company=company, name="test", **token)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def url(company: Any, path: str) -> str:
    return f"/api/v1/companies/{company.slug}/{path}"
