"""Search, filters and sort on the project lists (Sub Jobs, Prime Contracts, a contract's
Invoices tab, the Invoicing tool) and the company directory (issue 11, item 2)."""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from erpsync.services import erp_send
from invoicing.models import OwnerInvoice, PrimeContract
from subjobs.models import SubJob
from tests import factories as f

pytestmark = pytest.mark.django_db


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def text(response: Any) -> str:
    return html.unescape(response.content.decode())


def listed(response: Any, attr: str) -> list[str]:
    assert response.status_code == 200, response.status_code
    return re.findall(rf'<tr[^>]* {attr}="([^"]+)"', text(response))


def created_on(model: Any, obj: Any, day: dt.date) -> None:
    moment = timezone.make_aware(dt.datetime.combine(day, dt.time(9)))
    model.objects.filter(pk=obj.pk).update(created_at=moment)


# ----- Sub Jobs ---------------------------------------------------------------------------------


@pytest.fixture
def sub_jobs(project: Any, admin: Any) -> dict[str, SubJob]:
    jobs = {
        "draft": f.SubJobFactory(project=project, code="01-000", name="General Requirements"),
        "approved": f.SubJobFactory(
            project=project, code="02-000", name="Site Work", status="approved"
        ),
        "sent": erp_send(
            item=f.SubJobFactory(
                project=project, code="03-000", name="Concrete", status="approved"
            ),
            user=admin,
        ),
    }
    created_on(SubJob, jobs["draft"], dt.date(2026, 9, 1))
    created_on(SubJob, jobs["approved"], dt.date(2026, 10, 1))
    created_on(SubJob, jobs["sent"], dt.date(2026, 11, 1))
    return jobs


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, ["01-000", "02-000", "03-000"]),
        ({"q": "site"}, ["02-000"]),
        ({"q": "03-"}, ["03-000"]),
        ({"status": "draft"}, ["01-000"]),
        ({"erp_state": "pending"}, ["03-000"]),
        ({"erp_state": "not_sent", "status": "approved"}, ["02-000"]),
        ({"created_from": "2026-10-01"}, ["02-000", "03-000"]),
        ({"created_to": "2026-10-01"}, ["01-000", "02-000"]),
        ({"sort": "-code"}, ["03-000", "02-000", "01-000"]),
        ({"sort": "name"}, ["03-000", "01-000", "02-000"]),
        ({"sort": "-created_at", "q": "0"}, ["03-000", "02-000", "01-000"]),
    ],
)
def test_the_sub_jobs_list_narrows_and_sorts(
    project: Any, admin: Any, sub_jobs: Any, query: dict[str, str], expected: list[str]
) -> None:
    response = client_for(admin).get(reverse("sub_job_list", args=[project.pk]), query)
    assert listed(response, "data-sub-job") == expected


def test_the_sub_jobs_sender_filter(project: Any, admin: Any, sub_jobs: Any) -> None:
    other = f.member(project, admin=True)
    url = reverse("sub_job_list", args=[project.pk])
    assert listed(client_for(admin).get(url, {"sender": admin.pk}), "data-sub-job") == ["03-000"]
    assert listed(client_for(admin).get(url, {"sender": other.pk}), "data-sub-job") == []


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("status", "archived"),
        ("erp_state", "lost"),
        ("created_from", "2026-13-40"),
        ("created_to", "31/31/2026"),
        ("sender", "abc"),
        ("sort", "erp_secret"),
        ("q", "a\x00b"),
    ],
)
def test_the_sub_jobs_list_refuses_unreadable_filters(
    project: Any, admin: Any, sub_jobs: Any, param: str, value: str
) -> None:
    response = client_for(admin).get(reverse("sub_job_list", args=[project.pk]), {param: value})
    assert response.status_code == 400
    assert f'data-error-for="{param}"' in text(response)
    assert "data-sub-job=" not in text(response)


def test_adding_a_sub_job_keeps_working_below_the_filter_bar(project: Any, admin: Any) -> None:
    url = reverse("sub_job_list", args=[project.pk])
    response = client_for(admin).post(
        url, {"code": "09-000", "name": "Finishes"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert 'data-sub-job="09-000"' in text(response) and "data-filter-bar" in text(response)


def test_the_sub_jobs_list_pages_with_its_filters(project: Any, admin: Any) -> None:
    SubJob.objects.bulk_create(
        SubJob(project=project, code=f"X-{n:03d}", name=f"Bulk {n}") for n in range(60)
    )
    url = reverse("sub_job_list", args=[project.pk])
    client = client_for(admin)
    body = text(client.get(url, {"q": "bulk", "sort": "-code"}))
    assert "Page 1 of 2 (60 items)" in body and body.count("data-sub-job=") == 50
    assert f'href="{url}?q=bulk&sort=-code&page=2" rel="next"' in body
    second = client.get(url, {"q": "bulk", "sort": "-code", "page": 2})
    assert listed(second, "data-sub-job") == [f"X-{n:03d}" for n in range(9, -1, -1)]


def test_the_sub_jobs_list_costs_the_same_queries_filtered_for_3_or_300(
    project: Any, admin: Any
) -> None:
    url = reverse("sub_job_list", args=[project.pk])
    query = {"q": "bulk", "status": "draft", "sender": admin.pk, "sort": "-created_at"}
    client = client_for(admin)

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url, query).status_code == 200
        return len(ctx)

    SubJob.objects.bulk_create(SubJob(project=project, code=f"A{n}", name="Bulk") for n in range(3))
    few = count()
    SubJob.objects.bulk_create(
        SubJob(project=project, code=f"B{n}", name="Bulk") for n in range(300)
    )
    assert count() == few


# ----- invoices --------------------------------------------------------------------------------


@pytest.fixture
def invoices(project: Any, admin: Any) -> dict[str, OwnerInvoice]:
    contract = f.PrimeContractFactory(project=project, number="PC-7", title="Tower")
    made = {
        "big": f.invoice_ready_to_send(project=project, user=admin, lines=2),  # 22,500.00
        "small": f.invoice_ready_to_send(project=project, user=admin, lines=1),  # 11,250.00
        "empty": f.OwnerInvoiceFactory(
            prime_contract=contract, billing_period__project=project, status="draft"
        ),
    }
    erp_send(item=made["small"], user=admin)
    return made


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"amount_min": "11250.00"}, {"big", "small"}),
        ({"amount_max": "11250"}, {"small", "empty"}),
        ({"amount_min": "0", "amount_max": "0"}, {"empty"}),
        ({"status": "draft"}, {"empty"}),
        ({"erp_state": "pending"}, {"small"}),
        ({"q": "tower"}, {"empty"}),
        ({"q": "PC-7"}, {"empty"}),
    ],
)
def test_the_invoicing_tools_invoices_narrow(
    project: Any, admin: Any, invoices: Any, query: dict[str, str], expected: set[str]
) -> None:
    response = client_for(admin).get(reverse("invoicing", args=[project.pk]), query)
    assert set(listed(response, "data-invoice")) == {invoices[k].number for k in expected}


def test_invoices_sort_by_amount_and_show_it(project: Any, admin: Any, invoices: Any) -> None:
    response = client_for(admin).get(reverse("invoicing", args=[project.pk]), {"sort": "amount"})
    numbers = [invoices[k].number for k in ("empty", "small", "big")]
    assert listed(response, "data-invoice") == numbers
    assert "$22,500.00" in text(response) and "$0.00" in text(response)


@pytest.mark.parametrize("amount", ["abc", "sNaN", "-Infinity", "1e400", "0.001"])
def test_unreadable_amounts_are_field_errors(
    project: Any, admin: Any, invoices: Any, amount: str
) -> None:
    contract = invoices["big"].prime_contract
    for url in (
        reverse("invoicing", args=[project.pk]),
        reverse("contract_invoices", args=[project.pk, contract.pk]),
    ):
        response = client_for(admin).get(url, {"amount_max": amount})
        assert response.status_code == 400
        assert 'data-error-for="amount_max"' in text(response)


def test_a_contracts_invoices_tab_filters_its_own_invoices(
    project: Any, admin: Any, invoices: Any
) -> None:
    contract = invoices["big"].prime_contract
    url = reverse("contract_invoices", args=[project.pk, contract.pk])
    assert listed(client_for(admin).get(url), "data-invoice") == [invoices["big"].number]
    assert listed(client_for(admin).get(url, {"q": "PC-7"}), "data-invoice") == []


# ----- prime contracts ---------------------------------------------------------------------------


def test_the_prime_contracts_list_narrows_and_sorts(project: Any, admin: Any) -> None:
    a = f.PrimeContractFactory(project=project, number="PC-1", title="Tower", status="draft")
    b = f.PrimeContractFactory(project=project, number="PC-2", title="Garage", owner_client="City")
    f.OwnerInvoiceFactory(prime_contract=b, billing_period__project=project)
    created_on(PrimeContract, a, dt.date(2026, 1, 5))
    url = reverse("contract_list", args=[project.pk])
    client = client_for(admin)
    assert listed(client.get(url, {"q": "tower"}), "data-contract") == ["PC-1"]
    assert listed(client.get(url, {"q": "city"}), "data-contract") == ["PC-2"]
    assert listed(client.get(url, {"status": "draft"}), "data-contract") == ["PC-1"]
    assert listed(client.get(url, {"created_to": "2026-01-05"}), "data-contract") == ["PC-1"]
    assert listed(client.get(url, {"sort": "-invoices", "q": "PC-"}), "data-contract")[0] == "PC-2"
    assert client.get(url, {"status": "lost"}).status_code == 400


# ----- the company directory ---------------------------------------------------------------------


def test_the_directory_searches_names_across_first_and_last(company: Any) -> None:
    pat = f.UserFactory(username="papprover", first_name="Pat", last_name="Approver")
    f.CompanyMembershipFactory(company=company, user=pat, erp_tool_level=20)
    other = f.UserFactory(username="sam", first_name="Sam", last_name="Patterson")
    f.CompanyMembershipFactory(company=company, user=other)
    url = reverse("company_members", args=[company.slug])
    client = client_for(pat)
    assert listed(client.get(url, {"q": "pat approver"}), "data-member") == ["papprover"]
    assert listed(client.get(url, {"q": "PAT"}), "data-member") == ["papprover", "sam"]
    assert listed(client.get(url, {"q": "sam@"}), "data-member") == ["sam"]
    assert listed(client.get(url, {"erp_tool_level": "20"}), "data-member") == ["papprover"]
    assert listed(client.get(url, {"sort": "-username"}), "data-member") == ["sam", "papprover"]
    assert client.get(url, {"erp_tool_level": "99"}).status_code == 400
