"""CSV downloads of every list: the filtered view, streamed, escaped, with the page's
permissions (issue 11, item 2)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from erpsync.services import erp_send
from projects.listing import csv_cell, csv_filename
from projects.models import ToolLevel
from subjobs.models import SubJob
from tests import factories as f

pytestmark = pytest.mark.django_db


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def queue(company: Any, kind: str = "sub_job", filter_: str = "ready") -> str:
    return reverse("erp_queue", args=[company.slug, kind, filter_])


def download(client: Client, url: str, query: dict[str, Any] | None = None) -> list[list[str]]:
    response = client.get(url, {**(query or {}), "format": "csv"})
    assert response.status_code == 200, response.status_code
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


def send(project: Any, admin: Any, code: str, name: str) -> SubJob:
    item = f.SubJobFactory(project=project, status="approved", code=code, name=name)
    return erp_send(item=item, user=admin)


# ----- cells -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        (Decimal("22500"), "22500.00"),
        (Decimal("-0.5"), "-0.50"),
        (Decimal("1234567.891"), "1234567.89"),
        (dt.date(2026, 11, 23), "2026-11-23"),
        (None, ""),
        (True, "Yes"),
        (7, "7"),
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tTab", "'\tTab"),
        ("Plain, with comma", "Plain, with comma"),
    ],
)
def test_cells(value: Any, cell: str) -> None:
    assert csv_cell(value) == cell


def test_moments_are_iso_8601_in_the_sites_time_zone() -> None:
    moment = dt.datetime(2026, 11, 23, 9, 30, 15, 123456, tzinfo=dt.UTC)
    assert csv_cell(moment) == timezone.localtime(moment).isoformat(timespec="seconds")
    assert csv_cell(moment).startswith("2026-11-23T09:30:15")


def test_filenames_are_plain() -> None:
    name = csv_filename('Demo "Builders"\r\n', "sub_job", "ready", filtered=True)
    assert re.fullmatch(r"demo-builders-sub_job-ready-filtered-\d{4}-\d\d-\d\d\.csv", name)


# ----- the ERP tool's queues -------------------------------------------------------------------


def test_the_queue_csv_is_the_filtered_view_with_every_page(
    company: Any, approver: Any, project: Any, admin: Any
) -> None:
    from tests.bulk import pending_sub_jobs

    pending_sub_jobs(project, admin, 130)
    send(project, admin, "03-100", "Concrete")
    client = client_for(approver)
    rows = download(client, queue(company), {"q": "bulk", "sort": "-item"})
    header, body = rows[0], rows[1:]
    assert header[:5] == ["Project", "Project name", "Sub Job ID", "Name", "Status"]
    assert "ERP state" in header and "Sent at" in header
    assert len(body) == 130  # all three pages, not the first 50
    assert [r[2] for r in body[:2]] == ["B-0000129", "B-0000128"]
    assert {r[0] for r in body} == {project.number}
    sent_at = body[0][header.index("Sent at")]
    assert dt.datetime.fromisoformat(sent_at).tzinfo is not None


def test_the_queue_csv_names_the_company_kind_state_and_filter(company: Any, approver: Any) -> None:
    client = client_for(approver)
    response = client.get(queue(company, "owner_invoice", "synced"), {"format": "csv"})
    today = timezone.localdate().isoformat()
    assert response["Content-Disposition"] == (
        f'attachment; filename="{company.slug}-owner_invoice-synced-{today}.csv"'
    )
    response = client.get(queue(company), {"format": "csv", "q": "x"})
    assert f'{company.slug}-sub_job-ready-filtered-{today}.csv"' in response["Content-Disposition"]


def test_invoice_money_is_plain_decimals_and_formulas_are_quoted(
    company: Any, approver: Any, project: Any, admin: Any
) -> None:
    invoice = f.invoice_ready_to_send(project=project, user=admin)
    invoice.prime_contract.__class__.objects.filter(pk=invoice.prime_contract_id).update(
        number="=1+1"
    )
    erp_send(item=invoice, user=admin)
    rows = download(client_for(approver), queue(company, "owner_invoice"))
    header, row = rows[0], rows[1]
    assert row[header.index("Amount due")] == "22500.00"
    assert row[header.index("Prime Contract")] == "'=1+1"
    assert row[header.index("Invoice")] == invoice.number


def test_a_deleted_sender_is_a_deleted_user(
    company: Any, approver: Any, project: Any, admin: Any
) -> None:
    sender = f.member(project, admin=True)
    send(project, sender, "06-000", "Wood")
    sender.delete()
    rows = download(client_for(approver), queue(company))
    assert rows[1][rows[0].index("Sent by")] == "a deleted user"


def test_the_history_csv(company: Any, approver: Any, project: Any, admin: Any) -> None:
    from erpsync.services import erp_reject

    erp_reject(item=send(project, admin, "07-000", "Roof"), user=approver, reason="-1 wrong")
    rows = download(client_for(approver), queue(company, filter_="history"))
    header, row = rows[0], rows[1]
    assert header[:4] == ["When", "Project", "Project name", "Sub Job ID"]
    assert row[header.index("Sub Job ID")] == "07-000"
    assert row[header.index("What")] == "Rejected"
    assert row[header.index("Reason")] == "'-1 wrong"


def test_a_csv_with_an_unreadable_filter_is_refused(company: Any, approver: Any) -> None:
    response = client_for(approver).get(
        queue(company), {"format": "csv", "sent_from": "2026-13-40"}
    )
    assert response.status_code == 400
    assert not response.streaming
    assert "Sent from: Enter a valid date." in response.content.decode()


def test_queue_csv_permissions(company: Any, project: Any, admin: Any) -> None:
    send(project, admin, "08-000", "Secret")
    outsider = f.approver(f.CompanyFactory())
    no_tool = f.approver(company, erp_tool_level=ToolLevel.NONE)
    assert client_for(outsider).get(queue(company), {"format": "csv"}).status_code == 404
    response = client_for(no_tool).get(queue(company), {"format": "csv"})
    assert response.status_code == 403
    assert b"08-000" not in response.content
    read_only = f.approver(company, erp_tool_level=ToolLevel.READ_ONLY)
    assert len(download(client_for(read_only), queue(company))) == 2


# ----- the project lists and the directory -------------------------------------------------------


def test_sub_jobs_csv(project: Any, admin: Any) -> None:
    f.SubJobFactory(project=project, code="01-000", name="@cmd")
    f.SubJobFactory(project=project, code="02-000", name="Plain", status="approved")
    url = reverse("sub_job_list", args=[project.pk])
    rows = download(client_for(admin), url, {"status": "draft"})
    assert rows[0][:3] == ["Sub Job ID", "Name", "Status"]
    assert rows[1:] == [rows[1]] and rows[1][:3] == ["01-000", "'@cmd", "Draft"]
    assert rows[1][rows[0].index("Sent by")] == ""  # never sent: nobody, not "a deleted user"


def test_invoice_lists_csv(project: Any, admin: Any) -> None:
    big = f.invoice_ready_to_send(project=project, user=admin, lines=2)
    f.invoice_ready_to_send(project=project, user=admin, lines=0)
    client = client_for(admin)
    invoicing = reverse("invoicing", args=[project.pk])
    rows = download(client, invoicing, {"amount_min": "100"})
    header = rows[0]
    assert [r[header.index("Invoice")] for r in rows[1:]] == [big.number]
    assert rows[1][header.index("Amount due")] == "22500.00"
    assert rows[1][header.index("Period start")] == "2026-10-01"
    tab = reverse("contract_invoices", args=[project.pk, big.prime_contract_id])
    assert len(download(client, tab)) == 2


def test_contracts_csv_uses_the_companys_terms(project: Any, admin: Any) -> None:
    project.company.pov_dictionary = "specialty_contractor"
    project.company.save()
    f.PrimeContractFactory(project=project, number="PC-1", title="+Tower", owner_client="City")
    rows = download(client_for(admin), reverse("contract_list", args=[project.pk]))
    assert rows[0][:3] == ["Number", "Title", "GC/Client"]
    assert rows[1][:5] == ["PC-1", "'+Tower", "City", "Approved", "No"]


def test_directory_csv(company: Any, approver: Any) -> None:
    rows = download(client_for(approver), reverse("company_members", args=[company.slug]))
    assert rows[0] == ["Name", "Username", "Email", "ERP Integrations", "Accounting approver"]
    assert [approver.username, "Standard", "Yes"] == [rows[1][1], rows[1][3], rows[1][4]]


@pytest.mark.parametrize("name", ["sub_job_list", "contract_list", "invoicing"])
def test_project_list_csv_permissions(project: Any, admin: Any, name: str) -> None:
    url = reverse(name, args=[project.pk])
    outsider = f.member(f.ProjectFactory(), admin=True)
    assert client_for(outsider).get(url, {"format": "csv"}).status_code == 404
    no_tools = f.member(
        project, admin=False, admin_level=0, prime_contracts_level=0, commitments_level=0
    )
    assert client_for(no_tools).get(url, {"format": "csv"}).status_code == 403


def test_a_contract_csv_follows_the_contracts_visibility(project: Any, admin: Any) -> None:
    private = f.PrimeContractFactory(project=project, private=True)
    reader = f.member(project, admin=False)
    url = reverse("contract_invoices", args=[project.pk, private.pk])
    assert client_for(reader).get(url, {"format": "csv"}).status_code == 404


def test_the_directory_csv_is_for_the_companys_members_only(company: Any) -> None:
    outsider = f.approver(f.CompanyFactory())
    url = reverse("company_members", args=[company.slug])
    assert client_for(outsider).get(url, {"format": "csv"}).status_code == 404
