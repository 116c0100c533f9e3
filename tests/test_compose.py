"""The production docker-compose.yml and Dockerfile, checked by parsing them.

Docker cannot run on the development machines, so these tests read the files and check what
they name against the code: modules, attributes, management commands, options, and the
shared environment (which must pass `manage.py check --deploy`).
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import shlex
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from celery import Celery
from celery.app.utils import find_app
from celery.bin.celery import celery as celery_cli
from django.apps import apps
from django.conf import settings
from django.core.management import CommandError, get_commands, load_command_class
from gunicorn.config import Config as GunicornConfig

import erpsync
from tests.test_settings import clean_subprocess_env, settings_env_names

REPO = Path(__file__).resolve().parent.parent
COMPOSE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"

SERVICES = {"postgres", "redis", "web", "worker", "beat", "tryton"}
# The services built from our Dockerfile: they run erpsync's code.
APP_SERVICES = ("web", "worker", "beat")
PYTHONS = {"python", "python3", "python3.13"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


# ----- reading commands ---------------------------------------------------------------------


def simple_commands(command: str | list[str]) -> list[list[str]]:
    """The simple commands a compose `command` runs: an argv list, a string, or `sh -c SCRIPT`."""
    argv = shlex.split(command) if isinstance(command, str) else [str(arg) for arg in command]
    if len(argv) == 3 and argv[0] in {"sh", "/bin/sh", "bash", "/bin/bash"} and argv[1] == "-c":
        return split_script(argv[2])
    return [argv]


def split_script(script: str) -> list[list[str]]:
    """Split a shell script made of `a && b; c` into argv lists; `exec` is dropped."""
    lexer = shlex.shlex(script, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    commands: list[list[str]] = [[]]
    for token in lexer:
        if token in {"&&", ";"}:
            commands.append([])
        elif set(token) <= set("();<>|&"):
            raise ValueError(f"unsupported shell syntax {token!r} in {script!r}")
        else:
            commands[-1].append(token)
    commands = [argv for argv in commands if argv]
    return [argv[1:] if argv[0] == "exec" else argv for argv in commands]


# ----- checking what a command names --------------------------------------------------------


def target_problems(target: str) -> list[str]:
    """`module:attribute` must name an importable module that has that attribute."""
    module_name, _, attribute = target.partition(":")
    if not attribute:
        return [f"{target!r} is not module:attribute"]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        return [f"module {module_name!r} does not exist ({exc})"]
    if not hasattr(module, attribute):
        return [f"module {module_name!r} has no attribute {attribute!r}"]
    return []


def manage_py_problems(args: list[str]) -> list[str]:
    if not (REPO / "manage.py").is_file():
        return ["manage.py is missing from the repository"]
    if not args:
        return ["manage.py is run without a command"]
    name, options = args[0], args[1:]
    commands = get_commands()
    if name not in commands:
        return [f"management command {name!r} does not exist"]
    parser = load_command_class(commands[name], name).create_parser("manage.py", name)
    try:
        parser.parse_args(options)
    except CommandError as exc:
        return [f"manage.py {name}: {exc}"]
    return []


def gunicorn_problems(args: list[str]) -> list[str]:
    parsed, unknown = GunicornConfig().parser().parse_known_args(args)
    problems = [f"gunicorn has no option {option!r}" for option in unknown]
    if len(parsed.args) != 1:
        return [*problems, f"gunicorn needs exactly one app target, got {parsed.args}"]
    return problems + target_problems(parsed.args[0])


def _option_names(command: Any) -> set[str]:
    return {name for param in command.params for name in (*param.opts, *param.secondary_opts)}


def celery_problems(args: list[str]) -> list[str]:
    app_name, rest = None, list(args)
    while rest and rest[0].startswith("-"):
        option = rest.pop(0)
        if option in {"-A", "--app"} and rest:
            app_name = rest.pop(0)
        elif option.startswith("--app="):
            app_name = option.removeprefix("--app=")
        elif option.split("=", 1)[0] not in _option_names(celery_cli):
            return [f"celery has no option {option!r}"]
    if app_name is None:
        return ["celery is run without -A APP"]
    try:
        app = find_app(app_name)
    except (ImportError, AttributeError) as exc:
        return [f"celery app {app_name!r} does not exist ({exc})"]
    if not isinstance(app, Celery):
        return [f"{app_name!r} is not a Celery app"]
    if not rest or rest[0] not in celery_cli.commands:
        return [f"celery has no subcommand {rest[:1]}"]
    subcommand = celery_cli.commands[rest[0]]
    known = _option_names(subcommand)
    return [
        f"celery {rest[0]} has no option {token!r}"
        for token in rest[1:]
        if token.startswith("-") and token.split("=", 1)[0] not in known
    ]


def command_problems(argv: list[str]) -> list[str]:
    """What a simple command names that does not exist in this repository (empty: all good)."""
    program, args = Path(argv[0]).name, argv[1:]
    if program in PYTHONS and args[:1] == ["manage.py"]:
        return manage_py_problems(args[1:])
    if program in PYTHONS and args[:1] == ["-m"] and len(args) > 1:
        if importlib.util.find_spec(args[1]) is None:
            return [f"module {args[1]!r} does not exist"]
        return []
    if program == "gunicorn":
        return gunicorn_problems(args)
    if program == "celery":
        return celery_problems(args)
    return [f"{argv[0]!r} is not a program these tests know how to check"]


# ----- the services -------------------------------------------------------------------------


def test_compose_defines_the_five_services(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == SERVICES


def test_app_services_are_built_from_the_dockerfile(compose: dict[str, Any]) -> None:
    for name in APP_SERVICES:
        service = compose["services"][name]
        assert service["build"] == {"context": ".", "dockerfile": "Dockerfile"}, name
        assert service["image"] == compose["services"]["web"]["image"], name


def test_backing_services_are_postgres_15_and_redis_7_with_healthchecks(
    compose: dict[str, Any],
) -> None:
    postgres, redis = compose["services"]["postgres"], compose["services"]["redis"]

    assert postgres["image"] == "postgres:15"
    assert any(volume.endswith(":/var/lib/postgresql/data") for volume in postgres["volumes"])
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    assert redis["image"] == "redis:7"
    assert "ping" in redis["healthcheck"]["test"]


def test_every_service_command_names_modules_that_exist(compose: dict[str, Any]) -> None:
    problems = {
        name: [p for argv in simple_commands(service["command"]) for p in command_problems(argv)]
        for name, service in compose["services"].items()
        if "build" in service
    }

    assert set(problems) == set(APP_SERVICES)
    assert problems == {name: [] for name in APP_SERVICES}


def test_web_migrates_collects_static_files_and_serves_with_gunicorn(
    compose: dict[str, Any],
) -> None:
    commands = simple_commands(compose["services"]["web"]["command"])

    assert [argv[:3] for argv in commands] == [
        ["python", "manage.py", "migrate"],
        ["python", "manage.py", "collectstatic"],
        ["gunicorn", "erpsync.wsgi:application", "--bind"],
    ]
    assert "--noinput" in commands[0]
    assert "--noinput" in commands[1]
    assert commands[2][3:] == ["0.0.0.0:8000", "--workers", "3"]
    # gunicorn serves the collected files itself, through whitenoise.
    assert "whitenoise.middleware.WhiteNoiseMiddleware" in settings.MIDDLEWARE


def test_worker_and_beat_run_celery_on_the_app_django_loads(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert simple_commands(services["worker"]["command"]) == [
        ["celery", "-A", "erpsync", "worker", "--loglevel=INFO"]
    ]
    assert simple_commands(services["beat"]["command"]) == [
        [
            "celery",
            "-A",
            "erpsync",
            "beat",
            "--loglevel=INFO",
            "--schedule",
            "/tmp/celerybeat-schedule",
        ]
    ]
    # `.delay()` from Django code goes through erpsync.celery_app: the worker must serve it.
    assert find_app("erpsync") is erpsync.celery_app


# ----- the checker itself can fail ----------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["gunicorn", "erpsync.no_such_module:application"], "erpsync.no_such_module"),
        (["gunicorn", "erpsync.wsgi:no_such_attribute"], "no_such_attribute"),
        (["gunicorn", "erpsync.wsgi"], "module:attribute"),
        (["gunicorn", "erpsync.wsgi:application", "--no-such-flag"], "--no-such-flag"),
        (["python", "manage.py", "no_such_command"], "no_such_command"),
        (["python", "manage.py", "migrate", "--no-such-flag"], "--no-such-flag"),
        (["python", "-m", "no_such_module"], "no_such_module"),
        (["celery", "-A", "no_such_package", "worker"], "no_such_package"),
        (["celery", "-A", "erpsync", "no_such_subcommand"], "no_such_subcommand"),
        (["celery", "-A", "erpsync", "worker", "--no-such-flag"], "--no-such-flag"),
        (["celery", "worker"], "-A APP"),
        (["uwsgi", "--http", ":8000"], "uwsgi"),
    ],
)
def test_command_checker_reports_what_does_not_exist(argv: list[str], named: str) -> None:
    problems = command_problems(argv)

    assert problems, f"{argv} was accepted"
    assert named in " ".join(problems)


def test_command_checker_splits_shell_scripts_into_simple_commands() -> None:
    script = "python manage.py migrate --noinput && python manage.py check; exec gunicorn a:b"

    assert simple_commands(["sh", "-c", script]) == [
        ["python", "manage.py", "migrate", "--noinput"],
        ["python", "manage.py", "check"],
        ["gunicorn", "a:b"],
    ]
    with pytest.raises(ValueError, match="unsupported shell syntax"):
        simple_commands(["sh", "-c", "python manage.py migrate | tee log"])


# ----- the shared environment ---------------------------------------------------------------

_VARIABLE = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def interpolate(value: Any, environ: Mapping[str, str]) -> str:
    """Compose's `${NAME}`, `${NAME:-default}` and `${NAME:?error}` interpolation."""

    def replace(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        current = environ.get(name)
        if op in {":-", ":?"} and not current:
            current = None
        if current is not None:
            return current
        if op is None:
            return ""
        if op.endswith("?"):
            raise ValueError(f"{name} is required: {arg}")
        return arg

    return _VARIABLE.sub(replace, str(value).replace("$$", "\0")).replace("\0", "$")


def app_env(compose: dict[str, Any], environ: Mapping[str, str]) -> dict[str, str]:
    return {name: interpolate(value, environ) for name, value in compose["x-app-env"].items()}


def test_worker_and_beat_use_the_same_env_anchor_as_web(compose: dict[str, Any]) -> None:
    services = compose["services"]

    # A YAML alias (`environment: *app-env`) loads as the very same mapping.
    assert services["web"]["environment"] is compose["x-app-env"]
    assert services["worker"]["environment"] is compose["x-app-env"]
    assert services["beat"]["environment"] is compose["x-app-env"]


def test_app_env_points_at_the_compose_postgres_and_redis(compose: dict[str, Any]) -> None:
    env = app_env(compose, {"SECRET_KEY": "x", "ALLOWED_HOSTS": "erp.example.com"})
    postgres = compose["services"]["postgres"]["environment"]

    database = urlsplit(env["DATABASE_URL"])
    assert (database.scheme, database.hostname, database.port) == ("postgres", "postgres", 5432)
    assert database.username == postgres["POSTGRES_USER"]
    assert database.password == postgres["POSTGRES_PASSWORD"]
    assert database.path == f"/{postgres['POSTGRES_DB']}"
    broker = urlsplit(env["CELERY_BROKER_URL"])
    assert (broker.scheme, broker.hostname, broker.port) == ("redis", "redis", 6379)
    assert env["DEBUG"] == "false"
    assert env["SECURE_PROXY_SSL_HEADER"] == "true"
    assert env["EMAIL_URL"].startswith("smtp://")


def test_app_env_refuses_to_start_without_a_secret_key(compose: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="SECRET_KEY is required"):
        app_env(compose, {"ALLOWED_HOSTS": "erp.example.com"})
    with pytest.raises(ValueError, match="ALLOWED_HOSTS is required"):
        app_env(compose, {"SECRET_KEY": "x"})


def test_app_env_defaults_can_be_overridden(compose: dict[str, Any]) -> None:
    env = app_env(
        compose,
        {
            "SECRET_KEY": "x",
            "ALLOWED_HOSTS": "erp.example.com",
            "EMAIL_URL": "smtps://u:p@mail.example.com",
        },
    )

    assert env["EMAIL_URL"] == "smtps://u:p@mail.example.com"
    assert env["SECRET_KEY"] == "x"


def test_app_env_passes_deploy_checks(compose: dict[str, Any], tmp_path: Path) -> None:
    from django.core.management.utils import get_random_secret_key

    env = app_env(
        compose, {"SECRET_KEY": get_random_secret_key(), "ALLOWED_HOSTS": "erp.example.com"}
    )

    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO,
        env=clean_subprocess_env(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr


# ----- the Dockerfile -----------------------------------------------------------------------


def _dockerfile_instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def test_dockerfile_exists_and_runs_python_313_as_a_non_root_user() -> None:
    assert DOCKERFILE.is_file()
    instructions = _dockerfile_instructions()

    assert instructions[0] == ("FROM", "python:3.13-slim")
    users = [rest for keyword, rest in instructions if keyword == "USER"]
    assert users
    assert users[-1] not in {"root", "0"}
    assert ("EXPOSE", "8000") in instructions
    assert ("RUN", "pip install . && rm -rf build *.egg-info") in instructions


def test_dockerfile_copies_every_local_app_and_asset() -> None:
    copied: set[str] = set()
    for keyword, rest in _dockerfile_instructions():
        if keyword == "COPY":
            copied.update(source.rstrip("/") for source in rest.split()[:-1])
    # Our apps are top-level packages of the repository (installed ones live in site-packages).
    local_apps = {
        Path(config.path).name
        for config in apps.get_app_configs()
        if Path(config.path).parent == REPO
    }
    needed = local_apps | {"manage.py", "pyproject.toml", "README.md"}
    needed |= {str(Path(d).relative_to(REPO)) for d in settings.STATICFILES_DIRS}
    needed |= {str(Path(d).relative_to(REPO)) for t in settings.TEMPLATES for d in t["DIRS"]}

    assert {"erpsync", "projects", "subjobs", "invoicing", "approvals"} <= local_apps
    assert sorted(needed - copied) == []
    assert sorted(source for source in copied if not (REPO / source).exists()) == []


def test_compose_environment_names_only_variables_settings_reads(compose: dict[str, Any]) -> None:
    assert sorted(set(compose["x-app-env"]) - set(settings_env_names())) == []


def test_the_optional_tryton_service_runs_the_repos_build_script(compose: dict[str, Any]) -> None:
    tryton = compose["services"]["tryton"]
    assert tryton["profiles"] == ["tryton"]
    script = " ".join(tryton["command"])
    assert "/opt/erpsync/tryton/build.sh" in script and "trytond" in script
    assert "./tryton:/opt/erpsync/tryton:ro" in tryton["volumes"]
    assert (REPO / "tryton" / "build.sh").exists()
    assert tryton["environment"]["TRYTON_LISTEN_HOST"] == "0.0.0.0"
    # Its python:3.13-slim image has no npm, which Tryton's web client (sao) comes from.
    assert tryton["environment"]["TRYTON_SAO"] == "0"
