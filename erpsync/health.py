"""Checks of what erpsync depends on, for /healthz: each answers "ok" or what went wrong."""

from __future__ import annotations

import redis
from django.conf import settings
from django.db import DatabaseError, connection

# A health check must answer quickly even when a dependency hangs.
TIMEOUT_SECONDS = 2.0


def check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as error:
        return f"unreachable: {error}".strip()
    return "ok"


def check_broker() -> str:
    try:
        client = redis.Redis.from_url(
            settings.CELERY_BROKER_URL,
            socket_connect_timeout=TIMEOUT_SECONDS,
            socket_timeout=TIMEOUT_SECONDS,
        )
        client.ping()
    except (redis.RedisError, OSError) as error:
        return f"unreachable: {error}".strip()
    return "ok"


def dependency_checks() -> dict[str, str]:
    """{part: "ok" or the error}: the database always, the broker when one is configured
    (the embedded default runs tasks in-process and has none)."""
    checks = {"database": check_database()}
    if settings.CELERY_BROKER_URL:
        checks["broker"] = check_broker()
    return checks
