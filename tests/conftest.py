from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests import factories as f
from tests.drive import drive_to
from tests.procs import running_worker


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), 3
        ):
            return True
    except OSError:
        return False


def pytest_sessionstart(session: pytest.Session) -> None:
    """The suite runs on real PostgreSQL and Redis: a missing service fails the run, loudly."""
    database_url = os.environ.get("DATABASE_URL", "")
    broker_url = os.environ.get("CELERY_BROKER_URL", "")
    problems = []
    if not database_url.startswith(("postgres://", "postgresql://")):
        problems.append("DATABASE_URL must point at PostgreSQL (make test sets it).")
    elif not _reachable(database_url, 5432):
        problems.append(f"PostgreSQL is not reachable at {urlsplit(database_url).netloc}.")
    if not broker_url.startswith("redis://"):
        problems.append("CELERY_BROKER_URL must point at Redis (make test sets it).")
    elif not _reachable(broker_url, 6379):
        problems.append(f"Redis is not reachable at {urlsplit(broker_url).netloc}.")
    if problems:
        pytest.exit("Cannot run the tests: " + " ".join(problems), returncode=3)


@pytest.fixture
def worker(settings: Any) -> Iterator[None]:
    """A real Celery worker for the test (see tests.procs.running_worker); a failed export is
    retried at once rather than after the production backoff."""
    settings.ERP_EXPORT_BACKOFF_SECONDS = 0
    with running_worker():
        yield


@pytest.fixture
def company() -> Any:
    return f.CompanyFactory()


@pytest.fixture
def project(company: Any) -> Any:
    return f.ProjectFactory(company=company, erp_synced=True, erp_job_id="JOB-1")


@pytest.fixture
def admin(project: Any) -> Any:
    return f.member(project, admin=True)


@pytest.fixture
def approver(company: Any) -> Any:
    return f.approver(company)


@pytest.fixture
def viewer(project: Any) -> Any:
    return f.member(project, admin=False)


@pytest.fixture
def sub_job(project: Any, admin: Any) -> Any:
    return f.SubJobFactory(project=project, status="approved", created_by=admin)


@pytest.fixture
def invoice(project: Any, admin: Any) -> Any:
    return f.invoice_ready_to_send(project=project, user=admin)


@pytest.fixture(params=["sub_job", "invoice"])
def item(request: pytest.FixtureRequest) -> Any:
    """Each kind of ERP item, ready to send, so shared behaviour is tested on both."""
    return request.getfixturevalue(request.param)


@pytest.fixture
def drive(admin: Any, approver: Any) -> Any:
    def _drive(item: Any, state: str) -> Any:
        return drive_to(item, state, sender=admin, approver=approver)

    return _drive


# ----- figures the reliability tests measure, printed at the end of every run ---------------

FIGURES: list[str] = []


@pytest.fixture
def report_figure() -> Any:
    """`report_figure(line)`: a measured figure, printed in the run's summary (even with -q)."""
    return FIGURES.append


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if FIGURES:
        terminalreporter.section("figures measured by this run")
        for line in FIGURES:
            terminalreporter.write_line(line)
