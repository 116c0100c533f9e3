"""The README's walk-through of the ERP lifecycle, clicked through in Chromium against a real
Tryton and a real Celery worker: a new project is created and sent as a job, then a sub job and
an owner invoice are sent, accepted and synced; the owner's payment is booked in Tryton's own
web client (sao, Pay on the invoice), a Refresh shows the invoice paid (issue 14, "Done
when")."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from erpsync.adapters.tryton import TrytonAdapter
from invoicing.models import OwnerInvoice
from jobs.models import Job
from projects.models import Company
from subjobs.models import SubJob
from tests.browser import sao
from tests.procs import wait_for
from tests.tryton_server import tryton_server, use_tryton  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db(transaction=True)


def log_out(page: Page) -> None:
    page.get_by_role("button", name="Log out").click()


def accept_in_tool(page: Page, live_server: Any, tab: str, title: str) -> None:
    page.goto(f"{live_server.url}/")
    page.locator('a[data-erp-tool][href="/companies/demo-builders/erp/"]').click()
    page.get_by_role("link", name=tab, exact=False).first.click()
    page.locator(f'tr[data-item="{title}"]').locator("[data-decision=accept]").click()
    expect(page.locator(f'tr[data-decided="{title}"]')).to_contain_text("accepted")


def synced(model: Any, **lookup: Any) -> Any:
    wait_for(
        lambda: model.objects.filter(erp_state="synced", **lookup).exists(),
        f"{model.__name__} {lookup} synced",
        timeout=60,
    )
    return model.objects.get(**lookup)


def test_a_new_project_its_sub_job_and_a_paid_invoice_through_tryton(
    page: Page,
    live_server: Any,
    demo: None,
    login: Any,
    worker: None,
    tryton_server: dict[str, str],  # noqa: F811
) -> None:
    company = Company.objects.get(slug="demo-builders")
    use_tryton(company, tryton_server)
    tryton = TrytonAdapter(company=company, settings=tryton_server)

    # 1. The project admin creates the project and sends it as a job.
    login("admin")
    page.locator('a[data-new-project][href="/companies/demo-builders/projects/new/"]').click()
    page.get_by_label("Project number").fill("P-500")
    page.get_by_label("Project name").fill("Dockside Lofts")
    page.get_by_role("button", name="Create project").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Job P-500")
    page.locator("[data-erp-action=send]").click()
    expect(page.locator("[data-erp-ribbon]")).to_have_attribute("data-erp-ribbon", "pending")
    log_out(page)

    # 2. The approver accepts the job; the worker makes it an analytic account in Tryton.
    login("approver")
    accept_in_tool(page, live_server, "Jobs", "job P-500")
    job = synced(Job, project__number="P-500")
    (account,) = tryton.search_read(
        "analytic_account.account", [["id", "=", int(job.erp_id)]], ["code", "name"]
    )
    assert (account["code"], account["name"]) == ("P-500", "P-500 Dockside Lofts")
    log_out(page)

    # 3. The project admin adds a sub job and sends it; a billing period, an approved prime
    # contract and an approved invoice with a line, sent too.
    login("admin")
    page.get_by_role("link", name="P-500 Dockside Lofts").click()
    expect(page.locator("[data-synced]")).to_have_count(0)
    page.locator('a[data-tool="Admin"]').click()
    page.get_by_role("link", name="Sub Jobs").click()
    page.get_by_label("Sub Job ID").fill("01-100")
    page.get_by_label("Name").fill("Sitework")
    page.get_by_role("button", name="Add").click()
    row = page.locator('tr[data-sub-job="01-100"]')
    row.locator("[data-approve]").click()
    expect(row.locator("[data-status]")).to_have_text("Approved")
    row.get_by_role("link", name="View").click()
    page.locator("[data-erp-action=send]").click()
    expect(page.locator("[data-erp-ribbon]")).to_have_attribute("data-erp-ribbon", "pending")

    project_url = f"{live_server.url}/projects/{job.project_id}/"
    page.goto(f"{project_url}invoicing/")
    today = date.today()
    page.locator("#id_number").fill("1")
    page.locator("#id_start_date").fill((today - timedelta(days=20)).isoformat())
    page.locator("#id_end_date").fill(today.isoformat())
    page.locator("#id_due_date").fill((today + timedelta(days=30)).isoformat())
    page.get_by_role("button", name="Create").click()
    expect(page.locator('tr[data-period="1"]')).to_be_visible()

    page.goto(f"{project_url}prime-contracts/")
    page.locator("#id_number").fill("PC-500")
    page.locator("#id_title").fill("Dockside Lofts – Prime Contract")
    page.locator("#id_owner_client").fill("Dockside Holdings")
    page.locator("#id_status").select_option(label="Approved")
    page.get_by_role("button", name="Create").click()
    page.get_by_role("link", name="Invoices").click()
    page.locator("#id_number").fill("INV-500")
    page.locator("#id_billing_period").select_option(index=1)
    page.locator("#id_status").select_option(label="Approved")
    page.get_by_role("button", name="Create").click()
    page.locator('[name="lines-0-description"]').fill("Sitework and foundations")
    page.locator('[name="lines-0-scheduled_value"]').fill("100000.00")
    page.locator('[name="lines-0-work_completed_this_period"]').fill("40000.00")
    page.locator('[name="lines-0-materials_stored"]').fill("0.00")
    page.locator('[name="lines-0-retainage_percent"]').fill("10")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Saved.")).to_be_visible()
    page.locator("[data-erp-action=send]").click()
    expect(page.locator("[data-erp-ribbon]")).to_have_attribute("data-erp-ribbon", "pending")
    log_out(page)

    # 4. The approver accepts both; the worker exports them to Tryton.
    login("approver")
    accept_in_tool(page, live_server, "Sub Jobs", "sub job 01-100")
    accept_in_tool(page, live_server, "Owner Invoices", "owner invoice INV-500")
    sub_job = synced(SubJob, project__number="P-500", code="01-100")
    invoice = synced(OwnerInvoice, number="INV-500")
    (sub_account,) = tryton.search_read(
        "analytic_account.account", [["id", "=", int(sub_job.erp_id)]], ["parent", "name"]
    )
    assert (sub_account["parent"], sub_account["name"]) == (int(job.erp_id), "01-100 Sitework")
    (tryton_invoice,) = tryton.search_read(
        "account.invoice", [["id", "=", int(invoice.erp_id)]], ["state", "total_amount"]
    )
    assert tryton_invoice["state"] == "posted"
    assert Decimal(str(tryton_invoice["total_amount"])) == Decimal("36000.00")

    # 5. The owner pays: in Tryton's web client (a tab of its own), the invoice's Pay button.
    # Refresh brings the payment back and the invoice shows paid.
    tryton_tab = page.context.new_page()
    sao.log_in(tryton_tab, tryton_server["url"])
    form = sao.open_posted_customer_invoice(tryton_tab, "Dockside Holdings", "36,000.00")
    expect(form.locator("select[name=state] option:checked")).to_have_text("Posted")
    sao.pay(tryton_tab, form)
    tryton_tab.close()
    (paid_in_tryton,) = tryton.search_read(
        "account.invoice",
        [["id", "=", int(invoice.erp_id)]],
        ["state", "amount_to_pay", "payment_lines"],
    )
    assert paid_in_tryton["state"] == "paid"
    assert Decimal(str(paid_in_tryton["amount_to_pay"])) == Decimal("0.00")
    payments = tryton.search_read(
        "account.move.line", [["id", "in", paid_in_tryton["payment_lines"]]], ["credit"]
    )
    assert sum(Decimal(str(line["credit"])) for line in payments) == Decimal("36000.00")
    page.goto(f"{live_server.url}/companies/demo-builders/erp/owner_invoice/synced/")
    page.locator('tr[data-item="owner invoice INV-500"]').locator(
        "[data-erp-action=refresh]"
    ).click()
    synced_row = page.locator('tr[data-item="owner invoice INV-500"]')
    expect(synced_row.locator("[data-paid]")).to_be_visible()
    log_out(page)

    login("admin")
    page.goto(f"{project_url}prime-contracts/{invoice.prime_contract_id}/invoices/")
    page.get_by_role("link", name="INV-500").click()
    # Paid today, though due in 30 days: the payment's date, not Tryton's maturity date.
    expect(page.locator("[data-erp-paid]")).to_contain_text(
        f"$36,000.00 Paid in full on {today.day} {today:%b %Y}"
    )
    expect(page.locator("[data-paid]")).to_be_visible()
    expect(page.locator("[data-erp-due]")).to_have_text("$0.00")
    invoice.refresh_from_db()
    assert invoice.erp_paid and invoice.erp_amount_due == Decimal("0.00")
