"""The Ready to Export page costs the same queries for 10 pending items as for 10,000."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from erpsync.kinds import erp_item_models
from tests import factories as f
from tests.bulk import pending_sub_jobs

pytestmark = pytest.mark.django_db


def queries_for(client: Client, url: str) -> int:
    # Content types are cached per process: warm, as in any running server, whichever tests
    # ran before this one.
    ContentType.objects.get_for_models(*erp_item_models())
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx)


def test_ready_to_export_costs_the_same_queries_for_10_and_10000_items(
    company: Any, project: Any, admin: Any, approver: Any
) -> None:
    invoices = [f.invoice_ready_to_send(project=project, user=admin) for _ in range(3)]
    client = Client()
    client.force_login(approver)
    url = reverse("erp_queue", args=[company.slug, "sub_job", "ready"])
    invoice_url = reverse("erp_queue", args=[company.slug, "owner_invoice", "ready"])

    pending_sub_jobs(project, admin, 10)
    few = queries_for(client, url)
    # 10 for the list, its filter bar and the tabs' counts (one per kind: jobs, sub jobs, owner
    # invoices), 3 for the approval policy (the user's export rights, the kind's rules, the
    # rows' last editors).
    assert few <= 13, "the page should need only a handful of queries"

    pending_sub_jobs(project, admin, 9990, start=10)
    page = client.get(url).content.decode()
    assert "Page 1 of 200 (10000 items)" in page
    assert page.count('data-item="sub job B-') == 50
    assert queries_for(client, url) == few
    assert queries_for(client, url + "?page=200") == few

    from erpsync.services import erp_send

    for invoice in invoices:
        erp_send(item=invoice, user=admin)
    assert queries_for(client, invoice_url) == few


def test_a_filtered_and_sorted_page_costs_the_same_queries_for_10_and_10000_items(
    company: Any, project: Any, admin: Any, approver: Any
) -> None:
    client = Client()
    client.force_login(approver)
    url = reverse("erp_queue", args=[company.slug, "sub_job", "ready"])
    query = (
        f"?q=bulk+sub&project={project.pk}&sender={admin.pk}&sent_from=2000-01-01"
        "&sent_to=9998-12-31&sort=-item"
    )

    pending_sub_jobs(project, admin, 10)
    few = queries_for(client, url + query)
    # 10 for the list, its filter bar and the tabs' counts (one per kind), 3 for the approval
    # policy (the user's export rights, the kind's rules, the rows' last editors), 2 to check a
    # chosen project and sender.
    assert few <= 15, "the page should need only a handful of queries"

    pending_sub_jobs(project, admin, 9990, start=10)
    page = client.get(url + query).content.decode()
    assert "Page 1 of 200 (10000 items)" in page
    assert 'data-item="sub job B-0009999"' in page
    assert queries_for(client, url + query) == few
    assert queries_for(client, url + query + "&page=200") == few

    invoices = [f.invoice_ready_to_send(project=project, user=admin) for _ in range(3)]
    from erpsync.services import erp_send

    for invoice in invoices:
        erp_send(item=invoice, user=admin)
    invoice_url = reverse("erp_queue", args=[company.slug, "owner_invoice", "ready"])
    amounts = (
        f"?q=INV&project={project.pk}&sender={admin.pk}&amount_min=1&amount_max=100000&sort=-amount"
    )
    assert queries_for(client, invoice_url + amounts) == few


def test_an_unfiltered_page_counts_the_queue_once(
    company: Any, project: Any, admin: Any, approver: Any
) -> None:
    # The tabs count every state already: an unfiltered list takes its total from them
    # rather than a second COUNT over the whole queue (30 ms at 100,000 items).
    client = Client()
    client.force_login(approver)
    url = reverse("erp_queue", args=[company.slug, "sub_job", "ready"])
    pending_sub_jobs(project, admin, 120)
    for query, counts in (("", 0), ("?sort=-item", 0), ("?q=bulk+sub", 1)):
        ContentType.objects.get_for_models(*erp_item_models())
        with CaptureQueriesContext(connection) as ctx:
            page = client.get(url + query).content.decode()
        assert "Page 1 of 3 (120 items)" in page
        assert sum("COUNT(*)" in q["sql"] for q in ctx.captured_queries) == counts, query
