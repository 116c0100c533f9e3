"""What the benches share: a PostgreSQL database of their own, created before a run and
dropped after it; Django set up as under the test runner; the machine the figures came from.

A bench calls use_database() before anything imports Django's settings."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


def use_database(name: str) -> str:
    """Point Django at the bench's own database, `name` on the local server unless
    BENCH_DATABASE_URL says otherwise; its URL."""
    url = os.environ.get("BENCH_DATABASE_URL", f"postgres://postgres@127.0.0.1:5432/{name}")
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DEBUG", "true")  # plain HTTP for the test client; timings: DEBUG off
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "erpsync.settings")
    return url


def _drop(url: str, *, create: bool) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    with psycopg.connect(parts._replace(path="/postgres").geturl(), autocommit=True) as conn:
        # FORCE: a step that failed may have left this process's connection open.
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create:
            conn.execute(f'CREATE DATABASE "{name}"')


def recreate_database(url: str) -> None:
    _drop(url, create=True)


def drop_database(url: str) -> None:
    _drop(url, create=False)


def setup_django() -> None:
    """Django with DEBUG off (as deployed) and the schema migrated; one database connection
    for the whole run, as under the test runner, so that a request's queries can be counted
    on it."""
    import django

    django.setup()
    from django.conf import settings
    from django.core import signals
    from django.core.management import call_command
    from django.db import close_old_connections

    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["testserver"]
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    call_command("migrate", verbosity=0)


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{n:.1f}" for n in os.getloadavg())
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, load {load}"


def load() -> str:
    """The load average now (1, 5, 15 minutes): the machine is shared, so each figure says
    how busy it was."""
    return "load " + ", ".join(f"{n:.2f}" for n in os.getloadavg())


def clone_rows(
    model: Any, template: Any, overrides: dict[str, str], source: str, where: str = "TRUE"
) -> int:
    """Insert copies of the saved row `template` of `model` in one INSERT … SELECT: every
    column as in the template except `overrides` ({column: SQL expression}), one row per row
    of `source` (a FROM clause beside the template's table `t`, e.g. "generate_series(1, 9)
    AS n") that `where` keeps. PostgreSQL builds the rows itself: 100,000 in a few seconds,
    where building them in Python for COPY took 30 s. Returns how many."""
    from django.db import connection

    quote = connection.ops.quote_name
    columns = [f.column for f in model._meta.concrete_fields if not f.primary_key]
    unknown = set(overrides) - set(columns)
    assert not unknown, unknown
    values = ", ".join(overrides.get(c, f"t.{quote(c)}") for c in columns)
    table = quote(model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(quote(c) for c in columns)}) "
            f"SELECT {values} FROM {table} t, {source} "
            f"WHERE t.{quote(model._meta.pk.column)} = %s AND ({where})",
            [template.pk],
        )
        return cursor.rowcount
