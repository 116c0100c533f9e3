"""The Django admin of companies and their directory follows the settings pages' rules: the
last ERP tool Admin is kept, every change has an audit row naming the admin, secrets are never
shown."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import reverse

from erpsync.models import ErpEvent
from projects.models import Company, CompanyMembership, ToolLevel
from tests import factories as f
from tests.test_invoice_pages import form_data

pytestmark = pytest.mark.django_db

SECRET = "admin-never-sees-this-secret"


@pytest.fixture
def superuser() -> Any:
    return f.UserFactory(username="ops", is_staff=True, is_superuser=True)


@pytest.fixture
def ops(superuser: Any) -> Client:
    client = Client()
    client.force_login(superuser)
    return client


@pytest.fixture
def erp_admin(company: Any) -> Any:
    return f.approver(company, erp_tool_level=ToolLevel.ADMIN, can_push_to_accounting=False)


def url(model: Any, view: str, *args: Any) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def admin_form(client: Client, page_url: str) -> dict[str, str]:
    response = client.get(page_url)
    assert response.status_code == 200
    return form_data(response.content.decode(), "novalidate")


def events(obj: Any) -> list[ErpEvent]:
    return list(
        ErpEvent.objects.filter(
            content_type=ContentType.objects.get_for_model(obj), object_id=obj.pk
        ).order_by("pk")
    )


def directory(company: Any) -> list[tuple[Any, ...]]:
    return list(
        CompanyMembership.objects.filter(company=company)
        .order_by("pk")
        .values_list("user", "erp_tool_level", "can_push_to_accounting")
    )


def test_the_company_page_never_shows_the_adapters_secret(ops: Client, company: Any) -> None:
    company.erp_adapter = "webhook"
    company.erp_settings = {"url": "https://erp.example.com/hook", "secret": SECRET}
    company.save()
    body = ops.get(url(Company, "change", company.pk)).content.decode()
    assert SECRET not in body
    assert "secret=***" in body and "url=https://erp.example.com/hook" in body


def test_changing_the_dictionary_in_the_admin_writes_an_audit_row(
    ops: Client, superuser: Any, company: Any, erp_admin: Any
) -> None:
    data = admin_form(ops, url(Company, "change", company.pk))
    data["pov_dictionary"] = "specialty_contractor"
    response = ops.post(url(Company, "change", company.pk), data)
    assert response.status_code == 302
    company.refresh_from_db()
    assert company.pov_dictionary == "specialty_contractor"
    [event] = events(company)
    assert event.actor == superuser
    assert event.details["changes"] == {
        "pov_dictionary": ["General Contractors (default)", "Specialty Contractors"]
    }
    # The adapter and its settings cannot be edited there.
    assert "erp_adapter" not in data and "erp_settings" not in data


def test_a_flag_changed_in_the_admin_is_audited(
    ops: Client, superuser: Any, company: Any, erp_admin: Any, approver: Any
) -> None:
    member = CompanyMembership.objects.get(user=approver)
    data = admin_form(ops, url(CompanyMembership, "change", member.pk))
    data.pop("can_push_to_accounting", None)
    assert ops.post(url(CompanyMembership, "change", member.pk), data).status_code == 302
    member.refresh_from_db()
    assert not member.can_push_to_accounting
    [event] = events(member)
    assert event.actor == superuser
    assert event.details == {
        "changes": {"can_push_to_accounting": ["Yes", "No"]},
        "member": approver.username,
    }


def test_the_admin_cannot_remove_the_last_erp_tool_admin(
    ops: Client, company: Any, erp_admin: Any
) -> None:
    member = CompanyMembership.objects.get(user=erp_admin)
    before = (directory(company), ErpEvent.objects.count())

    data = admin_form(ops, url(CompanyMembership, "change", member.pk))
    data["erp_tool_level"] = str(ToolLevel.STANDARD)
    response = ops.post(url(CompanyMembership, "change", member.pk), data)
    assert response.status_code == 409
    assert "is the last Admin of" in response.content.decode()

    response = ops.post(url(CompanyMembership, "delete", member.pk), {"post": "yes"})
    assert response.status_code == 409
    response = ops.post(
        url(CompanyMembership, "changelist"),
        {"action": "delete_selected", "_selected_action": [member.pk], "post": "yes"},
    )
    assert response.status_code == 409

    # Nor through the company page's directory rows.
    data = admin_form(ops, url(Company, "change", company.pk))
    row = next(k for k, v in data.items() if k.endswith("-id") and v == str(member.pk))
    data[row.replace("-id", "-erp_tool_level")] = str(ToolLevel.NONE)
    assert ops.post(url(Company, "change", company.pk), data).status_code == 409
    assert (directory(company), ErpEvent.objects.count()) == before


def test_members_added_changed_and_removed_on_the_company_page_are_audited(
    ops: Client, superuser: Any, company: Any, erp_admin: Any, approver: Any
) -> None:
    newcomer = f.UserFactory(username="newcomer")
    data = admin_form(ops, url(Company, "change", company.pk))
    rows = int(data["memberships-TOTAL_FORMS"])
    target = CompanyMembership.objects.get(user=approver)
    index = next(
        k.split("-")[1] for k, v in data.items() if k.endswith("-id") and v == str(target.pk)
    )
    data[f"memberships-{index}-DELETE"] = "on"
    data |= {
        f"memberships-{rows}-user": str(newcomer.pk),
        f"memberships-{rows}-erp_tool_level": str(ToolLevel.READ_ONLY),
        f"memberships-{rows}-company": str(company.pk),
        "memberships-TOTAL_FORMS": str(rows + 1),
    }
    response = ops.post(url(Company, "change", company.pk), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert not CompanyMembership.objects.filter(pk=target.pk).exists()
    added = CompanyMembership.objects.get(user=newcomer)
    assert added.erp_tool_level == ToolLevel.READ_ONLY

    rows = ErpEvent.objects.filter(company=company, actor=superuser).order_by("pk")
    details = {e.details["member"]: (e.action, e.details["changes"]) for e in rows}
    assert details[approver.username] == ("edit", {"membership": ["member", "removed"]})
    assert details["newcomer"] == (
        "create",
        {
            "erp_tool_level": ["", "Read Only"],
            "can_push_to_accounting": ["", "No"],
            "erp_digest_subscribed": ["", "No"],
        },
    )
    assert SECRET not in json.dumps([e.details for e in rows])
