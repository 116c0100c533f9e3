"""/healthz checks what erpsync depends on; /healthz/live only that the process answers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.procs import RedisServer


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.mark.django_db
def test_healthz_is_ok_when_the_database_and_the_broker_answer(client: Any) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "broker": "ok"},
        "failing": [],
    }


@pytest.mark.django_db
def test_healthz_names_the_broker_when_it_is_down_and_recovers_with_it(
    client: Any, settings: Any, own_redis: RedisServer
) -> None:
    settings.CELERY_BROKER_URL = own_redis.url
    assert client.get("/healthz").status_code == 200

    own_redis.stop()
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail" and body["failing"] == ["broker"]
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["broker"].startswith("unreachable:")

    own_redis.start()
    assert client.get("/healthz").status_code == 200


@pytest.mark.django_db
def test_the_embedded_default_has_no_broker_to_check(client: Any, settings: Any) -> None:
    settings.CELERY_BROKER_URL = None
    assert client.get("/healthz").json()["checks"] == {"database": "ok"}


@pytest.mark.django_db
def test_liveness_stays_cheap_and_up_while_the_broker_is_down(client: Any, settings: Any) -> None:
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/healthz/live")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert len(queries) == 0
    assert client.get("/healthz").status_code == 503
