"""Every demo role against every project-admin action: allowed, or refused with nothing changed.

The demo is loaded once for the module; each case runs in its own rolled-back transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from erpsync.models import ApprovalRule, ErpEvent, KindPolicy
from invoicing.models import InvoiceLine, OwnerInvoice, PrimeContract
from projects.models import Company, OutOfOffice, Project
from subjobs.models import SubJob


@pytest.fixture(scope="module")
def seeded(django_db_setup: Any, django_db_blocker: Any) -> Iterator[None]:
    with django_db_blocker.unblock():
        call_command("seed_demo", stdout=StringIO())
    yield
    with django_db_blocker.unblock():
        call_command("flush", "--noinput", verbosity=0)


def fingerprint() -> tuple[Any, ...]:
    return (
        tuple(
            SubJob.objects.order_by("pk").values_list(
                "code", "name", "status", "erp_state", "erp_version"
            )
        ),
        tuple(
            OwnerInvoice.objects.order_by("pk").values_list(
                "number", "status", "erp_state", "erp_version"
            )
        ),
        tuple(InvoiceLine.objects.order_by("pk").values_list("description", "materials_stored")),
        ErpEvent.objects.count(),
    )


def project() -> Project:
    return Project.objects.get(number="DB-100")


def sub_job(code: str) -> SubJob:
    return SubJob.objects.get(project=project(), code=code)


def invoice(number: str) -> OwnerInvoice:
    return OwnerInvoice.objects.get(prime_contract__number="PC-001", number=number)


def edit_data(inv: OwnerInvoice) -> dict[str, Any]:
    lines = list(inv.lines.order_by("position", "id"))
    data: dict[str, Any] = {
        "number": inv.number,
        "billing_period": inv.billing_period_id,
        "status": inv.status,
        "lines-TOTAL_FORMS": len(lines),
        "lines-INITIAL_FORMS": len(lines),
        "lines-MIN_NUM_FORMS": 0,
        "lines-MAX_NUM_FORMS": 1000,
    }
    for i, line in enumerate(lines):
        data |= {
            f"lines-{i}-id": line.pk,
            f"lines-{i}-description": line.description + " (edited)",
            f"lines-{i}-scheduled_value": line.scheduled_value,
            f"lines-{i}-work_completed_this_period": line.work_completed_this_period,
            f"lines-{i}-materials_stored": line.materials_stored,
            f"lines-{i}-retainage_percent": line.retainage_percent,
        }
    return data


def _sj(name: str, code: str) -> str:
    return reverse(name, args=[project().pk, sub_job(code).pk])


def _erp_sj(code: str, action: str) -> str:
    return reverse("sub_job_erp_action", args=[project().pk, sub_job(code).pk, action])


def _inv(name: str, number: str, *extra: Any) -> str:
    return reverse(name, args=[project().pk, invoice(number).pk, *extra])


# action -> (method, url, data): every URL is computed inside the test, on the seeded data.
ACTIONS: dict[str, Callable[[], tuple[str, str, dict[str, Any]]]] = {
    "add sub job": lambda: (
        "post",
        reverse("sub_job_list", args=[project().pk]),
        {"code": "99-000", "name": "Matrix"},
    ),
    "rename sub job": lambda: ("post", _sj("sub_job_rename", "02-000"), {"name": "Renamed"}),
    "approve sub job": lambda: ("post", _sj("sub_job_approve", "01-000"), {}),
    "send sub job": lambda: ("post", _erp_sj("02-000", "send"), {}),
    "resend sub job": lambda: ("post", _erp_sj("04-000", "resend"), {}),
    "retrieve sub job": lambda: ("post", _erp_sj("03-000", "retrieve"), {}),
    "edit invoice": lambda: (
        "post",
        _inv("invoice_edit", "INV-004"),
        edit_data(invoice("INV-004")),
    ),
    "send invoice": lambda: ("post", _inv("invoice_erp_action", "INV-004", "send"), {}),
    "resend invoice": lambda: ("post", _inv("invoice_erp_action", "INV-002", "resend"), {}),
    "retrieve invoice": lambda: ("post", _inv("invoice_erp_action", "INV-003", "retrieve"), {}),
    "create prime contract": lambda: (
        "post",
        reverse("contract_list", args=[project().pk]),
        {"number": "PC-999", "title": "Matrix", "owner_client": "Owner", "status": "draft"},
    ),
}
VIEWS: dict[str, Callable[[], str]] = {
    "view sub jobs": lambda: reverse("sub_job_list", args=[project().pk]),
    "view sub job": lambda: _sj("sub_job_detail", "02-000"),
    "view prime contracts": lambda: reverse("contract_list", args=[project().pk]),
    "view invoice": lambda: _inv("invoice_detail", "INV-004"),
}

ROLES = ["admin", "viewer", "collab", "approver", "outsider"]
# Who may see what; only `admin` may change anything. Refusals: another company → 404,
# a member without the tool level → 403.
MAY_VIEW = {
    "view sub jobs": {"admin", "viewer", "approver"},
    "view sub job": {"admin", "viewer", "approver"},
    "view prime contracts": {"admin", "viewer", "approver", "collab"},
    "view invoice": {"admin", "viewer", "approver", "collab"},
}


def client_for(username: str) -> Client:
    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    return client


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_each_role_may_change_only_what_it_is_allowed_to(
    seeded: None, db: None, role: str, action: str
) -> None:
    method, url, data = ACTIONS[action]()
    before = fingerprint()
    contracts_before = PrimeContract.objects.count()
    response = getattr(client_for(role), method)(url, data)
    after = fingerprint()
    if role == "admin":
        assert response.status_code in (200, 302), (action, response.status_code)
        assert after != before or PrimeContract.objects.count() == contracts_before + 1, action
    else:
        expected = 404 if role == "outsider" else 403
        assert response.status_code == expected, (role, action, response.status_code)
        assert after == before, f"{role} changed data with {action}"
        assert PrimeContract.objects.count() == contracts_before


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("view", sorted(VIEWS))
def test_each_role_sees_only_what_it_may(seeded: None, db: None, role: str, view: str) -> None:
    response = client_for(role).get(VIEWS[view]())
    if role in MAY_VIEW[view]:
        assert response.status_code == 200, (role, view)
    else:
        assert response.status_code == (404 if role == "outsider" else 403), (role, view)


# ----- the company's approval policy pages -------------------------------------------------------

COMPANY_ROLES = ["admin", "approver", "controller", "viewer", "collab", "outsider"]
# Demo Builders: approver and controller are ERP tool Admins and approvers; admin and viewer
# Read Only on the tool; collab no level; outsider is of another company (404).
COMPANY_PAGES: dict[str, tuple[str, set[str]]] = {
    "approval policy": ("settings_approval_policy", {"approver", "controller"}),
    "out of office": ("out_of_office", {"approver", "controller"}),
    "webhooks": ("webhook_list", {"approver", "controller"}),
}


def policy_fingerprint() -> tuple[Any, ...]:
    return (
        tuple(
            Company.objects.order_by("pk").values_list("block_self_approval", "remind_after_days")
        ),
        tuple(KindPolicy.objects.order_by("pk").values_list("kind", "direct_export")),
        tuple(ApprovalRule.objects.order_by("pk").values_list("kind", "min_amount")),
        tuple(OutOfOffice.objects.order_by("pk").values_list("membership", "starts_on")),
        ErpEvent.objects.count(),
    )


@pytest.mark.parametrize("role", COMPANY_ROLES)
@pytest.mark.parametrize("page", sorted(COMPANY_PAGES))
def test_each_role_opens_the_policy_pages_only_if_allowed(
    seeded: None, db: None, role: str, page: str
) -> None:
    name, allowed = COMPANY_PAGES[page]
    response = client_for(role).get(reverse(name, args=["demo-builders"]))
    expected = 200 if role in allowed else 404 if role == "outsider" else 403
    assert response.status_code == expected, (role, page, response.status_code)


@pytest.mark.parametrize("role", COMPANY_ROLES)
def test_each_role_changes_the_policy_only_if_allowed(seeded: None, db: None, role: str) -> None:
    rule = ApprovalRule.objects.get(company__slug="demo-builders")
    posts = [
        ("settings_approval_policy", [], {"remind_after_days": "3", "escalate_after_days": "6"}),
        (
            "settings_rule_add",
            ["owner_invoice"],
            {"rule-owner_invoice-min_amount": "5", "rule-owner_invoice-approvals_required": "2"},
        ),
        ("settings_rule_remove", [rule.pk], {}),
    ]
    client = client_for(role)
    for name, args, data in posts:
        before = policy_fingerprint()
        response = client.post(reverse(name, args=["demo-builders", *args]), data)
        if role in ("approver", "controller"):
            assert response.status_code == 302, (role, name, response.status_code)
            assert policy_fingerprint() != before, name
        else:
            assert response.status_code == (404 if role == "outsider" else 403), (role, name)
            assert policy_fingerprint() == before, f"{role} changed the policy with {name}"
