"""Tryton's own web client (sao, which tryton/build.sh installs from npm and the tests' Tryton
server serves at its /), driven as a person does: the clicks of the README's walk-through,
"Pay it in Tryton"."""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect


def log_in(page: Page, url: str, username: str = "admin", password: str = "admin") -> None:
    """sao's login: the database is the server's only one, then the user name, then a dialog
    asking for the password. Done when the menu shows."""
    page.goto(url)
    expect(page.locator("input#database")).to_have_value("erpsync")
    page.locator("input#login").fill(username)
    page.get_by_role("button", name="Login").click()
    page.locator("#ask-dialog-entry").fill(password)
    page.get_by_role("button", name="OK").click()
    expect(page.locator("#menu").get_by_text("Financial", exact=True)).to_be_visible()


def open_posted_customer_invoice(page: Page, party: str, total: str) -> Locator:
    """Financial > Invoices > Customer Invoices, the Posted tab, then the party's invoice
    (double-click on its number: a double-click on the party's name opens the party).
    Returns the tab showing the invoice's form."""
    menu = page.locator("#menu")
    menu.get_by_text("Financial", exact=True).click()
    menu.get_by_text("Invoices", exact=True).click()
    menu.get_by_text("Customer Invoices", exact=True).click()
    tab = page.locator("#tabcontent .tab-pane.active")
    tab.get_by_role("tab", name="Posted").click()
    row = tab.locator("tbody tr", has_text=party).filter(has_text=total)
    expect(row).to_have_count(1)
    row.locator('td[data-title^="Number"]').dblclick()
    expect(tab.get_by_role("button", name="Pay")).to_be_visible()
    return tab


def pay(page: Page, form: Locator, payment_method: str = "Cash") -> None:
    """The invoice's Pay button: Tryton's Pay Invoice wizard offers the amount due today; pick
    the payment method and OK. Tryton then reconciles and the form shows the state Paid."""
    form.get_by_role("button", name="Pay").click()
    dialog = page.locator(".modal-dialog", has_text="Pay Invoice")
    dialog.locator("select[name=payment_method]").select_option(label=payment_method)
    dialog.get_by_role("button", name="OK").click()
    expect(dialog).to_have_count(0)
    expect(form.locator("select[name=state] option:checked")).to_have_text("Paid")
