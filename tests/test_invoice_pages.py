"""The Prime Contracts and Invoicing pages through the Django test client, as in the seed page
"Resend a Rejected Owner Invoice to ERP for Accounting Acceptance"."""

from __future__ import annotations

import html
import re
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from erpsync.models import ErpEvent
from invoicing.models import BillingPeriod, InvoiceLine, OwnerInvoice, PrimeContract
from projects.models import PointOfView, ToolLevel
from tests import factories as f

pytestmark = pytest.mark.django_db


# ----- helpers -----------------------------------------------------------------------------


class _FormReader(HTMLParser):
    """What a browser would submit from the form marked with `marker`: inputs (checkboxes only
    when checked), the selected option of each select, textareas."""

    def __init__(self, marker: str) -> None:
        super().__init__()
        self.marker = marker
        self.inside = False
        self.select: str | None = None
        self.first_option: str | None = None
        self.chosen = False
        self.data: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and self.marker in a:
            self.inside = True
        if not self.inside:
            return
        if tag == "input" and a.get("name"):
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                return
            if a.get("type") == "checkbox":
                self.data[a["name"]] = a.get("value") or "on"
            else:
                self.data[a["name"]] = a.get("value", "")
        elif tag == "select":
            self.select, self.first_option, self.chosen = a["name"], None, False
        elif tag == "option" and self.select:
            if self.first_option is None:
                self.first_option = a.get("value", "")
            if "selected" in a:
                self.data[self.select], self.chosen = a.get("value", ""), True

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "select" and self.select:
            if not self.chosen:
                self.data[self.select] = self.first_option or ""
            self.select = None


def form_data(page: str, marker: str) -> dict[str, str]:
    reader = _FormReader(marker)
    reader.feed(page)
    assert reader.data, f"no form [{marker}] on the page"
    return reader.data


def link(page: str, url: str) -> str:
    assert f'href="{url}"' in page, f"no link to {url}"
    return url


def text(response: Any) -> str:
    return html.unescape(response.content.decode())


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def admin_client(admin: Any) -> Client:
    return client_for(admin)


def edit_url(invoice: Any) -> str:
    return reverse("invoice_edit", args=[invoice.prime_contract.project_id, invoice.pk])


def detail_url(invoice: Any) -> str:
    return reverse("invoice_detail", args=[invoice.prime_contract.project_id, invoice.pk])


def erp_url(invoice: Any, action: str) -> str:
    project_id = invoice.prime_contract.project_id
    return reverse("invoice_erp_action", args=[project_id, invoice.pk, action])


def edit_form(client: Client, invoice: Any) -> dict[str, str]:
    response = client.get(edit_url(invoice))
    assert response.status_code == 200
    return form_data(response.content.decode(), "data-invoice-edit")


def lines_of(invoice: Any) -> list[InvoiceLine]:
    return list(InvoiceLine.objects.filter(invoice=invoice).order_by("position", "id"))


def snapshot(invoice: Any) -> tuple[Any, ...]:
    invoice = OwnerInvoice.objects.get(pk=invoice.pk)
    lines = [
        (ln.description, ln.work_completed_this_period, ln.materials_stored)
        for ln in lines_of(invoice)
    ]
    events = ErpEvent.objects.filter(object_id=invoice.pk).count()
    return (invoice.number, invoice.status, invoice.erp_state, invoice.erp_version, lines, events)


# ----- the seed page's walk ----------------------------------------------------------------


def test_the_seed_walk_fixes_a_rejected_invoice_and_resends_it(
    admin_client: Client, project: Any, invoice: Any, drive: Any
) -> None:
    drive(invoice, "rejected")
    contract = invoice.prime_contract
    # 1. Prime Contracts tool, 2. the contract's Number link, 3. the Invoices tab.
    page = text(admin_client.get(reverse("contract_list", args=[project.pk])))
    page = text(
        admin_client.get(link(page, reverse("contract_detail", args=[project.pk, contract.pk])))
    )
    page = text(
        admin_client.get(link(page, reverse("contract_invoices", args=[project.pk, contract.pk])))
    )
    assert 'data-erp-state="rejected"' in page
    # 4. The invoice's Number link: the YELLOW ribbon and the rejection reason.
    page = text(admin_client.get(link(page, detail_url(invoice))))
    assert 'data-erp-ribbon="rejected"' in page and "Wrong cost code" in page
    # 5. Edit, 6. change a line, 7. Save.
    link(page, edit_url(invoice))
    data = edit_form(admin_client, invoice)
    data["lines-0-materials_stored"] = "1500.00"
    response = admin_client.post(edit_url(invoice), data, follow=True)
    page = text(response)
    assert response.redirect_chain == [(detail_url(invoice), 302)]
    assert "Saved." in page
    first = lines_of(invoice)[0]
    assert first.materials_stored == Decimal("1500.00")
    # 10,000.00 + 1,500.00 less 10 % retainage.
    assert first.amount_due == Decimal("10350.00")
    assert "$10,350.00" in page
    # 8. Resend to ERP: the invoice is pending again, with a BLUE ribbon.
    assert 'data-erp-action="resend"' in page and 'data-erp-action="send"' not in page
    assert 'data-erp-action="resend" aria-describedby' not in page  # not greyed out
    page = text(admin_client.post(erp_url(invoice, "resend"), follow=True))
    assert 'class="ribbon blue"' in page and 'data-erp-ribbon="pending"' in page
    assert 'data-erp-action="retrieve"' in page
    invoice.refresh_from_db()
    assert invoice.erp_state == "pending" and invoice.erp_version == 2


def test_the_resent_snapshot_carries_the_edited_line(
    admin_client: Client, invoice: Any, drive: Any
) -> None:
    drive(invoice, "rejected")
    data = edit_form(admin_client, invoice)
    data["lines-1-work_completed_this_period"] = "8000.00"
    assert admin_client.post(edit_url(invoice), data).status_code == 302
    admin_client.post(erp_url(invoice, "resend"))
    event = ErpEvent.objects.get(object_id=invoice.pk, action="resend")
    assert event.snapshot["lines"][1]["work_completed_this_period"] == "8000.00"


# ----- the edit page -------------------------------------------------------------------------


def test_edit_changes_number_period_and_status(
    admin_client: Client, project: Any, invoice: Any
) -> None:
    period = f.BillingPeriodFactory(project=project)
    data = edit_form(admin_client, invoice)
    data.update(number="INV-900", billing_period=str(period.pk), status="under_review")
    assert admin_client.post(edit_url(invoice), data).status_code == 302
    invoice.refresh_from_db()
    assert (invoice.number, invoice.billing_period, invoice.status) == (
        "INV-900",
        period,
        "under_review",
    )


def test_edit_adds_a_line_from_a_blank_row_and_ignores_the_untouched_one(
    admin_client: Client, invoice: Any
) -> None:
    data = edit_form(admin_client, invoice)
    assert data["lines-TOTAL_FORMS"] == "4"
    assert data["lines-2-description"] == data["lines-3-scheduled_value"] == ""  # blank rows
    data.update(
        {
            "lines-2-description": "Landscaping",
            "lines-2-scheduled_value": "20000",
            "lines-2-work_completed_this_period": "2000",
        }
    )
    assert admin_client.post(edit_url(invoice), data).status_code == 302
    lines = lines_of(invoice)
    assert [ln.description for ln in lines][-1] == "Landscaping" and len(lines) == 3
    assert lines[-1].materials_stored == Decimal("0.00")  # blank counts as 0
    assert lines[-1].amount_due == Decimal("2000.00")


def test_edit_deletes_a_checked_line(admin_client: Client, invoice: Any) -> None:
    _first, second = lines_of(invoice)
    data = edit_form(admin_client, invoice)
    data["lines-0-DELETE"] = "on"
    assert admin_client.post(edit_url(invoice), data).status_code == 302
    assert lines_of(invoice) == [second]


def test_an_invalid_line_value_is_shown_at_its_field_and_saves_nothing(
    admin_client: Client, invoice: Any
) -> None:
    before = snapshot(invoice)
    data = edit_form(admin_client, invoice)
    data.update({"number": "INV-CHANGED", "lines-1-retainage_percent": "101"})
    response = admin_client.post(edit_url(invoice), data)
    assert response.status_code == 422
    page = text(response)
    assert 'data-error-for="lines-1-retainage_percent"' in page
    assert "Ensure this value is less than or equal to 100." in page
    assert snapshot(invoice) == before


def test_a_taken_invoice_number_is_shown_at_the_field_and_saves_nothing(
    admin_client: Client, invoice: Any
) -> None:
    f.OwnerInvoiceFactory(prime_contract=invoice.prime_contract, number="INV-TAKEN")
    before = snapshot(invoice)
    data = edit_form(admin_client, invoice)
    data.update({"number": "INV-TAKEN", "lines-0-description": "Changed"})
    response = admin_client.post(edit_url(invoice), data)
    assert response.status_code == 422
    page = text(response)
    assert 'data-error-for="number"' in page
    assert "Invoice number 'INV-TAKEN' is already used on this contract." in page
    assert snapshot(invoice) == before


def test_a_service_error_on_a_later_line_rolls_back_the_whole_save(
    admin_client: Client, invoice: Any
) -> None:
    """The number and line 1 pass; line 2's amount due overflows in the service: nothing saved."""
    before = snapshot(invoice)
    data = edit_form(admin_client, invoice)
    data.update(
        {
            "number": "INV-NEW",
            "lines-0-description": "Changed",
            # Within the (huge) scheduled value, so that only the sum overflows.
            "lines-1-scheduled_value": "999999999999.99",
            "lines-1-work_completed_this_period": "999999999999.99",
            "lines-1-materials_stored": "999999999999.99",
            "lines-1-retainage_percent": "0",
        }
    )
    response = admin_client.post(edit_url(invoice), data)
    assert response.status_code == 422
    assert "Amount due this period: Ensure that there are no more than 14 digits" in text(response)
    assert snapshot(invoice) == before


def test_a_line_of_another_invoice_cannot_be_edited_through_this_one(
    admin_client: Client, project: Any, invoice: Any
) -> None:
    other = f.invoice_ready_to_send(project=project, lines=1)
    other_line = lines_of(other)[0]
    data = edit_form(admin_client, invoice)
    data.update({"lines-0-id": str(other_line.pk), "lines-0-description": "Hijacked"})
    response = admin_client.post(edit_url(invoice), data)
    assert response.status_code == 422
    assert 'data-error-for="lines-0-id"' in text(response)
    assert "This line is no longer on this invoice" in text(response)
    other_line.refresh_from_db()
    assert other_line.description != "Hijacked"
    assert not InvoiceLine.objects.filter(description="Hijacked").exists()


def test_a_forged_edit_of_a_pending_invoice_is_refused_409_and_changes_nothing(
    admin_client: Client, invoice: Any, drive: Any
) -> None:
    drive(invoice, "rejected")
    data = edit_form(admin_client, invoice)  # the form as it was before it was resent
    drive_resend = admin_client.post(erp_url(invoice, "resend"))
    assert drive_resend.status_code == 302
    before = snapshot(invoice)
    data.update({"number": "FORGED", "lines-0-description": "Forged"})
    for response in (
        admin_client.get(edit_url(invoice)),
        admin_client.post(edit_url(invoice), data),
    ):
        assert response.status_code == 409
        assert "retrieve it to edit" in text(response)
    assert snapshot(invoice) == before


def test_the_edit_link_is_hidden_while_the_invoice_is_with_the_erp_tool(
    admin_client: Client, invoice: Any, drive: Any
) -> None:
    assert "data-edit" in text(admin_client.get(detail_url(invoice)))
    drive(invoice, "pending")
    page = text(admin_client.get(detail_url(invoice)))
    assert "data-edit" not in page and "data-lock-banner" in page


# ----- the ERP buttons -----------------------------------------------------------------------


def test_a_forged_send_of_a_draft_invoice_is_refused_409_and_changes_nothing(
    admin_client: Client, invoice: Any
) -> None:
    OwnerInvoice.objects.filter(pk=invoice.pk).update(status="draft")
    before = snapshot(invoice)
    response = admin_client.post(erp_url(invoice, "send"))
    assert response.status_code == 409
    assert "The invoice is not in the Approved status." in text(response)
    assert snapshot(invoice) == before


def test_a_greyed_out_send_says_why_in_its_tooltip(admin_client: Client, invoice: Any) -> None:
    OwnerInvoice.objects.filter(pk=invoice.pk).update(status="under_review", billing_period=None)
    page = text(admin_client.get(detail_url(invoice)))
    assert 'disabled aria-disabled="true" data-erp-action="send"' in page
    tooltip = re.search(r'data-why="send">.*?</span>\s*</span>', page, re.S)
    assert tooltip is not None
    assert "The invoice is not in the Approved status." in tooltip.group(0)
    assert "The billing period has not been created." in tooltip.group(0)


def test_send_turns_the_ribbon_blue(admin_client: Client, invoice: Any) -> None:
    page = text(admin_client.post(erp_url(invoice, "send"), follow=True))
    assert 'class="ribbon blue"' in page and 'data-erp-ribbon="pending"' in page
    assert "Sent to ERP: it waits for an accounting approver." in page


def test_an_unknown_erp_action_is_404(admin_client: Client, invoice: Any) -> None:
    assert admin_client.post(erp_url(invoice, "accept")).status_code == 404


def test_the_erp_action_url_takes_only_post(admin_client: Client, invoice: Any) -> None:
    assert admin_client.get(erp_url(invoice, "send")).status_code == 405


# ----- who sees what -------------------------------------------------------------------------


def test_a_read_only_user_gets_403_on_the_edit_page_and_sees_no_send_button(
    viewer: Any, invoice: Any
) -> None:
    client = client_for(viewer)
    page = text(client.get(detail_url(invoice)))
    assert "data-erp-action" not in page and "data-edit" not in page
    response = client.get(edit_url(invoice))
    assert response.status_code == 403
    assert "Admin permission on the project's Commitments or Prime Contracts tool" in text(response)
    assert client.post(edit_url(invoice), {"number": "X"}).status_code == 403
    assert client.post(erp_url(invoice, "send")).status_code == 403
    invoice.refresh_from_db()
    assert invoice.erp_state == "not_sent" and invoice.number != "X"


def test_a_read_only_user_sees_no_create_forms_and_cannot_post_them(
    viewer: Any, project: Any, invoice: Any
) -> None:
    client = client_for(viewer)
    contract = invoice.prime_contract
    pages = {
        reverse("contract_list", args=[project.pk]): "data-create-contract",
        reverse("contract_detail", args=[project.pk, contract.pk]): "data-contract-status",
        reverse("contract_invoices", args=[project.pk, contract.pk]): "data-new-invoice",
        reverse("invoicing", args=[project.pk]): "data-new-period",
    }
    for url, marker in pages.items():
        response = client.get(url)
        assert response.status_code == 200 and marker not in text(response), url
        assert client.post(url, {"number": "9", "status": "approved"}).status_code == 403, url
    assert PrimeContract.objects.count() == 1 and OwnerInvoice.objects.count() == 1
    assert BillingPeriod.objects.count() == 1


def test_an_invoice_contact_sees_only_that_contract_read_only(project: Any, invoice: Any) -> None:
    none = ToolLevel.NONE
    collab = f.member(
        project, admin=False, admin_level=none, prime_contracts_level=none, commitments_level=none
    )
    contract = invoice.prime_contract
    contract.invoice_contacts.add(collab)
    other = f.PrimeContractFactory(project=project)
    hidden = f.invoice_ready_to_send(project=project)
    client = client_for(collab)
    page = text(client.get(reverse("contract_list", args=[project.pk])))
    assert f'data-contract="{contract.number}"' in page
    assert f'data-contract="{other.number}"' not in page and "data-create-contract" not in page
    page = text(client.get(detail_url(invoice)))
    assert "data-erp-action" not in page and "data-edit" not in page
    assert client.get(reverse("contract_detail", args=[project.pk, other.pk])).status_code == 404
    assert client.get(detail_url(hidden)).status_code == 404
    assert client.get(reverse("invoicing", args=[project.pk])).status_code == 403
    assert client.get(edit_url(invoice)).status_code == 403


def test_a_private_contract_is_hidden_from_read_only_users(
    admin_client: Client, viewer: Any, project: Any
) -> None:
    private = f.PrimeContractFactory(project=project, private=True)
    invoice = f.OwnerInvoiceFactory(prime_contract=private, billing_period__project=project)
    url = reverse("contract_list", args=[project.pk])
    assert private.number in text(admin_client.get(url))
    client = client_for(viewer)
    assert private.number not in text(client.get(url))
    assert invoice.number not in text(client.get(reverse("invoicing", args=[project.pk])))
    assert client.get(detail_url(invoice)).status_code == 404


def test_another_companys_user_gets_404_on_contract_invoice_edit_and_erp_action(
    project: Any, invoice: Any
) -> None:
    outsider = f.member(f.ProjectFactory(), admin=True)
    client = client_for(outsider)
    contract = invoice.prime_contract
    for url in (
        reverse("contract_list", args=[project.pk]),
        reverse("contract_detail", args=[project.pk, contract.pk]),
        reverse("contract_invoices", args=[project.pk, contract.pk]),
        detail_url(invoice),
        edit_url(invoice),
        reverse("invoicing", args=[project.pk]),
    ):
        assert client.get(url).status_code == 404, url
    assert client.post(edit_url(invoice), {"number": "X"}).status_code == 404
    assert client.post(erp_url(invoice, "send")).status_code == 404
    invoice.refresh_from_db()
    assert invoice.erp_state == "not_sent" and invoice.number != "X"


def test_an_invoice_of_another_project_is_404_through_this_one(
    admin_client: Client, project: Any, company: Any
) -> None:
    elsewhere = f.invoice_ready_to_send(project=f.ProjectFactory(company=company))
    for url in (
        reverse("invoice_detail", args=[project.pk, elsewhere.pk]),
        reverse("invoice_edit", args=[project.pk, elsewhere.pk]),
        reverse("contract_detail", args=[project.pk, elsewhere.prime_contract.pk]),
    ):
        assert admin_client.get(url).status_code == 404, url


def test_an_owner_dictionary_company_sees_funding_as_the_tool_name(
    admin_client: Client, company: Any, project: Any, invoice: Any
) -> None:
    company.pov_dictionary = PointOfView.OWNER
    company.save()
    contract = invoice.prime_contract
    page = text(admin_client.get(reverse("contract_list", args=[project.pk])))
    assert "<h1>Funding</h1>" in page and "Prime Contracts" not in page
    page = text(admin_client.get(reverse("contract_detail", args=[project.pk, contract.pk])))
    assert f"<h1>Funding {contract.number}:" in page
    page = text(admin_client.get(detail_url(invoice)))
    assert f"<h1>Funding Invoice {invoice.number}</h1>" in page


# ----- creating contracts, invoices, periods ------------------------------------------------


def test_creating_a_contract_opens_it(admin_client: Client, project: Any) -> None:
    url = reverse("contract_list", args=[project.pk])
    data = form_data(text(admin_client.get(url)), "data-create-contract")
    data.update(number="PC-777", title="Annex", owner_client="City of Springfield")
    response = admin_client.post(url, data)
    contract = PrimeContract.objects.get(project=project, number="PC-777")
    assert response.status_code == 302
    assert response["Location"] == reverse("contract_detail", args=[project.pk, contract.pk])
    assert (contract.status, contract.private) == ("draft", False)


def test_a_duplicate_contract_number_is_refused_at_the_field(
    admin_client: Client, project: Any, invoice: Any
) -> None:
    url = reverse("contract_list", args=[project.pk])
    data = {
        "number": invoice.prime_contract.number,
        "title": "T",
        "owner_client": "O",
        "status": "draft",
    }
    response = admin_client.post(url, data)
    assert response.status_code == 422
    page = text(response)
    assert 'data-error-for="number"' in page and "is already used" in page
    assert PrimeContract.objects.count() == 1


def test_an_admin_approves_a_contract_on_its_general_tab(
    admin_client: Client, project: Any
) -> None:
    contract = f.PrimeContractFactory(project=project, status="draft")
    url = reverse("contract_detail", args=[project.pk, contract.pk])
    page = text(admin_client.post(url, {"status": "approved"}, follow=True))
    assert "Saved." in page
    contract.refresh_from_db()
    assert contract.status == "approved"


def test_the_contract_list_counts_each_contracts_invoices(
    admin_client: Client, project: Any, invoice: Any
) -> None:
    contract = invoice.prime_contract
    contract.private = True
    contract.save()
    contract.private_members.add(*(f.UserFactory() for _ in range(3)))
    f.OwnerInvoiceFactory(prime_contract=contract, billing_period=invoice.billing_period)
    page = text(admin_client.get(reverse("contract_list", args=[project.pk])))
    row = re.search(rf'data-contract="{contract.number}">.*?</tr>', page, re.S)
    assert row is not None and re.search(r'<td[^>]*class="num">2</td>', row.group(0))


def test_new_invoice_opens_its_edit_page(admin_client: Client, project: Any, invoice: Any) -> None:
    contract = invoice.prime_contract
    url = reverse("contract_invoices", args=[project.pk, contract.pk])
    data = form_data(text(admin_client.get(url)), "data-new-invoice")
    data.update(number="INV-NEW", billing_period=str(invoice.billing_period.pk))
    response = admin_client.post(url, data)
    created = OwnerInvoice.objects.get(prime_contract=contract, number="INV-NEW")
    assert response.status_code == 302 and response["Location"] == edit_url(created)
    assert created.status == "draft" and created.created_by is not None


def test_the_billing_period_select_offers_only_this_projects_periods(
    admin_client: Client, project: Any, company: Any, invoice: Any
) -> None:
    foreign = f.BillingPeriodFactory(project=f.ProjectFactory(company=company))
    contract = invoice.prime_contract
    url = reverse("contract_invoices", args=[project.pk, contract.pk])
    assert f'value="{foreign.pk}"' not in text(admin_client.get(url))
    response = admin_client.post(
        url, {"number": "INV-X", "billing_period": str(foreign.pk), "status": "draft"}
    )
    assert response.status_code == 422 and 'data-error-for="billing_period"' in text(response)
    assert not OwnerInvoice.objects.filter(number="INV-X").exists()


def test_a_billing_period_ending_before_it_starts_is_refused_at_the_field(
    admin_client: Client, project: Any
) -> None:
    url = reverse("invoicing", args=[project.pk])
    data = {
        "number": "7",
        "start_date": "2026-11-01",
        "end_date": "2026-10-01",
        "due_date": "2026-12-01",
    }
    response = admin_client.post(url, data)
    assert response.status_code == 422
    assert 'data-error-for="end_date"' in text(response)
    assert not BillingPeriod.objects.filter(number=7).exists()
    data["end_date"] = "2026-11-30"
    assert admin_client.post(url, data).status_code == 302
    assert BillingPeriod.objects.filter(project=project, number=7).exists()


# ----- queries --------------------------------------------------------------------------------


@pytest.mark.parametrize("page", ["contract_invoices", "invoicing"])
def test_the_invoice_lists_make_the_same_number_of_queries_for_3_and_10_invoices(
    admin_client: Client, project: Any, page: str
) -> None:
    contract = f.PrimeContractFactory(project=project)
    period = f.BillingPeriodFactory(project=project)
    args = [project.pk, contract.pk] if page == "contract_invoices" else [project.pk]
    url = reverse(page, args=args)

    def add(count: int) -> None:
        for _ in range(count):
            inv = f.OwnerInvoiceFactory(prime_contract=contract, billing_period=period)
            f.InvoiceLineFactory.create_batch(2, invoice=inv)

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert admin_client.get(url).status_code == 200
        return len(ctx)

    add(3)
    few = queries()
    add(7)
    assert queries() == few
