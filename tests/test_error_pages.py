"""The app's own 403, 404 and 500 pages, and refusals that say who acted, when, and where to
go back to (issue 11, defects 16 and 18)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from erpsync.services import erp_retrieve, erp_send
from tests.test_invoice_pages import client_for, text

pytestmark = pytest.mark.django_db

TECHNICAL = '<meta name="robots" content="NONE,NOARCHIVE">'


@pytest.mark.parametrize("debug", [True, False])
def test_an_unknown_address_shows_the_apps_404_page(settings: Any, admin: Any, debug: bool) -> None:
    settings.DEBUG = debug
    response = client_for(admin).get("/no/such/page/")
    assert response.status_code == 404
    body = text(response)
    assert TECHNICAL not in body
    assert "data-not-found" in body and "/no/such/page/" in body
    assert 'class="topbar"' in body  # the app's layout, logged in


def test_a_missing_object_shows_the_apps_404_page_in_debug_mode(
    settings: Any, admin: Any, project: Any
) -> None:
    settings.DEBUG = True
    response = client_for(admin).get(reverse("sub_job_detail", args=[project.pk, 10**9]))
    assert response.status_code == 404
    assert TECHNICAL not in text(response) and "data-not-found" in text(response)


def test_developers_can_ask_for_djangos_technical_pages(settings: Any, admin: Any) -> None:
    settings.DEBUG = True
    settings.ERPSYNC_TECHNICAL_ERROR_PAGES = True
    assert TECHNICAL in text(client_for(admin).get("/no/such/page/"))


@pytest.mark.urls("tests.error_urls")
@pytest.mark.parametrize("debug", [True, False])
def test_a_crash_shows_the_apps_500_page(settings: Any, admin: Any, debug: bool) -> None:
    settings.DEBUG = debug
    client = Client(raise_request_exception=False)
    client.force_login(admin)
    response = client.get("/broken/")
    assert response.status_code == 500
    body = text(response)
    assert TECHNICAL not in body and "RuntimeError" not in body
    assert "Something went wrong on our side" in body and 'class="topbar"' in body


def test_a_403_is_the_apps_page(viewer: Any, project: Any) -> None:
    response = client_for(viewer).get(reverse("sub_job_list", args=[project.pk]) + "x")
    assert response.status_code == 404  # an unknown address, not a hint
    response = client_for(viewer).post(
        reverse("sub_job_list", args=[project.pk]), {"code": "X", "name": "Y"}
    )
    assert response.status_code == 403
    body = text(response)
    assert "Not allowed" in body and 'class="topbar"' in body


def test_a_refused_stale_accept_says_who_acted_when_and_links_back(
    company: Any, sub_job: Any, admin: Any, approver: Any
) -> None:
    admin.first_name, admin.last_name = "Alex", "Admin"
    admin.save()
    erp_send(item=sub_job, user=admin)
    # The approver opened version 1; meanwhile the sender retrieved it and sent it again.
    erp_send(item=erp_retrieve(item=sub_job, user=admin), user=admin)
    url = reverse("erp_decide", args=[company.slug, "sub_job", sub_job.pk, "accept"])
    response = client_for(approver).post(url, {"version": "1"})
    assert response.status_code == 409
    body = text(response)
    assert "changed since you opened it" in body
    assert "Alex Admin last acted on it at" in body and "version 1 is now 2" in body
    assert 'aria-label="Breadcrumb"' in body and f"sub job {sub_job.code}" in body
    queue = reverse("erp_queue", args=[company.slug, "sub_job", "ready"])
    assert f'href="{queue}">Back' in body


def test_a_refused_resend_shows_breadcrumbs_and_who_acted(
    project: Any, sub_job: Any, admin: Any
) -> None:
    erp_send(item=sub_job, user=admin)
    url = reverse("sub_job_erp_action", args=[project.pk, sub_job.pk, "resend"])
    response = client_for(admin).post(url)
    assert response.status_code == 409
    body = text(response)
    assert "was already sent to ERP by" in body
    assert 'aria-label="Breadcrumb"' in body and project.name in body
    detail = reverse("sub_job_detail", args=[project.pk, sub_job.pk])
    assert f'href="{detail}">Back' in body
