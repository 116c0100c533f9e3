"""The preconditions of each action, each with the sentence a user reads on a greyed-out button."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings

from erpsync.models import ErpEvent
from erpsync.services import erp_accept, erp_reject, erp_resend, erp_retrieve, erp_send
from erpsync.states import ErpAction, ErpActionRefused, RefusalKind
from invoicing.models import ContractStatus, InvoiceStatus
from projects.models import ToolLevel
from projects.permissions import (
    INVOICE_ADMIN_REQUIRED,
    SUB_JOB_ADMIN_REQUIRED,
    approver_required,
)
from tests import factories as f

pytestmark = pytest.mark.django_db

TEST_ADAPTERS = {
    "sandbox": "erpsync.adapters.sandbox.SandboxAdapter",
    "invoices_only": "tests.adapters.InvoicesOnlyAdapter",
    "sub_jobs_only": "tests.adapters.SubJobsOnlyAdapter",
}


def refused_send(item: Any, user: Any) -> list[str]:
    with pytest.raises(ErpActionRefused) as refused:
        erp_send(item=item, user=user)
    item.refresh_from_db()
    assert item.erp_state == "not_sent"
    assert not ErpEvent.objects.filter(action="send").exists()
    return refused.value.reasons


# ----- sub jobs ---------------------------------------------------------------------------


def test_a_draft_sub_job_cannot_be_sent(sub_job: Any, admin: Any) -> None:
    sub_job.status = "draft"
    sub_job.save()
    assert refused_send(sub_job, admin) == ["The sub job is not in the Approved status."]


def test_a_sub_job_of_an_unsynced_project_cannot_be_sent(sub_job: Any, admin: Any) -> None:
    sub_job.project.erp_synced = False
    sub_job.project.save()
    assert refused_send(sub_job, admin) == ["The project is not synced with the ERP."]


@override_settings(ERP_ADAPTERS=TEST_ADAPTERS)
def test_a_sub_job_cannot_be_sent_to_an_erp_that_does_not_sync_sub_jobs(
    sub_job: Any, admin: Any
) -> None:
    company = sub_job.project.company
    company.erp_adapter = "invoices_only"
    company.save()
    assert refused_send(sub_job, admin) == [
        "The company's ERP integration (Invoices Only ERP) does not sync sub jobs."
    ]


def test_sending_a_sub_job_needs_admin_on_the_admin_tool(project: Any, sub_job: Any) -> None:
    # Admin on Prime Contracts and Commitments is not enough for sub jobs.
    user = f.member(project, admin=True, admin_level=ToolLevel.STANDARD)
    decision = sub_job.erp_decide(ErpAction.SEND, user)
    assert decision.reasons == [SUB_JOB_ADMIN_REQUIRED]
    assert decision.status_code == 403
    assert refused_send(sub_job, user) == [SUB_JOB_ADMIN_REQUIRED]


def test_every_reason_is_listed_at_once(sub_job: Any, viewer: Any) -> None:
    sub_job.status = "draft"
    sub_job.save()
    sub_job.project.erp_synced = False
    sub_job.project.save()
    decision = sub_job.erp_decide(ErpAction.SEND, viewer)
    assert decision.reasons == [
        "The sub job is not in the Approved status.",
        "The project is not synced with the ERP.",
        SUB_JOB_ADMIN_REQUIRED,
    ]
    assert decision.fits_state and not decision.permitted


def test_resend_checks_the_same_preconditions(sub_job: Any, drive: Any, admin: Any) -> None:
    drive(sub_job, "rejected")
    sub_job.refresh_from_db()
    from subjobs.services import sub_job_update

    sub_job_update(sub_job=sub_job, user=admin, status="draft")
    with pytest.raises(ErpActionRefused) as refused:
        erp_resend(item=sub_job, user=admin)
    assert refused.value.reasons == ["The sub job is not in the Approved status."]


def test_retrieve_needs_the_senders_permission(sub_job: Any, drive: Any, viewer: Any) -> None:
    drive(sub_job, "pending")
    with pytest.raises(ErpActionRefused) as refused:
        erp_retrieve(item=sub_job, user=viewer)
    assert refused.value.reasons == [SUB_JOB_ADMIN_REQUIRED]


def test_an_allowed_action_has_no_reasons(sub_job: Any, admin: Any) -> None:
    decision = sub_job.erp_decide(ErpAction.SEND, admin)
    assert decision.allowed and decision.reasons == []


# ----- owner invoices ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("project_unsynced", "The project is not synced with the ERP."),
        ("no_billing_period", "The billing period has not been created."),
        ("contract_draft", "The prime contract is not in the Approved status."),
        ("invoice_under_review", "The invoice is not in the Approved status."),
    ],
)
def test_each_invoice_prerequisite_greys_out_send(
    invoice: Any, admin: Any, change: str, reason: str
) -> None:
    if change == "project_unsynced":
        invoice.prime_contract.project.erp_synced = False
        invoice.prime_contract.project.save()
    elif change == "no_billing_period":
        invoice.billing_period = None
        invoice.save()
    elif change == "contract_draft":
        invoice.prime_contract.status = ContractStatus.DRAFT
        invoice.prime_contract.save()
    else:
        invoice.status = InvoiceStatus.UNDER_REVIEW
        invoice.save()
    assert refused_send(invoice, admin) == [reason]


@pytest.mark.parametrize("tool", ["commitments_level", "prime_contracts_level"])
def test_admin_on_commitments_or_on_prime_contracts_may_send_an_invoice(
    project: Any, invoice: Any, tool: str
) -> None:
    levels = {
        "admin_level": ToolLevel.NONE,
        "commitments_level": ToolLevel.STANDARD,
        "prime_contracts_level": ToolLevel.STANDARD,
        tool: ToolLevel.ADMIN,
    }
    user = f.member(project, admin=False, **levels)
    assert erp_send(item=invoice, user=user).erp_state == "pending"


def test_admin_on_the_admin_tool_alone_may_not_send_an_invoice(project: Any, invoice: Any) -> None:
    user = f.member(
        project,
        admin=False,
        admin_level=ToolLevel.ADMIN,
        commitments_level=ToolLevel.STANDARD,
        prime_contracts_level=ToolLevel.STANDARD,
    )
    assert refused_send(invoice, user) == [INVOICE_ADMIN_REQUIRED]


@override_settings(ERP_ADAPTERS=TEST_ADAPTERS)
def test_an_invoice_cannot_be_sent_to_an_erp_that_does_not_sync_invoices(
    invoice: Any, admin: Any
) -> None:
    company = invoice.prime_contract.project.company
    company.erp_adapter = "sub_jobs_only"
    company.save()
    assert refused_send(invoice, admin) == [
        "The company's ERP integration (Sub Jobs Only ERP) does not sync owner invoices."
    ]


# ----- approvers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "can_push", "allowed"),
    [
        (ToolLevel.ADMIN, True, True),
        (ToolLevel.STANDARD, True, True),
        (ToolLevel.READ_ONLY, True, False),
        (ToolLevel.NONE, True, False),
        (ToolLevel.ADMIN, False, False),
    ],
)
def test_only_accounting_approvers_may_accept(
    item: Any, drive: Any, company: Any, level: int, can_push: bool, allowed: bool
) -> None:
    drive(item, "pending")
    user = f.approver(company, erp_tool_level=level, can_push_to_accounting=can_push)
    if allowed:
        assert erp_accept(item=item, user=user).erp_state == "accepted"
    else:
        with pytest.raises(ErpActionRefused) as refused:
            erp_accept(item=item, user=user)
        assert refused.value.reasons == [approver_required(item.erp_kind_label)]
        assert refused.value.status_code == 403


def test_an_approver_of_another_company_may_not_decide(sub_job: Any, drive: Any) -> None:
    drive(sub_job, "pending")
    outsider = f.approver(f.CompanyFactory())
    with pytest.raises(ErpActionRefused) as refused:
        erp_reject(item=sub_job, user=outsider, reason="not mine")
    assert refused.value.reasons == [approver_required("sub job")]
    sub_job.refresh_from_db()
    assert sub_job.erp_state == "pending"


def test_a_project_admin_is_not_an_approver(sub_job: Any, drive: Any, admin: Any) -> None:
    pending = drive(sub_job, "pending")
    decision = pending.erp_decide(ErpAction.ACCEPT, admin)
    assert [r.kind for r in decision.refusals] == [RefusalKind.PERMISSION]


def test_an_anonymous_user_may_do_nothing(sub_job: Any) -> None:
    from django.contrib.auth.models import AnonymousUser

    for action in (ErpAction.SEND, ErpAction.ACCEPT):
        assert not sub_job.erp_decide(action, AnonymousUser()).permitted
    assert not sub_job.erp_decide(ErpAction.SEND, None).permitted


def test_an_inactive_admin_may_not_send(sub_job: Any, admin: Any) -> None:
    admin.is_active = False
    admin.save()
    assert refused_send(sub_job, admin) == [SUB_JOB_ADMIN_REQUIRED]
