"""The embedded demo as a developer runs it: `make run PORT=…` and `make demo-reset`.

These run the real Makefile targets in a subprocess with a clean environment (SQLite under a
temporary ERPSYNC_VAR_DIR, eager tasks, mail files), using this interpreter's virtualenv
(`VENV=…`, and `-o` so that make never reinstalls it).
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection

from tests.test_settings import clean_subprocess_env

REPO = Path(__file__).resolve().parent.parent
VENV = Path(sys.prefix)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make(*args: str, env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "-s", "-o", str(VENV / ".installed"), f"VENV={VENV}", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def mail_files(var_dir: Path) -> list[Path]:
    return sorted((var_dir / "mail").glob("*.eml"))


def users_in(database: Path) -> set[str]:
    with sqlite3.connect(database) as db:
        return {row[0] for row in db.execute("SELECT username FROM auth_user")}


def get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except OSError:
        return 0


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[int, Path, Path]]:
    """`make run PORT=<a free port>` in the background: (port, var dir, its log)."""
    port, log = free_port(), tmp_path / "run.log"
    var_dir = tmp_path / "var"
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["make", "-s", "-o", str(VENV / ".installed"), f"VENV={VENV}", "run", f"PORT={port}"],
            cwd=REPO,
            env=clean_subprocess_env(var_dir),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 120
        while get(f"http://127.0.0.1:{port}/healthz/live") != 200:
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.25)
        yield port, var_dir, log
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)


def test_make_run_serves_on_the_port_given_and_the_demo_emails_link_to_it(
    served: tuple[int, Path, Path],
) -> None:
    port, var_dir, log = served

    assert get(f"http://127.0.0.1:{port}/login/") == 200
    assert "Demo logins (password for all: erpsync-demo)" in log.read_text()
    mails = mail_files(var_dir)
    assert mails, "seed_demo's decisions send emails"
    for path in mails:
        text = path.read_text()
        assert f"http://127.0.0.1:{port}/" in text, path.name
        assert "http://127.0.0.1:8000/" not in text, path.name


def test_make_demo_reset_rebuilds_the_database_and_the_mail_files(tmp_path: Path) -> None:
    env = clean_subprocess_env(tmp_path)
    first = make("demo-reset", env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    database = tmp_path / "erpsync.sqlite3"
    with sqlite3.connect(database) as db:
        db.execute(
            "INSERT INTO auth_user (username, password, is_superuser, first_name, last_name, "
            "email, is_staff, is_active, date_joined) "
            "VALUES ('stray', '', 0, '', '', '', 0, 1, '2026-01-01')"
        )
    before = {p.name for p in mail_files(tmp_path)}
    (tmp_path / "mail" / "20200101-000000-000000_old_someone@example.com.eml").write_text("x")
    (tmp_path / "mail" / "notes.txt").write_text("not a mail file")

    second = make("demo-reset", env=env)

    assert second.returncode == 0, second.stdout + second.stderr
    assert "Demo logins (password for all: erpsync-demo)" in second.stdout
    assert "approver" in second.stdout and "Serve it with: make run" in second.stdout
    assert users_in(database) == {"admin", "approver", "controller", "viewer", "collab", "outsider"}
    after = {p.name for p in mail_files(tmp_path)}
    assert after and not after & before  # only the new demo's emails
    assert (tmp_path / "mail" / "notes.txt").exists()


def test_make_demo_reset_refuses_a_postgresql_database_without_force(tmp_path: Path) -> None:
    (tmp_path / "mail").mkdir()
    kept = tmp_path / "mail" / "20200101-000000-000000_old_someone@example.com.eml"
    kept.write_text("x")
    env = clean_subprocess_env(tmp_path, DATABASE_URL="postgres://postgres@127.0.0.1:1/real")

    result = make("demo-reset", env=env)

    assert result.returncode != 0
    assert "refusing to reset: DATABASE_URL points at PostgreSQL" in result.stderr
    assert "FORCE=1" in result.stderr
    assert kept.exists()


@pytest.mark.django_db
def test_seed_demo_reset_refuses_postgresql_without_force_and_changes_nothing() -> None:
    call_command("seed_demo", stdout=StringIO())
    users = get_user_model().objects.count()

    with pytest.raises(CommandError, match="Refusing to reset: DATABASE_URL points at the Post"):
        call_command("seed_demo", "--reset", stdout=StringIO())

    assert get_user_model().objects.count() == users


@pytest.fixture
def scratch_database() -> Iterator[dict[str, Any]]:
    """A PostgreSQL database of this test's own beside the test database, dropped after."""
    db = connection.settings_dict
    params = {
        "host": db["HOST"] or "127.0.0.1",
        "port": db["PORT"] or 5432,
        "user": db["USER"],
        "password": db["PASSWORD"] or None,
    }
    name = f"{db['NAME']}_reset"
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield {**params, "dbname": name}
    finally:
        with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_seed_demo_reset_with_force_wipes_a_postgresql_demo_database(
    tmp_path: Path, scratch_database: dict[str, Any]
) -> None:
    p = scratch_database
    url = f"postgres://{p['user']}@{p['host']}:{p['port']}/{p['dbname']}"
    env = clean_subprocess_env(tmp_path, DATABASE_URL=url, DEBUG="true")
    manage = [sys.executable, "manage.py", "seed_demo", "--reset", "--force"]
    first = subprocess.run(manage, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    assert first.returncode == 0, first.stderr
    with psycopg.connect(autocommit=True, **p) as db:
        db.execute(
            "INSERT INTO auth_user (username, password, is_superuser, first_name, last_name, "
            "email, is_staff, is_active, date_joined) "
            "VALUES ('stray', '', false, '', '', '', false, true, now())"
        )

    second = subprocess.run(manage, cwd=REPO, env=env, capture_output=True, text=True, check=False)

    assert second.returncode == 0, second.stderr
    assert f"flushed the PostgreSQL database {p['dbname']}" in second.stdout
    assert "Demo logins" in second.stdout
    with psycopg.connect(autocommit=True, **p) as db:
        users = {row[0] for row in db.execute("SELECT username FROM auth_user")}
    assert users == {"admin", "approver", "controller", "viewer", "collab", "outsider"}
