"""Rate limits: per token and per user, reads and writes apart, anonymous per address; 429 as
a problem with Retry-After. Small limits through settings, counted in the real cache (Redis
under the test suite, as in production)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.core.exceptions import ImproperlyConfigured
from rest_framework.test import APIClient

from api.services import token_create
from api.throttling import parse_rate
from tests import factories as f
from tests.api_helpers import client_for
from tests.test_settings import load_settings, production_env, settings_env_names

pytestmark = pytest.mark.django_db

RATES = {
    "token_read": "3/min",
    "token_write": "2/min",
    "user_read": "5/min",
    "user_write": "10/min",
    "anon": "2/min",
}


@pytest.fixture(autouse=True)
def small_limits(settings: Any) -> None:
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": RATES}


def queue(company: Any) -> str:
    return f"/api/v1/companies/{company.slug}/sub-jobs/"


def test_the_counts_live_in_redis_under_the_test_suite(company: Any, approver: Any) -> None:
    assert isinstance(caches["default"], RedisCache)
    token, raw = token_create(user=approver, company=company, name="script")
    before = int(time.time() // 60)
    APIClient().get(queue(company), HTTP_AUTHORIZATION=f"Bearer {raw}")
    counted = [
        cache.get(f"api-throttle:token_read:{token.pk}:60:{window}")
        for window in (before, int(time.time() // 60))
    ]
    assert 1 in counted


def test_a_token_over_its_read_limit_gets_429_with_retry_after(company: Any, approver: Any) -> None:
    api = client_for(approver, company)
    for _ in range(3):
        assert api.get(queue(company)).status_code == 200
    refused = api.get(queue(company))
    assert refused.status_code == 429
    assert refused["Content-Type"] == "application/problem+json"
    wait = int(refused["Retry-After"])
    assert 1 <= wait <= 60
    problem = refused.json()
    assert problem["status"] == 429 and problem["retry_after"] == wait
    assert f"Retry in {wait} s" in problem["detail"]


def test_writes_are_counted_apart_from_reads(company: Any, approver: Any, sub_job: Any) -> None:
    api = client_for(approver, company)
    for _ in range(3):
        api.get(queue(company))
    assert api.get(queue(company)).status_code == 429
    accept = f"{queue(company)}{sub_job.pk}/accept/"
    # Not sent yet: refused by the item's state, but let through by the limit.
    answers = [api.post(accept, {"version": 1}, format="json").status_code for _ in range(3)]
    assert answers == [409, 409, 429]


def test_each_token_has_its_own_limit_and_the_user_one_over_all_of_them(
    company: Any, approver: Any
) -> None:
    first, second = client_for(approver, company), client_for(approver, company)
    for _ in range(3):
        assert first.get(queue(company)).status_code == 200
    assert first.get(queue(company)).status_code == 429
    # The second token is fresh, but the user has 5 reads a minute across all their tokens;
    # the refused read above counted too.
    assert second.get(queue(company)).status_code == 200
    assert second.get(queue(company)).status_code == 429
    # Another user is not affected.
    assert client_for(f.approver(company), company).get(queue(company)).status_code == 200


def test_a_browser_session_counts_against_its_user(company: Any, approver: Any) -> None:
    browser = APIClient()
    browser.force_login(approver)
    answers = [browser.get(queue(company)).status_code for _ in range(6)]
    assert answers == [200] * 5 + [429]


def test_requests_without_credentials_are_limited_per_address(client: Any) -> None:
    answers = [client.get("/api/v1/schema/").status_code for _ in range(3)]
    assert answers == [200, 200, 429]
    other_address = client.get("/api/v1/schema/", REMOTE_ADDR="192.0.2.7")
    assert other_address.status_code == 200


def test_replays_of_a_write_do_not_count_against_the_write_limit(
    company: Any, approver: Any, sub_job: Any
) -> None:
    api = client_for(approver, company)
    accept = f"{queue(company)}{sub_job.pk}/accept/"
    body = json.dumps({"version": 1})
    answers = [
        api.post(accept, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="a")
        for _ in range(4)
    ]
    assert [a.status_code for a in answers] == [409] * 4
    assert [a.get("Idempotent-Replayed") for a in answers] == [None, "true", "true", "true"]
    # One write counted of two: the next new write still goes through, the one after not.
    assert api.post(accept, body, content_type="application/json").status_code == 409
    assert api.post(accept, body, content_type="application/json").status_code == 429


@pytest.mark.parametrize(
    ("rate", "expected"), [("300/min", (300, 60)), ("5/s", (5, 1)), ("1000/day", (1000, 86400))]
)
def test_rates_read_like_drfs(rate: str, expected: tuple[int, int]) -> None:
    assert parse_rate(rate) == expected


# ----- where the counts live and how the limits are set, as settings.py reads them ----------


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> pytest.MonkeyPatch:
    for name in settings_env_names():
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ERPSYNC_VAR_DIR", str(tmp_path))
    return monkeypatch


def test_the_embedded_default_counts_in_local_memory(clean_env: pytest.MonkeyPatch) -> None:
    loaded = load_settings()
    assert loaded["CACHES"]["default"]["BACKEND"].endswith("LocMemCache")
    assert loaded["REST_FRAMEWORK"]["DEFAULT_THROTTLE_RATES"] == {
        "token_read": "1200/min",
        "token_write": "300/min",
        "user_read": "2400/min",
        "user_write": "600/min",
        "anon": "60/min",
    }


def test_production_counts_in_redis_the_brokers_or_cache_urls(
    clean_env: pytest.MonkeyPatch,
) -> None:
    for name, value in production_env().items():
        clean_env.setenv(name, value)
    cache_setting = load_settings()["CACHES"]["default"]
    assert cache_setting["BACKEND"].endswith("RedisCache")
    assert cache_setting["LOCATION"] == production_env()["CELERY_BROKER_URL"]
    clean_env.setenv("CACHE_URL", "redis://cache.internal:6379/3")
    clean_env.setenv("ERPSYNC_API_RATE_TOKEN_WRITE", " 50 / hour ")
    loaded = load_settings()
    assert loaded["CACHES"]["default"]["LOCATION"] == "redis://cache.internal:6379/3"
    assert loaded["REST_FRAMEWORK"]["DEFAULT_THROTTLE_RATES"]["token_write"] == "50/hour"


@pytest.mark.parametrize("bad", ["300", "fast", "0/min", "10/fortnight", "-1/s"])
def test_a_rate_that_cannot_be_read_stops_start_up(clean_env: pytest.MonkeyPatch, bad: str) -> None:
    clean_env.setenv("ERPSYNC_API_RATE_USER_READ", bad)
    with pytest.raises(ImproperlyConfigured, match="ERPSYNC_API_RATE_USER_READ"):
        load_settings()
