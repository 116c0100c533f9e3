"""Unlink on a real Tryton 8.0 (README, Unlink): the record is voided in Tryton, and sending
the item again makes a new record beside the voided one."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from erpsync.adapters import UnlinkStatus
from erpsync.models import ErpEvent
from erpsync.states import ErpActionRefused
from erpsync.unlink import StillInErp, erp_unlink
from jobs.services import job_send
from projects.models import ToolLevel
from tests import factories as f
from tests.tryton_books import pay_in_tryton, tryton
from tests.tryton_server import tryton_server, use_tryton  # noqa: F401 - the fixture
from tests.updating import exported, synced

pytestmark = pytest.mark.django_db


@pytest.fixture
def tool_admin(company: Any) -> Any:
    user = f.UserFactory()
    f.CompanyMembershipFactory(company=company, user=user, erp_tool_level=ToolLevel.ADMIN)
    return user


def test_unlink_and_send_again_makes_a_new_record_with_the_old_one_voided(
    tryton_server: dict[str, str],  # noqa: F811
    invoice: Any,
    admin: Any,
    approver: Any,
    tool_admin: Any,
) -> None:
    use_tryton(invoice.erp_company, tryton_server)
    item = synced(invoice, admin, approver)
    old_id = item.erp_id

    item = erp_unlink(item=item, user=tool_admin)
    assert (item.erp_state, item.erp_id, item.erp_unlinked_id) == ("not_sent", "", old_id)
    t = tryton(tryton_server)
    (old,) = t.search_read(
        "account.invoice", [["id", "=", int(old_id)]], ["state", "cancel_move", "total_amount"]
    )
    # Credited with a refund: cancelled, its cancel move is the credit note's.
    assert old["state"] == "cancelled" and old["cancel_move"]
    (credit_note,) = t.search_read(
        "account.invoice", [["move", "=", old["cancel_move"]]], ["state", "total_amount", "type"]
    )
    # Posted, and reconciled with the invoice it credits: Tryton calls it paid.
    assert credit_note["state"] == "paid" and credit_note["type"] == "out"
    assert credit_note["total_amount"] == -old["total_amount"] != Decimal(0)
    (event,) = ErpEvent.objects.filter(object_id=item.pk, action="unlink")
    assert event.details["erp_id"] == old_id and event.details["outcome"] == "voided"
    assert "credit note" in event.reason and event.actor == tool_admin

    # Unlinking again answers "gone": the voided invoice no longer counts.
    outcome = t.unlink("owner_invoice", old_id)
    assert outcome.status == UnlinkStatus.GONE

    item = synced(item, admin, approver)
    assert item.erp_version == 2 and item.erp_id != old_id
    (new,) = t.search_read(
        "account.invoice", [["id", "=", int(item.erp_id)]], ["state", "reference", "total_amount"]
    )
    assert new["state"] == "posted" and new["reference"].endswith(":v2")
    assert new["total_amount"] == old["total_amount"]


def test_a_sub_job_unlinked_on_tryton_is_deactivated_and_sent_again_as_a_new_account(
    tryton_server: dict[str, str],  # noqa: F811
    sub_job: Any,
    admin: Any,
    approver: Any,
    tool_admin: Any,
) -> None:
    use_tryton(sub_job.erp_company, tryton_server)
    item = synced(sub_job, admin, approver)
    old_id = item.erp_id
    t = tryton(tryton_server)
    fields = ["active", "code", "parent"]
    everything = ["active", "in", [True, False]]

    item = erp_unlink(item=item, user=tool_admin)
    assert item.erp_state == "not_sent" and item.erp_unlinked_id == old_id
    (old,) = t.search_read(
        "analytic_account.account", [["id", "=", int(old_id)], everything], fields
    )
    # (Tryton on SQLite answers booleans as 0 and 1.)
    assert not old["active"] and old["code"] == sub_job.code

    item = synced(item, admin, approver)
    assert item.erp_id != old_id
    (new,) = t.search_read("analytic_account.account", [["id", "=", int(item.erp_id)]], fields)
    # A new account with the same code under the same job account; the old one stays inactive.
    assert new["active"] and new["code"] == old["code"] and new["parent"] == old["parent"]
    assert t.fetch("sub_job", item.erp_id).exists and not t.fetch("sub_job", old_id).exists


def test_a_partly_paid_tryton_invoice_is_still_in_the_erp_and_not_credited(
    tryton_server: dict[str, str],  # noqa: F811
    invoice: Any,
    admin: Any,
    approver: Any,
    tool_admin: Any,
) -> None:
    use_tryton(invoice.erp_company, tryton_server)
    item = synced(invoice, admin, approver)
    pay_in_tryton(tryton_server, item.erp_id, Decimal("100.00"))

    with pytest.raises(StillInErp, match="partly paid"):
        erp_unlink(item=item, user=tool_admin)
    item.refresh_from_db()
    assert item.erp_state == "synced" and "partly paid" in item.erp_unlink_refusal
    t = tryton(tryton_server)
    (row,) = t.search_read("account.invoice", [["id", "=", int(item.erp_id)]], ["state"])
    assert row["state"] == "posted"
    (attempt,) = ErpEvent.objects.filter(object_id=item.pk, action="unlink_refused")
    assert attempt.actor == tool_admin and attempt.details["outcome"] == "still_there"


def test_a_job_and_its_sub_job_unlinked_on_tryton_come_back_as_new_accounts(
    tryton_server: dict[str, str],  # noqa: F811
    company: Any,
    approver: Any,
    tool_admin: Any,
) -> None:
    use_tryton(company, tryton_server)
    project = f.ProjectFactory(company=company, number="P-U1", name="Unlinked Tower")
    project_admin = f.member(project, admin=True)
    job = exported(job_send(project=project, user=project_admin), approver)
    sub_job = f.SubJobFactory(project=project, status="approved", created_by=project_admin)
    sub_job = synced(sub_job, project_admin, approver)
    t = tryton(tryton_server)
    fields = ["active", "code", "parent"]
    everything = ["active", "in", [True, False]]

    with pytest.raises(ErpActionRefused, match="sub job"):
        erp_unlink(item=job, user=tool_admin)
    sub_job = erp_unlink(item=sub_job, user=tool_admin)
    job = erp_unlink(item=job, user=tool_admin)
    old_job = job.erp_unlinked_id
    (old,) = t.search_read(
        "analytic_account.account", [["id", "=", int(old_job)], everything], fields
    )
    assert not old["active"] and old["code"] == "P-U1"
    project.refresh_from_db()
    assert (project.erp_synced, project.erp_job_id) == (False, "")

    # Sent again: a new job account (the old one, found by its code before, is not reused),
    # and the sub job under it.
    job = exported(job_send(project=project, user=project_admin), approver)
    project.refresh_from_db()
    assert job.erp_id != old_job and project.erp_job_id == job.erp_id
    (new_job,) = t.search_read("analytic_account.account", [["id", "=", int(job.erp_id)]], fields)
    assert new_job["active"] and new_job["code"] == "P-U1"
    sub_job = synced(sub_job, project_admin, approver)
    (new_sub,) = t.search_read(
        "analytic_account.account", [["id", "=", int(sub_job.erp_id)]], fields
    )
    assert new_sub["parent"] == int(job.erp_id) and sub_job.erp_id != sub_job.erp_unlinked_id
