"""Optimistic concurrency on the edit forms: a save from a form opened before someone else's
change is refused with 409 and shows what changed meanwhile; nothing is saved."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from invoicing.models import OwnerInvoice
from invoicing.services import owner_invoice_update
from subjobs.models import SubJob
from subjobs.services import sub_job_update
from tests import factories as f
from tests.test_invoice_pages import client_for, edit_form, edit_url, form_data, snapshot, text

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def named(user: Any, first: str, last: str) -> Any:
    user.first_name, user.last_name = first, last
    user.save(update_fields=["first_name", "last_name"])
    return user


def test_a_stale_invoice_save_is_refused_409_with_what_changed_and_saves_nothing(
    project: Any, invoice: Any, admin: Any
) -> None:
    mine = client_for(admin)
    data = edit_form(mine, invoice)  # opened in one tab
    assert data["seen_event"].isdigit()
    colleague = named(f.member(project, admin=True), "Sam", "Colleague")
    owner_invoice_update(invoice=invoice, user=colleague, number="INV-SAM")  # another tab
    before = snapshot(invoice)

    data["number"] = "INV-MINE"
    data["lines-0-description"] = "My description"
    response = mine.post(edit_url(invoice), data)

    assert response.status_code == 409
    page = text(response)
    assert "changed since you opened it" in page
    assert "Sam Colleague edited" in page and "“INV-SAM”" in page
    assert snapshot(invoice) == before  # neither the number nor the line was saved
    # The page keeps my input and now carries the newest row: saving again is deliberate.
    again = form_data(response.content.decode(), "data-invoice-edit")
    assert again["number"] == "INV-MINE" and again["seen_event"] != data["seen_event"]
    saved = mine.post(edit_url(invoice), again)
    assert saved.status_code == 302
    assert OwnerInvoice.objects.get(pk=invoice.pk).number == "INV-MINE"


def test_a_fresh_invoice_save_goes_through(invoice: Any, admin: Any) -> None:
    mine = client_for(admin)
    data = edit_form(mine, invoice)
    data["number"] = "INV-FRESH"
    assert mine.post(edit_url(invoice), data).status_code == 302
    assert OwnerInvoice.objects.get(pk=invoice.pk).number == "INV-FRESH"


@pytest.mark.parametrize("value", ["-1", "abc", "١٢", "", "9" * 30])
def test_a_damaged_form_marker_is_refused_422_and_saves_nothing(
    invoice: Any, admin: Any, value: str
) -> None:
    mine = client_for(admin)
    data = edit_form(mine, invoice)
    data["seen_event"] = value
    data["number"] = "INV-DAMAGED"
    before = snapshot(invoice)
    response = mine.post(edit_url(invoice), data)
    assert response.status_code == 422
    assert "reload the page" in text(response)
    assert snapshot(invoice) == before


def test_a_stale_inline_rename_is_refused_409_and_keeps_the_other_name(
    project: Any, sub_job: Any, admin: Any
) -> None:
    mine = client_for(admin)
    url = reverse("sub_job_rename", args=[project.pk, sub_job.pk])
    editor = mine.get(url, **HTMX).content.decode()
    seen = re.search(r'name="seen_event" value="(\d+)"', editor)
    assert seen
    colleague = named(f.member(project, admin=True), "Sam", "Colleague")
    sub_job_update(sub_job=sub_job, user=colleague, name="Sam's name")

    response = mine.post(url, {"name": "My name", "seen_event": seen.group(1)}, **HTMX)

    assert response.status_code == 409
    body = text(response)
    assert "Sam Colleague edited" in body and "“Sam's name”" in body
    assert "data-inline-edit" in body  # still editing, with my input
    assert SubJob.objects.get(pk=sub_job.pk).name == "Sam's name"
    newer = re.search(r'name="seen_event" value="(\d+)"', body)
    assert newer and int(newer.group(1)) > int(seen.group(1))
    saved = mine.post(url, {"name": "My name", "seen_event": newer.group(1)}, **HTMX)
    assert saved.status_code == 200
    assert SubJob.objects.get(pk=sub_job.pk).name == "My name"


def test_a_client_that_sends_no_marker_saves_as_before(
    admin_client: Client, project: Any, sub_job: Any
) -> None:
    url = reverse("sub_job_rename", args=[project.pk, sub_job.pk])
    assert admin_client.post(url, {"name": "Plain"}, **HTMX).status_code == 200
    assert SubJob.objects.get(pk=sub_job.pk).name == "Plain"


@pytest.fixture
def admin_client(admin: Any) -> Client:
    return client_for(admin)
