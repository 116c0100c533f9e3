"""Settings come from the environment alone: the embedded default and production mode.

Most tests execute erpsync/settings.py afresh with runpy under a monkeypatched environment
(fast, and the running Django keeps its own settings); a few run manage.py in a subprocess
with a clean environment, the way an operator starts the app.
"""

from __future__ import annotations

import ast
import json
import os
import runpy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import mailers
from django.core.management.utils import get_random_secret_key
from django.test import override_settings

from erpsync.config import (
    database_from_env,
    env_bool,
    env_int,
    env_list,
    mailers_from_env,
    redis_url_from_env,
)

REPO = Path(__file__).resolve().parent.parent
SETTINGS_FILE = REPO / "erpsync" / "settings.py"
README = REPO / "README.md"

# Django 6.1 deprecates these in favour of MAILERS, and refuses them next to MAILERS.
DEPRECATED_EMAIL_SETTINGS = {
    "EMAIL_BACKEND",
    "EMAIL_FILE_PATH",
    "EMAIL_HOST",
    "EMAIL_HOST_PASSWORD",
    "EMAIL_HOST_USER",
    "EMAIL_PORT",
    "EMAIL_SSL_CERTFILE",
    "EMAIL_SSL_KEYFILE",
    "EMAIL_TIMEOUT",
    "EMAIL_USE_SSL",
    "EMAIL_USE_TLS",
}

# The erpsync.config readers settings.py uses; each takes the variable's name first.
ENV_READERS = {
    "env_str",
    "env_bool",
    "env_int",
    "env_list",
    "env_rate",
    "database_from_env",
    "mailers_from_env",
    "redis_url_from_env",
}


def settings_env_names() -> list[str]:
    """Every environment variable erpsync/settings.py reads, in the order it reads them."""
    tree = ast.parse(SETTINGS_FILE.read_text())
    names: list[str] = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ENV_READERS
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and node.args[0].value not in names
        ):
            names.append(node.args[0].value)
    return names


def production_env() -> dict[str, str]:
    return {
        "DEBUG": "false",
        "SECRET_KEY": get_random_secret_key(),
        "ALLOWED_HOSTS": "erpsync.example.com",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/erpsync",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
        "EMAIL_URL": "smtp://127.0.0.1:25",
    }


def clean_subprocess_env(var_dir: Path, **overrides: str) -> dict[str, str]:
    """os.environ without any variable settings.py reads, plus ERPSYNC_VAR_DIR and overrides."""
    env = dict(os.environ)
    for name in settings_env_names():
        env.pop(name, None)
    env["DJANGO_SETTINGS_MODULE"] = "erpsync.settings"
    env["ERPSYNC_VAR_DIR"] = str(var_dir)
    env.update(overrides)
    return env


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    for name in settings_env_names():
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ERPSYNC_VAR_DIR", str(tmp_path))
    return monkeypatch


def load_settings() -> dict[str, Any]:
    """Execute erpsync/settings.py against the current environment and return its names."""
    return runpy.run_path(str(SETTINGS_FILE))


# ----- the helpers these tests rely on ------------------------------------------------------


def test_settings_reads_the_environment_only_through_erpsync_config() -> None:
    source = SETTINGS_FILE.read_text()
    assert "os.environ" not in source
    assert "getenv" not in source
    names = settings_env_names()
    for expected in ("DATABASE_URL", "CELERY_BROKER_URL", "EMAIL_URL", "SECRET_KEY", "DEBUG"):
        assert expected in names


def test_readme_configuration_table_lists_every_variable_settings_reads() -> None:
    readme = README.read_text()
    missing = [name for name in settings_env_names() if f"| `{name}` |" not in readme]
    assert missing == []


# ----- the two modes, as manage.py sees them ------------------------------------------------

SHOW_SETTINGS = """
import json
from django.conf import settings
from django.core.mail import mailers
from erpsync import celery_app
mailer = mailers.default
print("SETTINGS=" + json.dumps({
    "engine": settings.DATABASES["default"]["ENGINE"],
    "db_name": str(settings.DATABASES["default"]["NAME"]),
    "debug": settings.DEBUG,
    "broker": settings.CELERY_BROKER_URL,
    "eager": settings.CELERY_TASK_ALWAYS_EAGER,
    "celery_broker_url": celery_app.conf.broker_url,
    "mailer": type(mailer).__module__ + "." + type(mailer).__name__,
    "mail_dir": str(mailer.file_path),
    "email_backend_overridden": settings.is_overridden("EMAIL_BACKEND"),
}))
"""


def test_embedded_default_passes_check_with_sqlite_eager_celery_and_file_email(
    tmp_path: Path,
) -> None:
    env = clean_subprocess_env(tmp_path)

    check = manage("check", env=env)
    assert check.returncode == 0, check.stderr
    assert "System check identified no issues" in check.stdout

    shell = manage("shell", "-c", SHOW_SETTINGS, env=env)
    assert shell.returncode == 0, shell.stderr
    line = next(x for x in shell.stdout.splitlines() if x.startswith("SETTINGS="))
    shown = json.loads(line.removeprefix("SETTINGS="))
    assert shown == {
        "engine": "django.db.backends.sqlite3",
        "db_name": str(tmp_path / "erpsync.sqlite3"),
        "debug": True,
        "broker": None,
        "eager": True,
        "celery_broker_url": "memory://",
        "mailer": "erpsync.mail.FileEmailBackend",
        "mail_dir": str(tmp_path / "mail"),
        "email_backend_overridden": False,
    }


def test_production_settings_pass_deploy_checks_at_warning_level(tmp_path: Path) -> None:
    env = clean_subprocess_env(tmp_path, **production_env())

    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_bad_value_stops_manage_py_at_start_up_naming_the_variable(tmp_path: Path) -> None:
    env = clean_subprocess_env(tmp_path, DEBUG="maybe")

    result = manage("check", env=env)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "DEBUG='maybe' is not a boolean" in result.stderr


# ----- production mode, settings by settings ------------------------------------------------


def test_production_mode_uses_postgres_with_persistent_checked_connections(
    clean_env: pytest.MonkeyPatch,
) -> None:
    for name, value in production_env().items():
        clean_env.setenv(name, value)

    ns = load_settings()

    db = ns["DATABASES"]["default"]
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert (db["NAME"], db["HOST"], db["PORT"], db["USER"]) == (
        "erpsync",
        "127.0.0.1",
        5432,
        "postgres",
    )
    assert db["CONN_MAX_AGE"] == 60
    assert db["CONN_HEALTH_CHECKS"] is True
    assert ns["DEBUG"] is False
    assert ns["ALLOWED_HOSTS"] == ["erpsync.example.com"]
    assert ns["SECURE_SSL_REDIRECT"] is True
    assert ns["SECURE_HSTS_SECONDS"] == 31_536_000
    assert ns["STORAGES"]["staticfiles"]["BACKEND"] == (
        "whitenoise.storage.CompressedManifestStaticFilesStorage"
    )


def test_database_conn_max_age_is_read_for_postgres(clean_env: pytest.MonkeyPatch) -> None:
    for name, value in production_env().items():
        clean_env.setenv(name, value)
    clean_env.setenv("DATABASE_CONN_MAX_AGE", "0")

    assert load_settings()["DATABASES"]["default"]["CONN_MAX_AGE"] == 0


def test_proxy_ssl_header_is_trusted_only_when_asked(clean_env: pytest.MonkeyPatch) -> None:
    for name, value in production_env().items():
        clean_env.setenv(name, value)
    assert "SECURE_PROXY_SSL_HEADER" not in load_settings()

    clean_env.setenv("SECURE_PROXY_SSL_HEADER", "true")
    assert load_settings()["SECURE_PROXY_SSL_HEADER"] == ("HTTP_X_FORWARDED_PROTO", "https")


# ----- Celery -------------------------------------------------------------------------------


def test_celery_runs_tasks_eagerly_without_a_broker(clean_env: pytest.MonkeyPatch) -> None:
    ns = load_settings()

    assert ns["CELERY_BROKER_URL"] is None
    assert ns["CELERY_TASK_ALWAYS_EAGER"] is True


def test_celery_queues_tasks_on_the_broker_when_one_is_set(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")

    ns = load_settings()

    assert ns["CELERY_BROKER_URL"] == "redis://127.0.0.1:6379/0"
    assert ns["CELERY_TASK_ALWAYS_EAGER"] is False


def test_eager_mode_can_still_be_forced_with_a_broker(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
    clean_env.setenv("CELERY_TASK_ALWAYS_EAGER", "true")

    assert load_settings()["CELERY_TASK_ALWAYS_EAGER"] is True


def test_turning_eager_mode_off_without_a_broker_fails(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("CELERY_TASK_ALWAYS_EAGER", "false")

    with pytest.raises(ImproperlyConfigured, match="CELERY_BROKER_URL"):
        load_settings()


# ----- email --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "options"),
    [
        ("smtp://127.0.0.1:25", {"host": "127.0.0.1", "port": 25, "timeout": 10}),
        ("smtp://mail.example.com", {"host": "mail.example.com", "port": 25, "timeout": 10}),
        (
            "smtp://app%40example.com:p%40ss@smtp.example.com:587?tls=true",
            {
                "host": "smtp.example.com",
                "port": 587,
                "timeout": 10,
                "username": "app@example.com",
                "password": "p@ss",
                "use_tls": True,
            },
        ),
        (
            "smtp+tls://smtp.example.com:587?timeout=30",
            {"host": "smtp.example.com", "port": 587, "timeout": 30, "use_tls": True},
        ),
        (
            "smtps://user:secret@smtp.example.com",
            {
                "host": "smtp.example.com",
                "port": 465,
                "timeout": 10,
                "username": "user",
                "password": "secret",
                "use_ssl": True,
            },
        ),
    ],
)
def test_email_url_maps_smtp_onto_mailers(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, url: str, options: dict[str, Any]
) -> None:
    monkeypatch.setenv("EMAIL_URL", url)

    mailers_setting = mailers_from_env("EMAIL_URL", default_dir=tmp_path)

    assert mailers_setting == {
        "default": {"BACKEND": "django.core.mail.backends.smtp.EmailBackend", "OPTIONS": options}
    }


def test_django_builds_the_smtp_mailer_from_those_options(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("EMAIL_URL", "smtps://user:secret@smtp.example.com:2465")

    with override_settings(MAILERS=mailers_from_env("EMAIL_URL", default_dir=tmp_path)):
        mailer = mailers.default

    assert (mailer.host, mailer.port, mailer.username, mailer.password) == (
        "smtp.example.com",
        2465,
        "user",
        "secret",
    )
    assert mailer.use_ssl is True
    assert mailer.use_tls is False


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (None, {"BACKEND": "erpsync.mail.FileEmailBackend"}),
        ("file:///srv/mail", {"BACKEND": "erpsync.mail.FileEmailBackend"}),
        ("console://", {"BACKEND": "django.core.mail.backends.console.EmailBackend"}),
    ],
)
def test_email_url_maps_files_and_console_onto_mailers(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, url: str | None, expected: dict[str, str]
) -> None:
    if url is None:
        monkeypatch.delenv("EMAIL_URL", raising=False)
    else:
        monkeypatch.setenv("EMAIL_URL", url)

    default = mailers_from_env("EMAIL_URL", default_dir=tmp_path / "mail")["default"]

    assert default["BACKEND"] == expected["BACKEND"]
    if default["BACKEND"] == "erpsync.mail.FileEmailBackend":
        wanted = "/srv/mail" if url else str(tmp_path / "mail")
        assert default["OPTIONS"] == {"file_path": wanted}


@pytest.mark.parametrize("email_url", [None, "smtp://127.0.0.1:25"])
def test_settings_define_mailers_and_no_deprecated_email_setting(
    clean_env: pytest.MonkeyPatch, email_url: str | None
) -> None:
    if email_url:
        clean_env.setenv("EMAIL_URL", email_url)

    ns = load_settings()

    assert "MAILERS" in ns
    assert sorted(DEPRECATED_EMAIL_SETTINGS & ns.keys()) == []


# ----- bad values fail at start-up, naming the variable -------------------------------------

PROD_DB = {"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/erpsync"}


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"DEBUG": "maybe"}, "DEBUG"),
        ({"DATABASE_URL": "mysql://x/y"}, "DATABASE_URL"),
        ({"CELERY_BROKER_URL": "amqp://x"}, "CELERY_BROKER_URL"),
        ({"EMAIL_URL": "ftp://x"}, "EMAIL_URL"),
        ({**PROD_DB, "DATABASE_CONN_MAX_AGE": "abc"}, "DATABASE_CONN_MAX_AGE"),
        ({"DEBUG": "false", "ALLOWED_HOSTS": "erpsync.example.com"}, "SECRET_KEY"),
        ({"ERP_DEFAULT_ADAPTER": "nope"}, "ERP_DEFAULT_ADAPTER"),
        ({"DEBUG": "false", "SECRET_KEY": get_random_secret_key()}, "ALLOWED_HOSTS"),
        ({"SECURE_HSTS_SECONDS": "-1"}, "SECURE_HSTS_SECONDS"),
        ({"EMAIL_URL": "smtp://:25"}, "EMAIL_URL"),
        ({"DATABASE_URL": "postgres://127.0.0.1:5432"}, "DATABASE_URL"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_bad_value_fails_at_start_up_naming_the_variable(
    clean_env: pytest.MonkeyPatch, env: dict[str, str], variable: str
) -> None:
    for name, value in env.items():
        clean_env.setenv(name, value)

    with pytest.raises(ImproperlyConfigured, match=rf"\b{variable}\b"):
        load_settings()


def test_a_good_environment_loads_without_error(clean_env: pytest.MonkeyPatch) -> None:
    # The failures above come from the bad value, not from the way the tests load settings.
    for name, value in production_env().items():
        clean_env.setenv(name, value)

    assert load_settings()["ERP_DEFAULT_ADAPTER"] == "sandbox"


# ----- erpsync.config readers ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("true", True), ("1", True), (" Yes ", True), ("on", True), ("FALSE", False), ("0", False)],
)
def test_env_bool_reads_the_usual_spellings(
    monkeypatch: pytest.MonkeyPatch, raw: str, expected: bool
) -> None:
    monkeypatch.setenv("ERPSYNC_TEST_FLAG", raw)

    assert env_bool("ERPSYNC_TEST_FLAG", not expected) is expected


def test_blank_values_count_as_unset(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("ERPSYNC_TEST_FLAG", "ERPSYNC_TEST_INT", "ERPSYNC_TEST_LIST", "ERPSYNC_TEST_DB"):
        monkeypatch.setenv(name, "  ")

    assert env_bool("ERPSYNC_TEST_FLAG", True) is True
    assert env_int("ERPSYNC_TEST_INT", 7) == 7
    assert env_list("ERPSYNC_TEST_LIST", ["a"]) == ["a"]
    assert redis_url_from_env("ERPSYNC_TEST_DB") is None
    assert database_from_env("ERPSYNC_TEST_DB", default_sqlite=tmp_path / "x.db") == {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(tmp_path / "x.db"),
    }


def test_env_list_splits_on_commas_and_drops_blanks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ERPSYNC_TEST_LIST", " a.example.com, ,b.example.com ")

    assert env_list("ERPSYNC_TEST_LIST", []) == ["a.example.com", "b.example.com"]


def test_env_int_enforces_its_minimum(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ERPSYNC_TEST_INT", "59")

    with pytest.raises(ImproperlyConfigured, match="ERPSYNC_TEST_INT=59 must be at least 60"):
        env_int("ERPSYNC_TEST_INT", 3600, minimum=60)


def test_redis_url_accepts_tls_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ERPSYNC_TEST_BROKER", "rediss://:secret@cache.example.com:6380/0")

    assert redis_url_from_env("ERPSYNC_TEST_BROKER") == "rediss://:secret@cache.example.com:6380/0"


def test_a_killed_workers_export_resumes_within_two_minutes_by_default(
    clean_env: pytest.MonkeyPatch,
) -> None:
    """The defaults once let an item wait for the 300 s lease plus a 300 s sweeper; now the
    lease plus one sweep interval stays under two minutes, and retry countdowns stay below
    half the visibility timeout so Redis never delivers a waiting retry twice."""
    s = load_settings()
    bound = s["ERP_EXPORT_LEASE_SECONDS"] + s["ERP_SWEEP_EVERY_SECONDS"]
    assert bound <= 120
    assert s["ERP_SWEEP_AFTER_SECONDS"] <= s["ERP_EXPORT_LEASE_SECONDS"]
    assert s["ERP_EXPORT_BACKOFF_MAX_SECONDS"] * 1.5 < s["CELERY_VISIBILITY_TIMEOUT"]
    assert s["CELERY_VISIBILITY_TIMEOUT"] <= 600
    assert s["ERPSYNC_EMAIL_SWEEP_SECONDS"] <= 60
    schedule = s["CELERY_BEAT_SCHEDULE"]
    assert schedule["erp-sweep-exports"]["schedule"] == s["ERP_SWEEP_EVERY_SECONDS"]
    assert schedule["erp-sweep-emails"]["task"] == "erpsync.tasks.sweep_emails"
