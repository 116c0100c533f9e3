"""The approval policy, rule by rule, through the real services: rights per kind, no
self-approval, amount rules with several approvals (one of them an Admin's), delegation while
away, Direct Export, and many approvers acting at once."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from erpsync.models import Approval, ApprovalRule, ErpEvent, KindPolicy, OutboxEmail, SandboxRecord
from erpsync.services import erp_accept, erp_reject, erp_resend, erp_retrieve, erp_send
from erpsync.states import ErpActionRefused, RefusalKind
from invoicing.services import invoice_line_update
from projects.models import CompanyMembership, OutOfOffice, ToolLevel
from projects.permissions import approver_required
from subjobs.models import SubJob
from subjobs.services import sub_job_update
from tests import factories as f
from tests.migrating import apps_at, migrate_to_latest
from tests.procs import running_worker, wait_for

pytestmark = pytest.mark.django_db


def refused(call: Any) -> ErpActionRefused:
    with pytest.raises(ErpActionRefused) as refusal:
        call()
    return refusal.value


def big_invoice(project: Any, admin: Any) -> Any:
    """An invoice with an amount due of $90,000.00 (2 lines of 50,000 less 10 %)."""
    invoice = f.invoice_ready_to_send(project=project, user=admin, lines=0)
    for _ in range(2):
        f.InvoiceLineFactory(
            invoice=invoice,
            scheduled_value=Decimal("100000.00"),
            work_completed_this_period=Decimal("50000.00"),
            materials_stored=Decimal("0.00"),
        )
    return invoice


def rule(company: Any, **kwargs: Any) -> ApprovalRule:
    fields = {"kind": "owner_invoice", "min_amount": Decimal("50000.00"), **kwargs}
    return ApprovalRule.objects.create(company=company, **fields)


# ----- rights per kind --------------------------------------------------------------------


def test_an_approver_decides_only_the_kinds_they_hold(
    company: Any, sub_job: Any, invoice: Any, admin: Any
) -> None:
    sub_jobs_only = f.approver(company, kinds=("sub_job",))
    erp_send(item=sub_job, user=admin)
    erp_send(item=invoice, user=admin)
    assert erp_accept(item=sub_job, user=sub_jobs_only).erp_state == "accepted"
    refusal = refused(lambda: erp_accept(item=invoice, user=sub_jobs_only))
    assert refusal.status_code == 403
    assert refusal.reasons == [approver_required("owner invoice")]
    refusal = refused(lambda: erp_reject(item=invoice, user=sub_jobs_only, reason="no"))
    assert refusal.status_code == 403
    invoice.refresh_from_db()
    assert invoice.erp_state == "pending"


# ----- segregation of duties --------------------------------------------------------------


def test_nobody_accepts_an_item_they_sent_unless_the_company_allows_it(
    company: Any, project: Any, sub_job: Any
) -> None:
    both = f.approver(company)  # an accounting approver who is also a project admin
    f.ProjectMembershipFactory(project=project, user=both, **f.ADMIN_ALL)
    erp_send(item=sub_job, user=both)
    refusal = refused(lambda: erp_accept(item=sub_job, user=both))
    assert refusal.status_code == 403
    assert [r.kind for r in refusal.decision.refusals] == [RefusalKind.POLICY]
    assert "You sent this sub job" in refusal.reasons[0]
    assert not Approval.objects.exists()
    company.block_self_approval = False
    company.save()
    assert erp_accept(item=sub_job, user=both).erp_state == "accepted"


def test_nobody_accepts_an_item_they_last_edited(
    company: Any, project: Any, sub_job: Any, admin: Any
) -> None:
    editor = f.approver(company)
    f.ProjectMembershipFactory(project=project, user=editor, **f.ADMIN_ALL)
    sub_job_update(sub_job=sub_job, user=editor, name="Renamed by the approver")
    erp_send(item=sub_job, user=admin)  # someone else sends it
    refusal = refused(lambda: erp_accept(item=sub_job, user=editor))
    assert "You last edited this sub job" in refusal.reasons[0]
    assert refusal.status_code == 403


# ----- amount rules and several approvals ---------------------------------------------------


def test_a_big_invoice_needs_two_approvals_from_different_approvers(
    company: Any, project: Any, admin: Any, approver: Any
) -> None:
    rule(company, approvals_required=2)
    invoice = erp_send(item=big_invoice(project, admin), user=admin)
    second = f.approver(company)

    first = erp_accept(item=invoice, user=approver)
    assert first.erp_state == "partially_approved"
    approve = ErpEvent.objects.get(action="approve")
    assert (approve.actor, approve.details["approval"]) == (approver, "1 of 2")
    again = refused(lambda: erp_accept(item=invoice, user=approver))
    assert again.status_code == 403 and "You already approved version 1" in again.reasons[0]

    done = erp_accept(item=invoice, user=second)
    assert done.erp_state == "accepted"
    accept = ErpEvent.objects.get(action="accept")
    assert (accept.actor, accept.details["approval"]) == (second, "2 of 2")
    assert list(Approval.objects.values_list("approver", "version")) == [
        (approver.pk, 1),
        (second.pk, 1),
    ]


def test_a_small_invoice_needs_one_approval(
    company: Any, invoice: Any, admin: Any, approver: Any
) -> None:
    rule(company, approvals_required=2)  # from $50,000.00; this one is $22,500.00
    erp_send(item=invoice, user=admin)
    assert erp_accept(item=invoice, user=approver).erp_state == "accepted"


def test_the_highest_threshold_at_or_below_the_amount_applies(
    company: Any, project: Any, admin: Any, approver: Any
) -> None:
    rule(company, approvals_required=2)
    rule(company, min_amount=Decimal("1000000.00"), approvals_required=3)
    invoice = erp_send(item=big_invoice(project, admin), user=admin)
    erp_accept(item=invoice, user=approver)
    assert ErpEvent.objects.get(action="approve").details["approval"] == "1 of 2"


def test_one_of_the_approvals_must_be_an_admins_when_the_rule_says_so(
    company: Any, project: Any, admin: Any, approver: Any
) -> None:
    rule(company, approvals_required=2, needs_tool_admin=True)
    invoice = erp_send(item=big_invoice(project, admin), user=admin)
    standard = f.approver(company)
    the_admin = f.approver(company, erp_tool_level=ToolLevel.ADMIN)
    assert erp_accept(item=invoice, user=approver).erp_state == "partially_approved"
    refusal = refused(lambda: erp_accept(item=invoice, user=standard))
    assert "must be an ERP Integrations tool Admin's" in refusal.reasons[0]
    assert erp_accept(item=invoice, user=the_admin).erp_state == "accepted"


def test_a_rejection_ends_it_and_a_resend_starts_the_count_again(
    company: Any, project: Any, admin: Any, approver: Any
) -> None:
    rule(company, approvals_required=2)
    invoice = erp_send(item=big_invoice(project, admin), user=admin)
    erp_accept(item=invoice, user=approver)
    second = f.approver(company)
    rejected = erp_reject(item=invoice, user=second, reason="Wrong period")
    assert rejected.erp_state == "rejected"
    invoice_line_update(line=invoice.lines.first(), user=admin, materials_stored=Decimal("1.00"))
    resent = erp_resend(item=invoice, user=admin)
    # Approvals belong to a version: the first approver's approval of version 1 does not count.
    assert erp_accept(item=resent, user=approver).erp_state == "partially_approved"
    assert erp_accept(item=resent, user=second).erp_state == "accepted"
    assert Approval.objects.filter(version=2).count() == 2


def test_a_partly_approved_item_can_be_retrieved_by_its_sender(
    company: Any, project: Any, admin: Any, approver: Any
) -> None:
    rule(company, approvals_required=2)
    invoice = erp_send(item=big_invoice(project, admin), user=admin)
    erp_accept(item=invoice, user=approver)
    assert erp_retrieve(item=invoice, user=admin).erp_state == "retrieved"


# ----- delegation -------------------------------------------------------------------------


def test_a_delegate_decides_named_as_standing_in_and_gets_the_emails(
    company: Any, sub_job: Any, admin: Any
) -> None:
    sam = f.approver(company)
    pat = f.approver(company)
    for user, (first, last) in ((sam, ("Sam", "Approver")), (pat, ("Pat", "Approver"))):
        user.first_name, user.last_name = first, last
        user.save()
    today = timezone.localdate()
    OutOfOffice.objects.create(
        membership=CompanyMembership.objects.get(user=sam),
        starts_on=today - dt.timedelta(days=1),
        ends_on=today + dt.timedelta(days=3),
        delegate=CompanyMembership.objects.get(user=pat),
    )
    sent = erp_send(item=sub_job, user=admin)
    submission = OutboxEmail.objects.filter(kind="submission")
    # Sam is away: Pat gets his email (once), and nobody mails Sam.
    assert sorted(submission.values_list("recipient", flat=True)) == [pat.email]
    erp_accept(item=sent, user=pat)
    accept = ErpEvent.objects.get(action="accept")
    assert accept.actor == pat and accept.actor_name == "Pat Approver for Sam Approver"


def test_delegation_never_lets_anyone_approve_their_own_item(
    company: Any, project: Any, sub_job: Any
) -> None:
    sam = f.approver(company)
    pat = f.approver(company)
    f.ProjectMembershipFactory(project=project, user=pat, **f.ADMIN_ALL)
    today = timezone.localdate()
    OutOfOffice.objects.create(
        membership=CompanyMembership.objects.get(user=sam),
        starts_on=today,
        ends_on=today,
        delegate=CompanyMembership.objects.get(user=pat),
    )
    erp_send(item=sub_job, user=pat)
    refusal = refused(lambda: erp_accept(item=sub_job, user=pat))
    assert "You sent this sub job" in refusal.reasons[0]


# ----- Direct Export ----------------------------------------------------------------------


def test_direct_export_skips_the_approvers_and_says_so(
    company: Any, sub_job: Any, admin: Any, approver: Any
) -> None:
    KindPolicy.objects.create(company=company, kind="sub_job", direct_export=True)
    sent = erp_send(item=sub_job, user=admin)
    assert sent.erp_state == "accepted"
    events = list(ErpEvent.objects.order_by("id").values_list("action", "actor", "details"))
    assert events[-2:] == [
        ("send", admin.pk, {"direct_export": True}),
        ("accept", admin.pk, {"direct_export": True}),
    ]
    assert not OutboxEmail.objects.filter(kind="submission").exists()
    assert not Approval.objects.exists()


# ----- the data migration -----------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_migration_keeps_every_existing_approver_on_every_kind() -> None:
    old = apps_at([("projects", "0001_initial")])
    company = old.get_model("projects", "Company").objects.create(name="Old Co", slug="old-co")
    user_model = old.get_model("auth", "User")
    members = old.get_model("projects", "CompanyMembership")
    approver = members.objects.create(
        company=company,
        user=user_model.objects.create(username="old-approver"),
        erp_tool_level=20,
        can_push_to_accounting=True,
    )
    members.objects.create(company=company, user=user_model.objects.create(username="reader"))
    migrate_to_latest()
    membership = CompanyMembership.objects.get(pk=approver.pk)
    # …and jobs, which came later: an approver of sub jobs approves jobs (jobs 0002).
    assert membership.export_kinds() == {"job", "sub_job", "owner_invoice"}
    assert CompanyMembership.objects.get(user__username="reader").export_kinds() == frozenset()


# ----- many at once -----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_twenty_simultaneous_approvals_from_two_approvers_export_exactly_once(
    company: Any, project: Any, admin: Any, settings: Any
) -> None:
    ApprovalRule.objects.create(company=company, kind="sub_job", approvals_required=2)
    alice, bob = f.approver(company), f.approver(company)
    sub_job = erp_send(item=f.SubJobFactory(project=project, status="approved"), user=admin)
    start = threading.Barrier(20)
    outcomes: list[str] = []
    lock = threading.Lock()

    def approve(user: Any) -> None:
        try:
            start.wait(10)
            item = erp_accept(item=SubJob.objects.get(pk=sub_job.pk), user=user)
            result = item.erp_state
        except ErpActionRefused as refusal:
            result = f"refused {refusal.status_code}"
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    settings.ERP_EXPORT_BACKOFF_SECONDS = 0
    with running_worker():
        threads = [
            threading.Thread(target=approve, args=(alice if n % 2 else bob,)) for n in range(20)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        wait_for(lambda: SubJob.objects.get(pk=sub_job.pk).erp_state == "synced", "the export")
    # Which refusals the other 18 get depends on timing (409 for a state already moved on,
    # 403 for an approver who already approved); each ends in one of these four outcomes.
    assert len(outcomes) == 20, outcomes
    assert set(outcomes) <= {"partially_approved", "accepted", "refused 403", "refused 409"}
    assert outcomes.count("accepted") == 1 and outcomes.count("partially_approved") == 1
    assert Approval.objects.count() == 2
    assert set(Approval.objects.values_list("approver", flat=True)) == {alice.pk, bob.pk}
    assert ErpEvent.objects.filter(action="accept").count() == 1
    assert SandboxRecord.objects.count() == 1
