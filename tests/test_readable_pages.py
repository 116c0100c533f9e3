"""What a new user found (issue 11): previews and history that read like a document, input
never cut short without a word, questionable values refused at the field, words from the
company's dictionary, and a lock that tells each user what they can do."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from erpsync.services import erp_reject, erp_resend, erp_send
from invoicing.models import BillingPeriod, InvoiceLine
from invoicing.services import billing_period_create, invoice_line_update
from subjobs.models import SubJob
from subjobs.services import sub_job_create
from tests import factories as f
from tests.test_invoice_pages import client_for, edit_form, edit_url, snapshot, text

pytestmark = pytest.mark.django_db


def visible(body: str) -> str:
    """The page's words, without tags and their attributes (URLs carry kinds' keys)."""
    return re.sub(r"<[^>]+>", " ", body)


def preview_url(item: Any) -> str:
    return reverse("erp_item", args=[item.erp_company.slug, item.erp_kind, item.pk])


# ----- defect 13: the preview reads like a document -------------------------------------------


def test_the_preview_labels_fields_in_terms_and_formats_money_and_dates(
    company: Any, invoice: Any, admin: Any, approver: Any
) -> None:
    company.pov_dictionary = "owner"
    company.save()
    erp_send(item=invoice, user=admin)
    body = text(client_for(approver).get(preview_url(invoice)))
    # Labels, not keys; the company's words; money as currency; dates as dates.
    assert "Funding Invoice " + invoice.number in body
    words = visible(body)
    assert "owner_invoice" not in words and "Kind" not in words
    assert "erp job id" not in words and "ERP job id" in words
    assert "Work completed this period" in words and "work_completed" not in words
    assert re.search(r"\$\d{1,3}(,\d{3})*\.\d\d", body)
    assert "$22,500.00" in body  # the amount due of the factory's two lines
    period = invoice.billing_period
    assert f"{period.start_date.day} {period.start_date:%b %Y}" in body
    assert period.start_date.isoformat() not in body
    assert "<h3>Funding</h3>" in body  # the prime contract section, in the Owners dictionary


def test_accept_is_at_the_top_and_at_the_bottom_of_the_preview(
    invoice: Any, admin: Any, approver: Any
) -> None:
    for _ in range(60):  # a long invoice
        f.InvoiceLineFactory(invoice=invoice)
    erp_send(item=invoice, user=admin)
    body = text(client_for(approver).get(preview_url(invoice)))
    assert body.count("data-decisions") == 2
    assert body.count('data-decision="accept"') == 2
    top, bottom = body.index("data-decisions"), body.rindex("data-decisions")
    assert top < body.index("data-submitted") < bottom


# ----- defect 1: a failed export's preview offers Retry export and Reject ------------------


def test_the_preview_of_a_failed_export_offers_retry_and_reject(
    sub_job: Any, approver: Any, drive: Any
) -> None:
    failed = drive(sub_job, "export_failed")
    body = text(client_for(approver).get(preview_url(failed)))
    assert 'data-decision="retry"' in body and 'data-decision="reject"' in body
    assert "Comment for the sender (optional" in body
    assert "Reject sub job " + failed.code in body  # the dialog names the item


# ----- defect 14: history rows show the item as it was then -------------------------------


def test_history_rows_show_each_version_as_it_was_submitted(
    invoice: Any, admin: Any, approver: Any
) -> None:
    erp_send(item=invoice, user=admin)
    erp_reject(item=invoice, user=approver, reason="First")
    line = invoice.lines.first()
    invoice_line_update(line=line, user=admin, materials_stored=Decimal("100.00"))
    erp_resend(item=invoice, user=admin)
    erp_reject(item=invoice, user=approver, reason="Second")
    url = reverse("invoice_detail", args=[invoice.prime_contract.project_id, invoice.pk])
    body = text(client_for(admin).get(url))
    summaries = re.findall(r"\(version (\d): amount due (\$[\d,.]+)\)", body)
    # Each rejection shows the total of the version it rejected, not today's.
    assert ("1", "$22,500.00") in summaries and ("2", "$20,340.00") in summaries
    assert "Line 1 › Materials stored: $2,500.00 → $100.00" in body
    assert "materials_stored" not in body


# ----- defect 9: input is never cut short without a word ----------------------------------


def test_a_31_character_code_is_refused_at_the_field_not_cut(project: Any, admin: Any) -> None:
    client = client_for(admin)
    page = text(client.get(reverse("sub_job_list", args=[project.pk])))
    assert "maxlength" not in page
    response = client.post(
        reverse("sub_job_list", args=[project.pk]), {"code": "X" * 31, "name": "Long"}
    )
    assert response.status_code == 422
    assert "at most 30 characters (it has 31)" in text(response)
    assert not SubJob.objects.filter(name="Long").exists()


def test_a_600_character_name_is_refused_at_the_field_not_cut(
    project: Any, sub_job: Any, admin: Any
) -> None:
    client = client_for(admin)
    url = reverse("sub_job_rename", args=[project.pk, sub_job.pk])
    editor = text(client.get(url, HTTP_HX_REQUEST="true"))
    assert "maxlength" not in editor
    response = client.post(url, {"code": sub_job.code, "name": "N" * 600}, HTTP_HX_REQUEST="true")
    assert response.status_code == 422
    assert "at most 200 characters (it has 600)" in text(response)
    sub_job.refresh_from_db()
    assert sub_job.name != "N" * 200 and len(sub_job.name) < 200


def test_a_301_character_line_description_is_refused_at_the_field_not_cut(
    invoice: Any, admin: Any
) -> None:
    client = client_for(admin)
    page = client.get(edit_url(invoice)).content.decode()
    assert "maxlength" not in page
    data = edit_form(client, invoice)
    data["lines-0-description"] = "D" * 301
    before = snapshot(invoice)
    response = client.post(edit_url(invoice), data)
    assert response.status_code == 422
    assert "at most 300 characters (it has 301)" in text(response)
    assert snapshot(invoice) == before


# ----- defect 10: questionable values are refused with a reason ---------------------------


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("work_completed_this_period", "100000.01", "is more than the line's scheduled value"),
        ("work_completed_this_period", "-5.00", "cannot be negative"),
        ("materials_stored", "-1.00", "Materials stored cannot be negative"),
    ],
)
def test_questionable_line_amounts_are_refused_at_the_field(
    invoice: Any, admin: Any, field: str, value: str, message: str
) -> None:
    client = client_for(admin)
    data = edit_form(client, invoice)
    data[f"lines-0-{field}"] = value
    before = snapshot(invoice)
    response = client.post(edit_url(invoice), data)
    assert response.status_code == 422
    page = text(response)
    assert message in page
    assert re.search(rf'data-error-for="lines-0-{field}"', page)
    assert snapshot(invoice) == before


def test_overlapping_billing_periods_are_refused(project: Any, admin: Any) -> None:
    import datetime as dt

    BillingPeriod.objects.filter(project=project).delete()
    billing_period_create(
        project=project,
        user=admin,
        number=1,
        start_date=dt.date(2026, 10, 1),
        end_date=dt.date(2026, 10, 31),
        due_date=dt.date(2026, 11, 15),
    )
    response = client_for(admin).post(
        reverse("invoicing", args=[project.pk]),
        {
            "number": 2,
            "start_date": "2026-10-20",
            "end_date": "2026-11-19",
            "due_date": "2026-12-01",
        },
    )
    assert response.status_code == 422
    assert "overlap billing period 1" in text(response)
    # Dates as every page writes them (no leading zero).
    assert "(1 Oct 2026 – 31 Oct 2026)" in text(response)
    assert BillingPeriod.objects.filter(project=project).count() == 1


def test_sub_job_ids_that_differ_only_in_case_are_refused(project: Any, admin: Any) -> None:
    sub_job_create(project=project, user=admin, code="01-abc", name="First")
    response = client_for(admin).post(
        reverse("sub_job_list", args=[project.pk]), {"code": "01-ABC", "name": "Second"}
    )
    assert response.status_code == 422
    assert "differs only in case from '01-abc'" in text(response)
    # The database refuses it too, whatever path a row takes.
    with pytest.raises(IntegrityError), transaction.atomic():
        SubJob.objects.create(project=project, code="01-ABC", name="Raw")


# ----- defect 11: the Owners dictionary everywhere on the project page ---------------------


def test_project_tiles_follow_the_owners_dictionary(company: Any, project: Any, admin: Any) -> None:
    company.pov_dictionary = "owner"
    company.save()
    body = visible(text(client_for(admin).get(reverse("project", args=[project.pk]))))
    assert "owner invoice" not in body.lower()
    assert "Funding and their invoices" not in body
    assert "Funding Invoices on each funding" in body
    assert "every funding invoice" in body


# ----- defect 12: only those who can retrieve are told to ---------------------------------


def test_only_senders_are_told_to_retrieve_to_edit(
    project: Any, invoice: Any, admin: Any, approver: Any
) -> None:
    erp_send(item=invoice, user=admin)
    url = reverse("invoice_detail", args=[project.pk, invoice.pk])
    assert "retrieve it to edit" in text(client_for(admin).get(url))
    viewer = f.member(project, admin=False)
    contact = f.UserFactory()
    f.CompanyMembershipFactory(company=project.company, user=contact)
    f.ProjectMembershipFactory(project=project, user=contact)
    invoice.prime_contract.invoice_contacts.add(contact)
    for user in (viewer, contact):
        body = text(client_for(user).get(url))
        assert "retrieve it to edit" not in body
        assert "once its sender retrieves it or an approver rejects it" in body
    preview = text(client_for(approver).get(preview_url(invoice)))
    assert "retrieve it to edit" not in preview


def test_line_services_refuse_more_work_than_scheduled(invoice: Any, admin: Any) -> None:
    from django.core.exceptions import ValidationError

    line = InvoiceLine.objects.filter(invoice=invoice).first()
    with pytest.raises(ValidationError) as refused:
        invoice_line_update(line=line, user=admin, work_completed_this_period=Decimal("999999.00"))
    assert "work_completed_this_period" in refused.value.message_dict


# ----- defects 6 and 14 in the ERP tool's Rejected and Retrieved list ----------------------


def test_the_rejected_and_retrieved_list_reads_right_and_shows_each_version_as_it_was(
    company: Any, invoice: Any, admin: Any, approver: Any
) -> None:
    from erpsync.services import erp_retrieve

    erp_send(item=invoice, user=admin)
    erp_reject(item=invoice, user=approver, reason="First")
    invoice_line_update(line=invoice.lines.first(), user=admin, materials_stored=Decimal("100.00"))
    erp_resend(item=invoice, user=admin)
    erp_reject(item=invoice, user=approver, reason="Second")
    invoice_line_update(line=invoice.lines.first(), user=admin, materials_stored=Decimal("0.00"))
    erp_retrieve(item=erp_resend(item=invoice, user=admin), user=admin)
    url = reverse("erp_queue", args=[company.slug, "owner_invoice", "history"])
    body = text(client_for(approver).get(url))
    assert "Retrieve from ERPd" not in body and "Rejected" in body
    assert re.findall(r"data-done>([^<]+)<", body) == [
        "Retrieved from ERP",
        "Rejected",
        "Rejected",
    ]
    summaries = re.findall(r"version (\d): amount due (\$[\d,.]+)", body)
    assert summaries == [("3", "$20,250.00"), ("2", "$20,340.00"), ("1", "$22,500.00")]


# ----- defect 20: frictions ---------------------------------------------------------------


def test_retrieve_asks_before_it_acts_and_the_legend_explains_the_approver_badge(
    project: Any, sub_job: Any, admin: Any
) -> None:
    erp_send(item=sub_job, user=admin)
    page = text(client_for(admin).get(reverse("sub_job_detail", args=[project.pk, sub_job.pk])))
    assert re.search(r'<form[^>]*data-confirm="Retrieve it from the ERP Integrations tool\?', page)
    legend = text(client_for(admin).get(reverse("erp_icons")))
    assert "data-legend-approver" in legend and "accounting approver" in legend
