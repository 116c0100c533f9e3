"""The approval policy's settings: export rights per kind in the directory, the Approval policy
page (switches, Direct Export, amount rules) and out-of-office periods, with their services
and audit rows."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from companysettings.policy import (
    approval_rule_add,
    approval_rule_remove,
    company_set_approval_policy,
    out_of_office_add,
    out_of_office_cancel,
)
from companysettings.services import SettingsRefused, membership_set_flags
from erpsync.models import ApprovalRule, ErpEvent, KindPolicy
from erpsync.services import erp_send
from projects.models import Company, CompanyMembership, ExportRight, OutOfOffice, ToolLevel
from tests import factories as f
from tests.settings_pages import client_for, events, membership, text, url

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate


def everything() -> tuple[Any, ...]:
    """What a refused request must leave as it was."""
    return (
        tuple(
            Company.objects.order_by("pk").values_list(
                "block_self_approval", "remind_after_days", "escalate_after_days"
            )
        ),
        tuple(KindPolicy.objects.order_by("pk").values_list("kind", "direct_export")),
        tuple(
            ApprovalRule.objects.order_by("pk").values_list(
                "kind", "min_amount", "approvals_required", "needs_tool_admin"
            )
        ),
        tuple(ExportRight.objects.order_by("pk").values_list("membership_id", "kind")),
        tuple(OutOfOffice.objects.order_by("pk").values_list("starts_on", "ends_on", "delegate")),
        ErpEvent.objects.count(),
    )


def days(n: int) -> dt.date:
    return TODAY() + dt.timedelta(days=n)


def away(company: Any, user: Any, first: int, last: int, delegate: Any, by: Any = None) -> Any:
    """`user` out of office from days(first) to days(last) with `delegate` standing in,
    entered by `by` (themselves unless said)."""
    return out_of_office_add(
        membership=membership(user, company),
        user=by or user,
        starts_on=days(first),
        ends_on=days(last),
        delegate=membership(delegate, company),
    )


@pytest.fixture
def erp_admin(company: Any) -> Any:
    """An ERP tool Admin who is an accounting approver of every kind."""
    return f.approver(company, erp_tool_level=ToolLevel.ADMIN)


@pytest.fixture
def second(company: Any) -> Any:
    """Another accounting approver of every kind."""
    return f.approver(company)


@pytest.fixture
def read_only(company: Any) -> Any:
    return f.approver(company, erp_tool_level=ToolLevel.READ_ONLY, can_push_to_accounting=False)


@pytest.fixture
def outsider() -> Any:
    """An ERP tool Admin and approver of another company."""
    return f.approver(f.CompanyFactory(), erp_tool_level=ToolLevel.ADMIN)


def policy_post(**overrides: Any) -> dict[str, str]:
    data = {
        "block_self_approval": "on",
        "remind_after_days": "2",
        "escalate_after_days": "5",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def rule_post(kind: str, amount: str, needed: str = "2", admin: bool = False) -> dict[str, str]:
    data = {f"rule-{kind}-min_amount": amount, f"rule-{kind}-approvals_required": needed}
    if admin:
        data[f"rule-{kind}-needs_tool_admin"] = "on"
    return data


def absence_post(starts: dt.date, ends: dt.date, delegate: Any, who: Any = None) -> dict:
    data = {"starts_on": starts.isoformat(), "ends_on": ends.isoformat()}
    data["delegate"] = str(delegate.pk) if delegate is not None else ""
    if who is not None:
        data["membership"] = str(who.pk)
    return data


# ----- who may open the pages -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["settings_approval_policy", "out_of_office"])
def test_an_erp_tool_admin_opens_the_new_pages(name: str, company: Any, erp_admin: Any) -> None:
    response = client_for(erp_admin).get(url(name, company))
    assert response.status_code == 200
    assert "Company settings" in text(response)


@pytest.mark.parametrize("who", ["approver", "read_only", "member", "outsider"])
def test_only_erp_tool_admins_open_the_approval_policy(
    who: str, company: Any, approver: Any, read_only: Any, outsider: Any
) -> None:
    users = {
        "approver": approver,  # Standard on the tool and an approver: still not an Admin
        "read_only": read_only,
        "member": f.approver(company, erp_tool_level=ToolLevel.NONE, kinds=()),
        "outsider": outsider,
    }
    response = client_for(users[who]).get(url("settings_approval_policy", company))
    assert response.status_code == (404 if who == "outsider" else 403)


@pytest.mark.parametrize(
    ("who", "status"),
    [("approver", 200), ("read_only", 403), ("standard_no_push", 403), ("outsider", 404)],
)
def test_out_of_office_is_for_approvers_and_admins(
    who: str, status: int, company: Any, approver: Any, read_only: Any, outsider: Any
) -> None:
    users = {
        "approver": approver,
        "read_only": read_only,
        "standard_no_push": f.approver(company, can_push_to_accounting=False),
        "outsider": outsider,
    }
    response = client_for(users[who]).get(url("out_of_office", company))
    assert response.status_code == status
    if status == 200:
        body = text(response)
        assert "Set your period" in body
        assert 'data-settings-tab="policy"' not in body  # no settings tabs for approvers
        assert 'name="membership"' not in body


def forged_posts(company: Any, rule: ApprovalRule, absence: OutOfOffice) -> list[tuple[str, dict]]:
    return [
        (url("settings_approval_policy", company), policy_post(block_self_approval=None)),
        (url("settings_rule_add", company, "owner_invoice"), rule_post("owner_invoice", "5")),
        (url("settings_rule_remove", company, rule.pk), {}),
        (url("out_of_office_cancel", company, absence.pk), {}),
    ]


@pytest.mark.parametrize("who", ["approver", "read_only", "outsider"])
def test_forged_posts_of_non_admins_change_nothing(
    who: str, company: Any, erp_admin: Any, second: Any, read_only: Any, outsider: Any
) -> None:
    approver = f.approver(company)
    rule = approval_rule_add(
        company=company,
        user=erp_admin,
        kind="owner_invoice",
        min_amount=Decimal("1000"),
        approvals_required=2,
        needs_tool_admin=False,
    )
    absence = away(company, second, 3, 5, delegate=erp_admin)
    user = {"approver": approver, "read_only": read_only, "outsider": outsider}[who]
    client = client_for(user)
    before = everything()
    for target, data in forged_posts(company, rule, absence):
        response = client.post(target, data)
        expected = 404 if who == "outsider" else 403
        assert response.status_code == expected, (who, target, response.status_code)
    assert everything() == before


# ----- the approval policy's switches and Direct Export ----------------------------------------


def test_an_admin_saves_the_policy_with_an_audit_row(company: Any, erp_admin: Any) -> None:
    response = client_for(erp_admin).post(
        url("settings_approval_policy", company),
        policy_post(
            block_self_approval=None,
            remind_after_days="3",
            escalate_after_days="7",
            direct_export_sub_job="on",
        ),
    )
    assert response.status_code == 302
    company.refresh_from_db()
    assert not company.block_self_approval
    assert (company.remind_after_days, company.escalate_after_days) == (3, 7)
    assert KindPolicy.objects.get(company=company, kind="sub_job").direct_export
    assert not KindPolicy.objects.filter(company=company, kind="owner_invoice").exists()
    [event] = events(company)
    assert (event.actor, event.action) == (erp_admin, "edit")
    assert event.details["changes"] == {
        "block_self_approval": ["Yes", "No"],
        "remind_after_days": ["2", "3"],
        "escalate_after_days": ["5", "7"],
        "direct_export.sub_job": ["No", "Yes"],
    }
    log = text(client_for(erp_admin).get(url("audit_log", company)))
    assert "Block self-approval: Yes → No" in log
    assert "Direct Export of sub jobs: No → Yes" in log
    assert "Remind after (business days): 2 → 3" in log

    # Saving the same again writes nothing.
    client_for(erp_admin).post(
        url("settings_approval_policy", company),
        policy_post(
            block_self_approval=None,
            remind_after_days="3",
            escalate_after_days="7",
            direct_export_sub_job="on",
        ),
    )
    assert len(events(company)) == 1


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"remind_after_days": "abc"}, "remind_after_days", "Enter a whole number."),
        ({"remind_after_days": "0"}, "remind_after_days", "greater than or equal to 1"),
        ({"escalate_after_days": "61"}, "escalate_after_days", "less than or equal to 60"),
        ({"escalate_after_days": "1"}, "escalate_after_days", "at least as many business days"),
        ({"remind_after_days": "sNaN"}, "remind_after_days", "Enter a whole number."),
        ({"remind_after_days": ""}, "remind_after_days", "This field is required."),
    ],
)
def test_bad_policy_input_is_shown_at_its_field_and_saves_nothing(
    company: Any, erp_admin: Any, data: dict[str, str], field: str, message: str
) -> None:
    before = everything()
    response = client_for(erp_admin).post(
        url("settings_approval_policy", company),
        policy_post(direct_export_owner_invoice="on", **data),
    )
    assert response.status_code == 422
    body = text(response)
    error = re.search(rf'data-field-error="{field}">(.*?)</ul>', body, re.S)
    assert error is not None and message in error.group(1)
    assert everything() == before


def test_the_policy_service_checks_on_its_own(company: Any, erp_admin: Any, approver: Any) -> None:
    kwargs: dict[str, Any] = {
        "block_self_approval": True,
        "remind_after_days": 2,
        "escalate_after_days": 5,
        "direct_export": {},
    }
    with pytest.raises(PermissionDenied):
        company_set_approval_policy(company=company, user=approver, **kwargs)
    with pytest.raises(ValidationError) as error:
        company_set_approval_policy(
            company=company, user=erp_admin, **{**kwargs, "direct_export": {"nope": True}}
        )
    assert "direct_export" in error.value.message_dict
    with pytest.raises(ValidationError):
        company_set_approval_policy(
            company=company, user=erp_admin, **{**kwargs, "remind_after_days": 0}
        )


def test_direct_export_sends_straight_to_export_and_the_history_says_so(
    company: Any, project: Any, admin: Any, erp_admin: Any, sub_job: Any
) -> None:
    client_for(erp_admin).post(
        url("settings_approval_policy", company), policy_post(direct_export_sub_job="on")
    )
    response = client_for(admin).post(
        reverse("sub_job_erp_action", args=[project.pk, sub_job.pk, "send"]), follow=True
    )
    assert response.status_code == 200
    sub_job.refresh_from_db()
    assert sub_job.erp_state in ("accepted", "synced")
    page = text(client_for(admin).get(sub_job.get_absolute_url()))
    assert "Accepted — exported directly (Direct Export, no approval)" in page
    assert "Sent to ERP (Direct Export)" in page


# ----- the amount rules ---------------------------------------------------------------------------


def test_an_admin_adds_and_removes_a_rule_with_audit_rows(company: Any, erp_admin: Any) -> None:
    client = client_for(erp_admin)
    response = client.post(
        url("settings_rule_add", company, "owner_invoice"),
        rule_post("owner_invoice", "250000", needed="2", admin=True),
    )
    assert response.status_code == 302
    rule = ApprovalRule.objects.get(company=company)
    assert (rule.kind, rule.min_amount, rule.approvals_required, rule.needs_tool_admin) == (
        "owner_invoice",
        Decimal("250000.00"),
        2,
        True,
    )
    described = (
        "Owner Invoices of $250,000.00 or more need 2 approvals, one of them an ERP tool Admin's"
    )
    page = text(client.get(url("settings_approval_policy", company)))
    assert described in page
    # Only one approver of owner invoices besides the Admin: a 3-approval rule would be stuck.
    client.post(
        url("settings_rule_add", company, "owner_invoice"), rule_post("owner_invoice", "1e6", "3")
    )
    page = text(client.get(url("settings_approval_policy", company)))
    assert "Only 1 approver(s) can export Owner Invoices" in page

    response = client.post(url("settings_rule_remove", company, rule.pk))
    assert response.status_code == 302
    assert not ApprovalRule.objects.filter(pk=rule.pk).exists()
    added, _third, removed = events(company)
    assert added.actor == erp_admin and added.details["changes"] == {
        "approval_rule": ["", described]
    }
    assert removed.details["changes"] == {"approval_rule": [described, ""]}
    log = text(client.get(url("audit_log", company)))
    assert f"Approval rule: — → {described}" in log


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("abc", "Enter a number."),
        ("sNaN", "Enter a number."),
        ("NaN", "Enter a number."),
        ("Infinity", "Enter a number."),
        ("-1", "greater than or equal to 0"),
        ("1e999", "Ensure that there are no more than"),
        ("1.001", "no more than 2 decimal places"),
        ("", "This field is required."),
        ("1\x00", "Enter a number."),
    ],
)
def test_a_bad_amount_is_a_field_error_and_adds_nothing(
    company: Any, erp_admin: Any, amount: str, message: str
) -> None:
    before = everything()
    response = client_for(erp_admin).post(
        url("settings_rule_add", company, "owner_invoice"), rule_post("owner_invoice", amount)
    )
    assert response.status_code == 422
    error = re.search(r'data-field-error="min_amount">(.*?)</ul>', text(response), re.S)
    assert error is not None and message in error.group(1), text(response)[:0]
    assert everything() == before


@pytest.mark.parametrize("needed", ["0", "6", "x", ""])
def test_approvals_needed_is_one_to_five(company: Any, erp_admin: Any, needed: str) -> None:
    before = everything()
    response = client_for(erp_admin).post(
        url("settings_rule_add", company, "owner_invoice"), rule_post("owner_invoice", "10", needed)
    )
    assert response.status_code == 422
    assert 'data-field-error="approvals_required"' in text(response)
    assert everything() == before


def test_a_rule_twice_and_a_sub_job_threshold_are_refused_at_the_amount(
    company: Any, erp_admin: Any
) -> None:
    client = client_for(erp_admin)
    client.post(
        url("settings_rule_add", company, "owner_invoice"), rule_post("owner_invoice", "10")
    )
    before = everything()
    response = client.post(
        url("settings_rule_add", company, "owner_invoice"), rule_post("owner_invoice", "10.00", "3")
    )
    assert response.status_code == 422
    assert "There is already a rule for Owner Invoices from $10.00" in text(response)
    response = client.post(url("settings_rule_add", company, "sub_job"), rule_post("sub_job", "5"))
    assert response.status_code == 422
    assert "Sub jobs have no amount: a rule for them applies to all of them" in text(response)
    assert everything() == before
    response = client.post(url("settings_rule_add", company, "sub_job"), rule_post("sub_job", "0"))
    assert response.status_code == 302
    assert ApprovalRule.objects.filter(company=company, kind="sub_job", min_amount=0).exists()


def test_another_companys_rule_and_an_unknown_kind_answer_404(
    company: Any, erp_admin: Any, outsider: Any
) -> None:
    elsewhere = Company.objects.exclude(pk=company.pk).get()
    theirs = approval_rule_add(
        company=elsewhere,
        user=outsider,
        kind="owner_invoice",
        min_amount="1",
        approvals_required=2,
        needs_tool_admin=False,
    )
    client = client_for(erp_admin)
    assert client.post(url("settings_rule_remove", company, theirs.pk)).status_code == 404
    assert ApprovalRule.objects.filter(pk=theirs.pk).exists()
    assert client.post(url("settings_rule_add", company, "nope"), {}).status_code == 404
    with pytest.raises(ValidationError):
        approval_rule_add(
            company=company,
            user=erp_admin,
            kind="nope",
            min_amount="1",
            approvals_required=2,
            needs_tool_admin=False,
        )
    with pytest.raises(PermissionDenied):
        approval_rule_remove(company=elsewhere, user=erp_admin, rule_id=theirs.pk)


# ----- export rights per kind in the directory ----------------------------------------------------


def flags_post(member: CompanyMembership, *kinds: str, push: bool = True) -> dict[str, str]:
    data = {
        f"m{member.pk}-erp_tool_level": str(member.erp_tool_level),
        f"m{member.pk}-exports_shown": "True",
    }
    if push:
        data[f"m{member.pk}-can_push_to_accounting"] = "on"
    for kind in kinds:
        data[f"m{member.pk}-export_{kind}"] = "on"
    return data


def test_the_directory_shows_and_saves_each_kinds_export_right(
    company: Any, erp_admin: Any, approver: Any
) -> None:
    client = client_for(erp_admin)
    target = membership(approver, company)
    body = text(client.get(url("settings_members", company)))
    row = re.search(rf'<tr id="member-row-{target.pk}".*?</tr>', body, re.S)
    assert row is not None
    for kind, label in (("sub_job", "Sub Jobs"), ("owner_invoice", "Owner Invoices")):
        assert re.search(rf'name="m{target.pk}-export_{kind}"[^>]*checked', row.group(0))
        assert label in row.group(0)

    response = client.post(
        url("settings_member", company, target.pk),
        flags_post(target, "owner_invoice"),
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200 and "data-row-saved" in text(response)
    assert target.export_kinds() == frozenset({"owner_invoice"})
    [event] = events(target)
    assert event.actor == erp_admin
    assert event.details["changes"] == {
        "export_rights": ["Jobs, Sub Jobs, Owner Invoices", "Owner Invoices"]
    }
    history = text(client.get(url("settings_member_history", company, target.pk)))
    assert "Can export: Jobs, Sub Jobs, Owner Invoices → Owner Invoices" in history

    # A form without the boxes (an older page) leaves the rights as they are.
    data = flags_post(target, push=True)
    del data[f"m{target.pk}-exports_shown"]
    client.post(url("settings_member", company, target.pk), data)
    assert membership(approver, company).export_kinds() == frozenset({"owner_invoice"})

    with pytest.raises(ValidationError):
        membership_set_flags(membership=target, user=erp_admin, export_kinds=["nope"])


def test_a_delegate_keeps_the_rights_their_period_needs(
    company: Any, erp_admin: Any, approver: Any, second: Any
) -> None:
    away(company, approver, 0, 3, delegate=second)
    delegate = membership(second, company)
    before = everything()
    response = client_for(erp_admin).post(
        url("settings_member", company, delegate.pk), flags_post(delegate, "job", "sub_job")
    )
    assert response.status_code == 409
    body = text(response)
    assert "stands in for" in body and "accounting approver for Owner Invoices" in body
    assert everything() == before
    # Nor may they stop being an approver, nor may the absent approver gain a kind they lack.
    with pytest.raises(SettingsRefused):
        membership_set_flags(membership=delegate, user=erp_admin, can_push_to_accounting=False)
    ExportRight.objects.filter(membership=delegate, kind="owner_invoice").delete()
    ExportRight.objects.filter(
        membership=membership(approver, company), kind="owner_invoice"
    ).delete()
    with pytest.raises(SettingsRefused):
        membership_set_flags(
            membership=membership(approver, company),
            user=erp_admin,
            export_kinds=["sub_job", "owner_invoice"],
        )
    assert membership(approver, company).export_kinds() == frozenset({"job", "sub_job"})


# ----- out of office ------------------------------------------------------------------------------


def test_an_approver_sets_their_own_period_with_an_audit_row(
    company: Any, approver: Any, second: Any
) -> None:
    client = client_for(approver)
    response = client.post(
        url("out_of_office", company), absence_post(days(2), days(4), membership(second, company))
    )
    assert response.status_code == 302
    absence = OutOfOffice.objects.get()
    assert absence.membership == membership(approver, company)
    assert absence.delegate == membership(second, company)
    assert (absence.starts_on, absence.ends_on) == (days(2), days(4))
    [event] = events(absence.membership)
    assert event.actor == approver
    assert event.details["member"] == approver.username
    assert event.details["changes"]["out_of_office"][0] == ""
    assert "delegate " in event.details["changes"]["out_of_office"][1]
    page = text(client.get(url("out_of_office", company)))
    assert f'data-absence="{absence.pk}"' in page and "Coming" in page
    # The delegate sees the period they stand in for, without a Cancel button.
    theirs = text(client_for(second).get(url("out_of_office", company)))
    assert f'data-absence="{absence.pk}"' in theirs
    assert "data-cancel-absence" not in theirs


def test_an_approver_cannot_set_someone_elses_period(
    company: Any, approver: Any, second: Any, erp_admin: Any
) -> None:
    # The page has no such field for them: the period is theirs, whatever the request says.
    client_for(approver).post(
        url("out_of_office", company),
        absence_post(
            days(1), days(2), membership(erp_admin, company), who=membership(second, company)
        ),
    )
    assert OutOfOffice.objects.get().membership == membership(approver, company)
    with pytest.raises(PermissionDenied):
        away(company, second, 5, 6, delegate=erp_admin, by=approver)


def test_an_admin_sets_and_cancels_anyones_period(
    company: Any, erp_admin: Any, approver: Any, second: Any
) -> None:
    client = client_for(erp_admin)
    response = client.post(
        url("out_of_office", company),
        absence_post(
            days(1), days(1), membership(second, company), who=membership(approver, company)
        ),
    )
    assert response.status_code == 302
    absence = OutOfOffice.objects.get()
    assert absence.membership == membership(approver, company)
    [added] = events(absence.membership)
    assert added.actor == erp_admin
    response = client.post(url("out_of_office_cancel", company, absence.pk))
    assert response.status_code == 302
    assert not OutOfOffice.objects.exists()
    _, cancelled = events(membership(approver, company))
    assert cancelled.details["changes"]["out_of_office"][1] == ""


def test_cancelling_a_current_period_ends_it_yesterday_and_a_past_one_is_refused(
    company: Any, approver: Any, second: Any
) -> None:
    absence = OutOfOffice.objects.create(
        membership=membership(approver, company),
        delegate=membership(second, company),
        starts_on=days(-3),
        ends_on=days(3),
    )
    client = client_for(approver)
    assert "Away now" in text(client.get(url("out_of_office", company)))
    response = client.post(url("out_of_office_cancel", company, absence.pk))
    assert response.status_code == 302
    absence.refresh_from_db()
    assert absence.ends_on == days(-1)
    [event] = events(absence.membership)
    assert event.details["changes"]["out_of_office"][1].endswith("(ended early)")
    before = everything()
    response = client.post(url("out_of_office_cancel", company, absence.pk))
    assert response.status_code == 409
    assert "is over already: there is nothing to cancel" in text(response)
    with pytest.raises(SettingsRefused):
        out_of_office_cancel(absence=absence, user=approver)
    assert everything() == before


def test_another_approver_cannot_cancel_a_period_and_another_company_gets_404(
    company: Any, approver: Any, second: Any, outsider: Any
) -> None:
    absence = away(company, approver, 1, 2, delegate=second)
    before = everything()
    assert (
        client_for(second).post(url("out_of_office_cancel", company, absence.pk)).status_code == 403
    )
    theirs = Company.objects.exclude(pk=company.pk).get()
    assert (
        client_for(outsider).post(url("out_of_office_cancel", theirs, absence.pk)).status_code
        == 404
    )
    assert everything() == before


def test_out_of_office_refusals_are_shown_at_their_fields(
    company: Any, approver: Any, second: Any, erp_admin: Any
) -> None:
    me, other, admin_m = (membership(u, company) for u in (approver, second, erp_admin))
    sub_jobs_only = membership(f.approver(company, kinds=("job", "sub_job")), company)
    inactive_user = f.approver(company)
    inactive_user.is_active = False
    inactive_user.save()
    inactive = membership(inactive_user, company)
    not_an_approver = membership(f.approver(company, can_push_to_accounting=False), company)
    OutOfOffice.objects.create(membership=me, delegate=other, starts_on=days(10), ends_on=days(12))
    OutOfOffice.objects.create(
        membership=admin_m, delegate=other, starts_on=days(20), ends_on=days(22)
    )
    OutOfOffice.objects.create(membership=other, delegate=me, starts_on=days(30), ends_on=days(31))
    cases = [
        (
            absence_post(days(1), days(2), sub_jobs_only),
            "delegate",
            "not an accounting approver for Owner Invoices",
        ),
        (absence_post(days(1), days(2), not_an_approver), "delegate", "Select a valid choice"),
        (absence_post(days(1), days(2), inactive), "delegate", "Select a valid choice"),
        (absence_post(days(1), days(2), me), "delegate", "Choose someone else as the delegate."),
        (absence_post(days(1), days(2), None), "delegate", "This field is required."),
        (absence_post(days(3), days(2), other), "ends_on", "cannot end before it starts"),
        (absence_post(days(-5), days(-1), other), "ends_on", "That period is over already"),
        (absence_post(days(11), days(15), other), "starts_on", "is already out of office"),
        (absence_post(days(19), days(21), admin_m), "delegate", "is out of office themselves"),
        (
            {"starts_on": "2026-02-30", "ends_on": "x", "delegate": str(other.pk)},
            "starts_on",
            "Enter a valid date.",
        ),
        (
            {"starts_on": "sNaN", "ends_on": "1e9", "delegate": "abc"},
            "delegate",
            "Select a valid choice",
        ),
    ]
    client = client_for(approver)
    for data, field, message in cases:
        before = everything()
        response = client.post(url("out_of_office", company), data)
        assert response.status_code == 422, (data, response.status_code)
        error = re.search(rf'data-field-error="{field}">(.*?)</ul>', text(response), re.S)
        assert error is not None and message in error.group(1), (
            data,
            field,
            text(response)[-3000:],
        )
        assert everything() == before
    # Standing in for someone during the period: said above the form.
    before = everything()
    response = client.post(url("out_of_office", company), absence_post(days(30), days(30), admin_m))
    assert response.status_code == 422
    assert "stands in for" in text(response) and "data-form-errors" in text(response)
    assert everything() == before
    # The service names an inactive delegate and a non-approver absent one on its own.
    with pytest.raises(ValidationError) as error:
        out_of_office_add(
            membership=me, user=approver, starts_on=days(1), ends_on=days(1), delegate=inactive
        )
    assert "account is inactive" in str(error.value)
    with pytest.raises(ValidationError) as error:
        out_of_office_add(
            membership=not_an_approver,
            user=erp_admin,
            starts_on=days(1),
            ends_on=days(1),
            delegate=other,
        )
    assert "is not an accounting approver" in str(error.value)


def test_a_delegate_decides_in_the_absent_approvers_stead_named_in_the_history(
    company: Any, project: Any, admin: Any, approver: Any, second: Any, sub_job: Any
) -> None:
    away(company, second, 0, 0, delegate=approver)
    item = erp_send(item=sub_job, user=admin)
    client_for(approver).post(
        reverse("erp_decide", args=[company.slug, "sub_job", item.pk, "accept"]),
        {"version": str(item.erp_version)},
    )
    name = lambda u: u.get_full_name() or u.username  # noqa: E731
    page = text(client_for(admin).get(sub_job.get_absolute_url()))
    assert f"{name(approver)} for {name(second)}" in page
