"""Issue 11, defects 7, 8 and 19: the queue's counts, reject dialog and bulk bar."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from erpsync.services import erp_send
from tests import factories as f

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def queue(company: Any, filter_: str = "ready") -> str:
    return reverse("erp_queue", args=[company.slug, "sub_job", filter_])


def decide_url(item: Any, decision: str) -> str:
    return reverse("erp_decide", args=[item.erp_company.slug, item.erp_kind, item.pk, decision])


def text(response: Any) -> str:
    return html.unescape(response.content.decode())


@pytest.fixture
def two_pending(project: Any, admin: Any) -> list[Any]:
    return [
        erp_send(item=f.SubJobFactory(project=project, status="approved"), user=admin)
        for _ in range(2)
    ]


# ----- 7: counts after an inline decision ------------------------------------------------------


def oob_navs(body: str) -> dict[str, str]:
    """The out-of-band elements of an htmx answer, by id."""
    found = re.findall(r'<nav[^>]*id="([^"]+)"[^>]*hx-swap-oob="true"[^>]*>(.*?)</nav>', body, re.S)
    return dict(found)


def test_an_inline_accept_sends_the_tabs_and_filters_with_fresh_counts(
    company: Any, approver: Any, two_pending: list[Any]
) -> None:
    item = two_pending[0]
    response = client_for(approver).post(decide_url(item, "accept"), {"version": 1}, **HTMX)
    assert response.status_code == 200
    navs = oob_navs(text(response))
    assert set(navs) == {"erp-tabs", "erp-filters"}
    assert 'data-count="sub_job">1<' in navs["erp-tabs"]
    assert "Ready to Export (1)" in navs["erp-filters"]
    assert "Exporting (1)" in navs["erp-filters"]
    # Wrapped in <template>, so that htmx can parse them beside a table row.
    assert re.search(r"</tr>\s*<template>\s*<nav", text(response))


def test_an_inline_reject_and_a_refusal_also_send_fresh_counts(
    company: Any, approver: Any, two_pending: list[Any], admin: Any
) -> None:
    client = client_for(approver)
    response = client.post(decide_url(two_pending[0], "reject"), {"reason": "No"}, **HTMX)
    assert 'data-count="sub_job">1<' in oob_navs(text(response))["erp-tabs"]
    # Someone else accepted the other meanwhile: the refusal's row brings the counts too.
    from erpsync.services import erp_accept

    erp_accept(item=two_pending[1], user=f.approver(company))
    refused = client.post(decide_url(two_pending[1], "accept"), {"version": 1}, **HTMX)
    assert refused.status_code == 409
    navs = oob_navs(text(refused))
    assert 'data-count="sub_job">0<' in navs["erp-tabs"]
    assert "Exporting (1)" in navs["erp-filters"]


def test_the_redrawn_state_links_keep_the_search_of_the_page(
    company: Any, approver: Any, two_pending: list[Any]
) -> None:
    page = f"http://testserver{queue(company)}?q=01&sort=-waiting&page=2"
    response = client_for(approver).post(
        decide_url(two_pending[0], "accept"),
        {"version": 1},
        HTTP_HX_CURRENT_URL=page,
        **HTMX,
    )
    filters = oob_navs(response.content.decode())["erp-filters"]
    assert f'href="{queue(company, "synced")}?q=01"' in filters


# ----- 8: the reject dialog --------------------------------------------------------------------


def test_the_reject_dialog_names_the_item(
    company: Any, approver: Any, two_pending: list[Any]
) -> None:
    item = two_pending[0]
    body = text(client_for(approver).get(queue(company)))
    dialog = re.search(rf'<dialog id="reject-sub_job-{item.pk}".*?</dialog>', body, re.S)
    assert dialog is not None
    assert f'<h2 id="reject-sub_job-{item.pk}-title">Reject {item.erp_title}</h2>' in dialog[0]
    assert f'aria-labelledby="reject-sub_job-{item.pk}-title"' in dialog[0]


def test_a_refused_reject_comes_back_as_a_modal_with_the_reason_typed(
    company: Any, approver: Any, two_pending: list[Any]
) -> None:
    item = two_pending[0]
    response = client_for(approver).post(decide_url(item, "reject"), {"reason": "  "}, **HTMX)
    assert response.status_code == 422
    dialog = re.search(r"<dialog[^>]*>", text(response))
    assert dialog is not None
    # Not `open` (a non-modal dialog, without backdrop): app.js opens it with showModal().
    assert "data-show-modal" in dialog[0] and " open" not in dialog[0]
    assert f"Reject {item.erp_title}</h2>" in text(response)
    assert "data-reason-error" in text(response)


# ----- 19: the bulk bar --------------------------------------------------------------------------


def test_a_bulk_reject_without_reason_keeps_the_selection_and_shows_the_error_at_the_reason(
    company: Any, approver: Any, project: Any, admin: Any
) -> None:
    items = [
        erp_send(item=f.SubJobFactory(project=project, status="approved"), user=admin)
        for _ in range(3)
    ]
    chosen = items[:2]
    response = client_for(approver).post(
        reverse("erp_bulk", args=[company.slug, "sub_job"]),
        {
            "decision": "reject",
            "selected": [f"{i.pk}:1" for i in chosen],
            "reason": "  ",
            "next": f"{queue(company)}?q=Sub",
        },
    )
    assert response.status_code == 422
    body = text(response)
    for item in chosen:
        assert re.search(rf'value="{item.pk}:1"[^>]*checked', body), item
    assert not re.search(rf'value="{items[2].pk}:1"[^>]*checked', body)
    dialog = re.search(r'<dialog id="bulk-reject".*?</dialog>', body, re.S)
    assert dialog is not None and "data-show-modal" in dialog[0]
    assert "data-reason-error" in dialog[0] and "Enter a reason" in dialog[0]
    # The page is the one the approver was on: its search is still applied.
    assert 'value="Sub"' in body
    assert {i.erp_state for i in items} == {"pending"}


def test_the_bulk_bar_is_hidden_on_an_empty_queue(company: Any, approver: Any) -> None:
    body = text(client_for(approver).get(queue(company)))
    assert 'id="bulk-form"' not in body
    assert "Accept selected" not in body and "data-select-all" not in body


def test_a_select_all_checkbox_heads_the_rows(
    company: Any, approver: Any, two_pending: list[Any]
) -> None:
    body = text(client_for(approver).get(queue(company)))
    assert 'id="bulk-form"' in body
    assert re.search(r'<input type="checkbox" data-select-all aria-label="Select all rows', body)
