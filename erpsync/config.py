"""Reading settings from the environment.

Every reader raises ImproperlyConfigured naming the variable, so that a typo in a
deployment fails at start-up instead of silently becoming a default.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
# One .eml file per message, named by time, kind and recipient (a dotted path: the shell
# names the core's backend without importing it).
FILE_BACKEND = "erpsync.mail.FileEmailBackend"
_FALSE = {"0", "false", "no", "off"}


def _raw(name: str) -> str | None:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return None
    return value.strip()


def env_str(name: str, default: str | None = None) -> str | None:
    value = _raw(name)
    return default if value is None else value


def env_bool(name: str, default: bool) -> bool:
    value = _raw(name)
    if value is None:
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean: use true or false.")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    value = _raw(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a whole number.") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={number} must be at least {minimum}.")
    return number


_RATE_PERIODS = {"s", "sec", "second", "m", "min", "minute", "h", "hour", "d", "day"}


def env_rate(name: str, default: str) -> str:
    """A DRF throttle rate: "<requests>/<period>", the period one of s, min, hour, day."""
    value = _raw(name) or default
    count, _, period = value.replace(" ", "").partition("/")
    if not count.isdigit() or int(count) < 1 or period not in _RATE_PERIODS:
        raise ImproperlyConfigured(
            f"{name}={value!r} is not a rate: use <requests>/<period>, e.g. 300/min "
            "(period: s, min, hour or day)."
        )
    return f"{int(count)}/{period}"


def env_list(name: str, default: list[str]) -> list[str]:
    value = _raw(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def database_from_env(name: str, *, default_sqlite: Path) -> dict[str, Any]:
    value = _raw(name)
    if value is None:
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": str(default_sqlite)}
    scheme = value.split(":", 1)[0]
    if scheme not in {"postgres", "postgresql", "pgsql", "sqlite"}:
        raise ImproperlyConfigured(
            f"{name} must be a postgres:// or sqlite:// URL, got scheme {scheme!r}."
        )
    try:
        config = environ.Env.db_url_config(value)
    except Exception as exc:
        raise ImproperlyConfigured(f"{name} is not a valid database URL: {exc}") from exc
    if config["ENGINE"].endswith("postgresql") and not config.get("NAME"):
        raise ImproperlyConfigured(f"{name} must name a database (postgres://host/NAME).")
    return config


def redis_url_from_env(name: str) -> str | None:
    value = _raw(name)
    if value is None:
        return None
    if urlsplit(value).scheme not in {"redis", "rediss"}:
        raise ImproperlyConfigured(f"{name} must be a redis:// or rediss:// URL, got {value!r}.")
    return value


def mailers_from_env(name: str, *, default_dir: Path) -> dict[str, dict[str, Any]]:
    """Map EMAIL_URL onto Django 6.1's MAILERS.

    smtp://user:pass@host:port (STARTTLS with ?tls=true), smtps://… (implicit TLS),
    file:///path (one .eml file per message, named by time, kind and recipient:
    erpsync.mail.FileEmailBackend), console:// (stdout).
    Unset: files under var/mail/, the embedded default.
    """
    value = _raw(name)
    if value is None:
        return {"default": {"BACKEND": FILE_BACKEND, "OPTIONS": {"file_path": str(default_dir)}}}
    parts = urlsplit(value)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    if parts.scheme in {"smtp", "smtps", "smtp+tls"}:
        if not parts.hostname:
            raise ImproperlyConfigured(f"{name} must name a host: smtp://host:port.")
        try:
            port = parts.port
        except ValueError:
            raise ImproperlyConfigured(f"{name} has an invalid port.") from None
        options: dict[str, Any] = {
            "host": parts.hostname,
            "port": port or (465 if parts.scheme == "smtps" else 25),
            "timeout": int(query.get("timeout", "10")),
        }
        if parts.username:
            options["username"] = unquote(parts.username)
            options["password"] = unquote(parts.password or "")
        if parts.scheme == "smtps":
            options["use_ssl"] = True
        elif parts.scheme == "smtp+tls" or query.get("tls", "").lower() in _TRUE:
            options["use_tls"] = True
        return {
            "default": {
                "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "OPTIONS": options,
            }
        }
    if parts.scheme == "file":
        return {
            "default": {
                "BACKEND": FILE_BACKEND,
                "OPTIONS": {"file_path": unquote(parts.path) or str(default_dir)},
            }
        }
    if parts.scheme == "console":
        return {"default": {"BACKEND": "django.core.mail.backends.console.EmailBackend"}}
    raise ImproperlyConfigured(
        f"{name} must be smtp://, smtps://, smtp+tls://, file:// or console://, "
        f"got scheme {parts.scheme!r}."
    )
