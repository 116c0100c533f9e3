"""Your API tokens page: create (shown once), list, revoke (POST with CSRF), audited; and the
tokens in the Django admin, read-only and never with their hash."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from api.models import ApiToken
from api.services import token_create
from erpsync.models import ErpEvent
from projects.models import PointOfView
from tests import factories as f

pytestmark = pytest.mark.django_db

PAGE = "/account/api-tokens/"
RAW = re.compile(r"esk_[0-9a-f]{12}_[A-Za-z0-9_-]{40,}")


@pytest.fixture
def browser(client: Client, approver: Any) -> Client:
    client.force_login(approver)
    return client


def create(browser: Client, company: Any, **fields: Any) -> Any:
    data = {"name": "Month-end script", "company": company.pk, "expiry": "90", **fields}
    return browser.post(PAGE, data)


def test_the_page_needs_a_login_and_is_linked_from_the_top_bar(client: Client, approver: Any):
    assert client.get(PAGE).status_code == 302
    client.force_login(approver)
    home = client.get("/").content.decode()
    assert f'href="{reverse("api_tokens")}"' in home


def test_a_new_token_is_shown_once_works_and_is_audited(
    browser: Client, company: Any, approver: Any
) -> None:
    response = create(browser, company)
    assert response.status_code == 201
    assert "no-store" in response["Cache-Control"]
    html = response.content.decode()
    [raw] = set(RAW.findall(html))
    token = ApiToken.objects.get(user=approver)
    assert raw.startswith(f"esk_{token.lookup}_") and raw not in token.hashed
    assert "only time" in html and "data-copy" in html
    # Never again: the list shows the prefix only.
    later = browser.get(PAGE).content.decode()
    assert raw not in later and token.shown_prefix in later
    assert "Month-end script" in later and "Read and write" in later
    # It works, in its company, as its user.
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get(f"/api/v1/companies/{company.slug}/sub-jobs/").status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None
    assert (token.expires_at - timezone.now()).days in (89, 90)
    audit = ErpEvent.objects.get(
        content_type=ContentType.objects.get_for_model(ApiToken), object_id=token.pk
    )
    assert audit.actor == approver and audit.company == company


def test_read_only_and_an_expiry_day(browser: Client, company: Any, approver: Any) -> None:
    day = timezone.localdate() + dt.timedelta(days=10)
    response = create(browser, company, read_only="on", expiry="date", expires_on=day.isoformat())
    assert response.status_code == 201
    token = ApiToken.objects.get(user=approver)
    assert token.read_only
    assert timezone.localtime(token.expires_at).date() == day + dt.timedelta(days=1)
    assert "Read only" in browser.get(PAGE).content.decode()


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"name": "  "}, "name", "This field is required"),
        ({"name": "x" * 101}, "name", "under 100 characters"),
        ({"expiry": "date"}, "expires_on", "Choose the day"),
        ({"expiry": "date", "expires_on": "2020-01-01"}, "expires_on", "Choose a day from"),
        ({"expiry": "date", "expires_on": "2024-02-30"}, "expires_on", "valid date"),
        ({"expiry": "7"}, "expiry", "Select a valid choice"),
    ],
)
def test_a_refused_token_says_why_at_its_field_and_nothing_is_made(
    browser: Client, company: Any, fields: dict[str, str], field: str, message: str
) -> None:
    response = create(browser, company, **fields)
    assert response.status_code == 422
    html = response.content.decode()
    error = re.search(rf'data-field-error="{field}">(.*?)</ul>', html, re.S)
    assert error and message in error.group(1), html
    assert not ApiToken.objects.exists()
    assert not RAW.search(html)


def test_only_your_own_companies_are_offered(browser: Client, company: Any) -> None:
    other = f.CompanyFactory(name="Not Yours Ltd")
    page = browser.get(PAGE).content.decode()
    assert company.name in page and "Not Yours Ltd" not in page
    response = create(browser, other)
    assert response.status_code == 422
    assert not ApiToken.objects.exists()


def test_a_user_without_a_company_is_told_why_there_is_no_form(client: Client) -> None:
    client.force_login(f.UserFactory())
    html = client.get(PAGE).content.decode()
    assert "data-no-companies" in html and "data-token-form" not in html


def test_revoke_is_a_post_of_your_own_token_audited_and_final(
    browser: Client, company: Any, approver: Any
) -> None:
    token, raw = token_create(user=approver, company=company, name="BI dashboard")
    url = reverse("api_token_revoke", args=[token.pk])
    assert browser.get(url).status_code == 405
    response = browser.post(url, follow=True)
    assert response.status_code == 200
    assert "Revoked “BI dashboard”" in response.content.decode()
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert 'data-status="revoked"' in response.content.decode()
    assert ErpEvent.objects.filter(object_id=token.pk, details__changes__has_key="api token")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get(f"/api/v1/companies/{company.slug}/sub-jobs/").status_code == 401
    # Someone else's token is not there for you.
    theirs, _ = token_create(user=f.approver(company), company=company, name="theirs")
    assert browser.post(reverse("api_token_revoke", args=[theirs.pk])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None


def test_revoke_needs_the_csrf_token(approver: Any, company: Any) -> None:
    token, _ = token_create(user=approver, company=company, name="x")
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(approver)
    assert strict.post(reverse("api_token_revoke", args=[token.pk])).status_code == 403
    token.refresh_from_db()
    assert token.revoked_at is None


def test_htmx_gets_the_panel_alone(browser: Client, company: Any, approver: Any) -> None:
    created = browser.post(
        PAGE,
        {"name": "n", "company": company.pk, "expiry": "30"},
        headers={"HX-Request": "true"},
    )
    html = created.content.decode()
    assert created.status_code == 201 and "<html" not in html
    assert html.lstrip().startswith('<div id="api-tokens"') and RAW.search(html)
    token = ApiToken.objects.get(user=approver)
    revoked = browser.post(
        reverse("api_token_revoke", args=[token.pk]), headers={"HX-Request": "true"}
    )
    assert revoked.status_code == 200 and "<html" not in revoked.content.decode()
    assert "data-token-notice" in revoked.content.decode()


def test_expired_tokens_are_listed_as_expired_without_a_revoke_button(
    browser: Client, company: Any, approver: Any
) -> None:
    token, _ = token_create(user=approver, company=company, name="old")
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - dt.timedelta(days=1))
    html = browser.get(PAGE).content.decode()
    row = re.search(rf'<tr data-token="{token.pk}".*?</tr>', html, re.S)
    assert row and 'data-status="expired"' in row.group(0) and "Revoke" not in row.group(0)


def test_the_list_names_what_the_api_serves_in_the_companys_own_terms(
    browser: Client, company: Any, approver: Any
) -> None:
    company.pov_dictionary = PointOfView.OWNER
    company.save()
    token_create(user=approver, company=company, name="owner side")
    html = browser.get(PAGE).content.decode()
    assert "Funding Invoices" in html and "Owner Invoices" not in html


def test_the_admin_lists_tokens_read_only_and_never_their_hash(
    client: Client, company: Any, approver: Any
) -> None:
    token, raw = token_create(user=approver, company=company, name="script")
    client.force_login(f.UserFactory(is_staff=True, is_superuser=True))
    listing = client.get("/admin/api/apitoken/").content.decode()
    assert "script" in listing and token.shown_prefix in listing
    page = client.get(f"/admin/api/apitoken/{token.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert token.hashed not in html and raw not in html
    assert 'name="name"' not in html and 'name="read_only"' not in html  # nothing to edit
    assert client.get("/admin/api/apitoken/add/").status_code == 403
    assert client.post(f"/admin/api/apitoken/{token.pk}/delete/").status_code == 403
