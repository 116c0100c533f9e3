from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from erpsync.models import ErpEvent
from erpsync.states import ErpState
from invoicing.models import OwnerInvoice
from jobs.models import Job
from projects.models import Company, CompanyMembership, Project
from projects.permissions import can_manage_sub_jobs, is_accounting_approver
from subjobs.models import SubJob

pytestmark = pytest.mark.django_db


def _counts() -> dict[str, int]:
    return {
        "companies": Company.objects.count(),
        "users": get_user_model().objects.count(),
        "sub_jobs": SubJob.objects.count(),
        "invoices": OwnerInvoice.objects.count(),
        "events": ErpEvent.objects.count(),
        "memberships": CompanyMembership.objects.count(),
    }


def test_seed_demo_is_safe_to_run_twice() -> None:
    out = StringIO()
    call_command("seed_demo", "--password", "first-demo-passphrase", stdout=out)
    first = _counts()
    call_command("seed_demo", "--password", "second-demo-passphrase", stdout=out)
    assert _counts() == first
    assert (
        get_user_model().objects.get(username="approver").check_password("second-demo-passphrase")
    )
    assert "approver" in out.getvalue() and "second-demo-passphrase" in out.getvalue()


def test_the_demo_has_items_in_every_erp_state() -> None:
    call_command("seed_demo", stdout=StringIO())
    states = set(SubJob.objects.values_list("erp_state", flat=True))
    # Every state a sub job reaches under the demo's policy (one approval for sub jobs); the
    # big owner invoice shows the partly approved one.
    assert states == {s.value for s in ErpState} - {"partially_approved"}
    big = OwnerInvoice.objects.get(number="INV-008")
    assert big.erp_state == "partially_approved"
    rejected = SubJob.objects.get(erp_state="rejected")
    assert rejected.erp_rejection_reason
    synced = SubJob.objects.get(erp_state="synced")
    assert synced.erp_id.startswith("SBX-")


def test_the_demos_synced_projects_were_sent_and_accepted_as_jobs() -> None:
    call_command("seed_demo", stdout=StringIO())
    for project in Project.objects.filter(erp_synced=True):
        job = Job.objects.get(project=project)
        assert job.erp_state == "synced" and project.erp_job_id == job.erp_id
        assert job.erp_id.startswith("SBX-")
        trail = ErpEvent.objects.filter(object_id=job.pk, content_type__model="job")
        assert list(trail.order_by("pk").values_list("action", flat=True)) == [
            "send",
            "accept",
            "mark_synced",
        ]
    assert Project.objects.filter(erp_synced=True).count() == 2
    unsynced = Project.objects.get(number="DB-200")
    assert not unsynced.erp_synced and not Job.objects.filter(project=unsynced).exists()


def test_the_demo_roles_hold_the_permissions_they_claim() -> None:
    call_command("seed_demo", stdout=StringIO())
    users = {u.username: u for u in get_user_model().objects.all()}
    demo = Company.objects.get(slug="demo-builders")
    other = Company.objects.get(slug="other-co")
    synced_project = demo.projects.get(erp_synced=True)
    assert demo.projects.filter(erp_synced=False).exists()
    assert can_manage_sub_jobs(users["admin"], synced_project)
    assert not can_manage_sub_jobs(users["viewer"], synced_project)
    assert is_accounting_approver(users["approver"], demo)
    assert not is_accounting_approver(users["approver"], other)
    assert is_accounting_approver(users["outsider"], other)
    assert not is_accounting_approver(users["outsider"], demo)
    collab = users["collab"]
    assert collab.invoice_contact_for.get().number == "PC-001"


def test_the_demo_invoices_cover_statuses_and_erp_states() -> None:
    call_command("seed_demo", stdout=StringIO())
    invoices = OwnerInvoice.objects.all()
    assert {i.status for i in invoices} == {
        "draft",
        "under_review",
        "revise_and_resubmit",
        "approved",
    }
    assert {"not_sent", "pending", "rejected", "retrieved", "synced"} <= {
        i.erp_state for i in invoices
    }
