"""Ready to Update against a real Tryton 8.0 (tests/tryton_server.py): a rename accepted in
erpsync renames the job's or sub job's analytic account in Tryton, read back from Tryton."""

from __future__ import annotations

from typing import Any

import pytest

from erpsync.adapters import PermanentErpError
from erpsync.adapters.tryton import TrytonAdapter
from erpsync.exports import erp_export
from erpsync.models import ErpEvent, UpdateRequest
from erpsync.services import erp_accept, erp_send
from erpsync.update_exports import erp_export_update
from erpsync.updates import erp_accept_update, erp_request_update
from jobs.models import Job
from jobs.services import job_send, project_rename
from projects.models import Project
from tests import factories as f
from tests.tryton_server import tryton_server, use_tryton  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db


def tryton(server: dict[str, str]) -> TrytonAdapter:
    """A Tryton session of its own, as a person reading Tryton."""
    company = f.CompanyFactory.build(erp_adapter="tryton", erp_settings=server)
    return TrytonAdapter(company=company, settings=server)


def account(server: dict[str, str], erp_id: str) -> dict[str, Any]:
    (row,) = tryton(server).search_read(
        "analytic_account.account", [["id", "=", int(erp_id)]], ["code", "name", "parent"]
    )
    return row


def export(item: Any, approver: Any) -> Any:
    accepted = erp_accept(item=item, user=approver, export=False)
    result = erp_export(
        model=type(accepted), item_id=accepted.pk, try_number=1, requeue=lambda c: None
    )
    assert result.outcome == "synced", result.detail
    accepted.refresh_from_db()
    return accepted


def send_update(update: UpdateRequest) -> str:
    return erp_export_update(request_id=update.pk, try_number=1, requeue=lambda c: None).outcome


@pytest.fixture
def tryton_project(
    company: Any,
    tryton_server: dict[str, str],  # noqa: F811
) -> Project:
    use_tryton(company, tryton_server)
    return f.ProjectFactory(company=company, number="P-920", name="Quay Offices")


@pytest.fixture
def tryton_admin(tryton_project: Project) -> Any:
    return f.member(tryton_project, admin=True)


def test_a_sub_job_renamed_after_sync_renames_its_analytic_account_in_tryton(
    tryton_project: Project,
    tryton_admin: Any,
    approver: Any,
    tryton_server: dict[str, str],  # noqa: F811
) -> None:
    export(job_send(project=tryton_project, user=tryton_admin), approver)
    tryton_project.refresh_from_db()
    sub_job = f.SubJobFactory(
        project=tryton_project, code="03-100", name="Concrete", status="approved"
    )
    sub_job = export(erp_send(item=sub_job, user=tryton_admin), approver)
    assert account(tryton_server, sub_job.erp_id)["name"] == "03-100 Concrete"

    update = erp_request_update(item=sub_job, user=tryton_admin, values={"name": "Rebar"})
    erp_accept_update(request=update, user=approver)
    assert send_update(update) == "synced"

    row = account(tryton_server, sub_job.erp_id)
    assert row["name"] == "03-100 Rebar" and row["code"] == "03-100"
    update.refresh_from_db()
    assert update.state == "synced"
    assert ErpEvent.objects.filter(object_id=sub_job.pk, action="update_synced").exists()
    # The same key again (a retry after a lost answer) finds the name there and writes nothing.
    TrytonAdapter(company=sub_job.erp_company, settings=tryton_server).update(
        kind="sub_job",
        erp_id=sub_job.erp_id,
        changes={"name": "Rebar"},
        snapshot=update.snapshot,
        idempotency_key=update.idempotency_key,
    )
    assert account(tryton_server, sub_job.erp_id)["name"] == "03-100 Rebar"


def test_a_project_renamed_after_its_job_synced_renames_the_job_account_in_tryton(
    tryton_project: Project,
    tryton_admin: Any,
    approver: Any,
    tryton_server: dict[str, str],  # noqa: F811
) -> None:
    job = export(job_send(project=tryton_project, user=tryton_admin), approver)
    assert account(tryton_server, job.erp_id)["name"] == "P-920 Quay Offices"

    update = project_rename(project=tryton_project, user=tryton_admin, name="Quay Towers")
    assert update is not None and update.kind == "job"
    erp_accept_update(request=update, user=approver)
    assert send_update(update) == "synced"

    row = account(tryton_server, job.erp_id)
    assert row["name"] == "P-920 Quay Towers" and row["code"] == "P-920"
    tryton_project.refresh_from_db()
    assert tryton_project.name == "Quay Towers"
    assert Job.objects.get(pk=job.pk).erp_state == "synced"


def test_tryton_never_updates_an_owner_invoice(
    tryton_project: Project,
    tryton_server: dict[str, str],  # noqa: F811
) -> None:
    adapter = TrytonAdapter(company=tryton_project.company, settings=tryton_server)
    assert adapter.can_update("sub_job") and adapter.can_update("job")
    assert not adapter.can_update("owner_invoice")
    with pytest.raises(PermanentErpError, match="cannot update owner_invoice"):
        adapter.update(
            kind="owner_invoice", erp_id="1", changes={}, snapshot={}, idempotency_key="k"
        )
