"""Any query string on any list, page or CSV, is a page (200) or a refusal (400): never a 5xx
(property-based, hypothesis)."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse
from hypothesis import example, given, settings
from hypothesis import strategies as st

from erpsync.services import erp_send
from projects.models import CompanyMembership, ToolLevel
from tests import factories as f
from tests.test_bad_input import NUMBERISH, PROPERTY, quiet_client

pytestmark = pytest.mark.django_db

# Every parameter any list reads, and a few it does not.
PARAMS = [
    "q",
    "project",
    "sender",
    "sent_from",
    "sent_to",
    "amount_min",
    "amount_max",
    "status",
    "erp_state",
    "created_from",
    "created_to",
    "action",
    "who",
    "when_from",
    "when_to",
    "erp_tool_level",
    "sort",
    "page",
    "format",
    "nonsense",
]
DATEISH = st.one_of(st.dates().map(str), st.sampled_from(["2026-02-30", "9999-12-31", "0-0-0"]))
VALUES = st.one_of(NUMBERISH, DATEISH, st.sampled_from(["csv", "-item", "amount", "--", "-"]))
QUERIES = st.dictionaries(st.sampled_from(PARAMS), VALUES, max_size=5)


@pytest.fixture
def urls(company: Any, project: Any, admin: Any) -> list[str]:
    """Every list, for `admin`, who is also an approver on the company's ERP tool."""
    CompanyMembership.objects.filter(company=company, user=admin).update(
        erp_tool_level=ToolLevel.ADMIN, can_push_to_accounting=True
    )
    invoice = erp_send(item=f.invoice_ready_to_send(project=project, user=admin), user=admin)
    erp_send(item=f.SubJobFactory(project=project, status="approved"), user=admin)
    return [
        *(
            reverse("erp_queue", args=[company.slug, kind, state])
            for kind in ("sub_job", "owner_invoice")
            for state in ("ready", "synced", "history")
        ),
        reverse("sub_job_list", args=[project.pk]),
        reverse("contract_list", args=[project.pk]),
        reverse("contract_invoices", args=[project.pk, invoice.prime_contract_id]),
        reverse("invoicing", args=[project.pk]),
        reverse("company_members", args=[company.slug]),
    ]


@settings(PROPERTY, max_examples=30)  # each example requests all eleven lists
@given(query=QUERIES)
@example(query={"amount_min": "sNaN", "format": "csv"})
@example(query={"project": "9" * 30, "sort": "-"})
@example(query={"q": "\x00", "page": "-1"})
@example(query={"sent_from": "0001-01-01", "when_to": "9999-12-31"})
def test_any_query_on_any_list(urls: list[str], admin: Any, query: dict[str, str]) -> None:
    client = quiet_client(admin)
    for url in urls:
        response = client.get(url, query)
        assert response.status_code in (200, 400), (url, query, response.status_code)
        if response.streaming:
            b"".join(response.streaming_content)  # the whole CSV streams without an error
