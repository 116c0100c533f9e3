"""The API's contract, checked by schemathesis against the live schema (`/api/v1/schema/`, as
the app serves it), authenticated with a seeded user's token: every operation, with generated
valid and invalid input, must answer no 5xx, only documented status codes and content types,
and bodies and headers that match the schema.

`make contract` runs this file alone (and `.ci/run` runs it as its own step), with
ERPSYNC_CONTRACT_EXAMPLES examples per operation (default 25; more for a deeper run). The
runs are derandomised so a failure in CI reproduces locally; ERPSYNC_CONTRACT_RANDOM=1 draws
new cases each run.

Path parameters mostly name the seeded company and its items, so that actions reach items in
every state rather than 404 after 404; every seventh case keeps its generated value.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.access import kind_path
from api.services import token_create
from projects.models import ToolLevel
from tests import factories as f
from tests.drive import drive_to

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("ERPSYNC_CONTRACT_EXAMPLES", "25"))
RANDOM = os.environ.get("ERPSYNC_CONTRACT_RANDOM") == "1"
# Partly approved last: driving an item there makes the company ask for two approvals.
STATES = (
    "not_sent",
    "pending",
    "retrieved",
    "rejected",
    "accepted",
    "synced",
    "export_failed",
    "partially_approved",
)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@dataclass
class Seeded:
    company: str = ""
    ids: dict[str, list[int]] = field(default_factory=dict)  # kind path → item ids
    authorization: str = ""


SEEDED = Seeded()


def _seed() -> Seeded:
    """A company with items of every kind in every state, and a user who may do everything
    there (sends as a project Admin, decides as an accounting approver and tool Admin)."""
    company = f.CompanyFactory()
    project = f.ProjectFactory(company=company, erp_synced=True, erp_job_id="JOB-1")
    sender = f.member(project, admin=True)
    approver = f.approver(company)
    user = f.approver(company, erp_tool_level=ToolLevel.ADMIN)
    f.ProjectMembershipFactory(project=project, user=user, **f.ADMIN_ALL)
    ids: dict[str, list[int]] = {}
    for state in STATES:
        for item in (
            f.SubJobFactory(project=project, status="approved", created_by=sender),
            f.invoice_ready_to_send(project=project, user=sender),
        ):
            drive_to(item, state, sender=sender, approver=approver)
            ids.setdefault(kind_path(item.erp_kind), []).append(item.pk)
    _, raw = token_create(user=user, company=company, name="contract tests")
    return Seeded(company=company.slug, ids=ids, authorization=f"Bearer {raw}")


@pytest.fixture
def seeded(settings: Any) -> Iterator[Seeded]:
    # Thousands of requests a minute from one token: the limits are tested elsewhere.
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": dict.fromkeys(
            ("token_read", "token_write", "user_read", "user_write", "anon"), "100000/min"
        ),
    }
    seeded = _seed()
    # As Django's test client does: the WSGI handler must not close the test's connection
    # (and its transaction) at the end of each request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    SEEDED.company, SEEDED.ids, SEEDED.authorization = (
        seeded.company,
        seeded.ids,
        seeded.authorization,
    )
    try:
        yield seeded
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
        SEEDED.company, SEEDED.ids, SEEDED.authorization = "", {}, ""


@schemathesis.hook
def map_path_parameters(context: Any, path_parameters: dict[str, Any]) -> dict[str, Any]:
    if not SEEDED.company or path_parameters is None:
        return path_parameters
    mapped = dict(path_parameters)
    if "company" in mapped and zlib.crc32(repr(mapped).encode()) % 7:
        mapped["company"] = SEEDED.company
    item_id = mapped.get("id")
    segment = next((s for s in SEEDED.ids if f"/{s}/" in context.operation.path), None)
    if segment and isinstance(item_id, int) and item_id % 7:
        ids = SEEDED.ids[segment]
        mapped["id"] = ids[item_id % len(ids)]
    return mapped


# The live schema, as the app serves it to anyone (no database needed to build it). Loaded
# when the module is collected: schemathesis makes one test per operation from it.
schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", get_wsgi_application())


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not RANDOM,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_keeps_its_contract(case: Any, seeded: Seeded) -> None:
    case.call_and_validate(headers={"Authorization": seeded.authorization}, checks=CHECKS)


def test_the_schema_validates_without_warnings() -> None:
    """`manage.py spectacular --validate --fail-on-warn`, in a process of its own: warnings
    collected by other tests' schema generation must not count here."""
    result = subprocess.run(
        [sys.executable, "manage.py", "spectacular", "--validate", "--fail-on-warn"],
        cwd=Path(__file__).resolve().parent.parent,
        env={**os.environ, "DEBUG": "true"},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "openapi: 3" in result.stdout
