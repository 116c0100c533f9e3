"""Set up the books of a fresh Tryton database for erpsync; safe to run again.

Run with the Tryton venv's python (it needs proteus and trytond), after trytond-admin has
activated account_invoice and analytic_invoice:

    var/tryton/venv/bin/python tryton/setup_books.py -c var/tryton/trytond.conf -d erpsync

It talks to the database directly (proteus with a local trytond, no server) and creates what
is missing: the company "Demo Builders" in USD, the chart of accounts from the English
template, a fiscal year for the current year with monthly periods, a strict move sequence and
invoice sequences, a "Direct" payment term, an analytic root "Jobs" and an invoice payment
method "Cash" (the Cash journal, account 1.1.1), which the Pay button of an invoice in Tryton's
web client asks for. The first-login configuration wizards (languages, users, company, chart)
are marked done: this script did their work, and the web client would otherwise open them at
the user's first login.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from decimal import Decimal

COMPANY_NAME = "Demo Builders"
CHART = "account.account_template_root_en"
PAYMENT_TERM = "Direct"
ANALYTIC_ROOT = "Jobs"
PAYMENT_METHOD = "Cash"
# "Cash and Cash Equivalents" in the English chart, the account Tryton's own tests pay into.
CASH_ACCOUNT_CODE = "1.1.1"


def step(name: str, started: float) -> None:
    print(f"  {name}: {time.monotonic() - started:.1f} s", flush=True)


def setup(database: str, config_file: str, company_name: str) -> None:
    from proteus import Model, Wizard, config

    started = time.monotonic()
    cfg = config.set_trytond(database=database, config_file=config_file)
    step("connected", started)

    Company = Model.get("company.company")
    Party = Model.get("party.party")
    Currency = Model.get("currency.currency")
    User = Model.get("res.user")

    currencies = Currency.find([("code", "=", "USD")])
    if currencies:
        (usd,) = currencies
    else:
        usd = Currency(name="U.S. Dollar", symbol="$", code="USD", rounding=Decimal("0.01"))
        usd.save()

    companies = Company.find([("party.name", "=", company_name)])
    if companies:
        (company,) = companies
    else:
        party = Party(name=company_name)
        party.save()
        wizard = Wizard("company.company.config")
        wizard.execute("company")
        wizard.form.party = party
        wizard.form.currency = usd
        wizard.execute("add")
        (company,) = Company.find([("party.name", "=", company_name)])
        print(f"  created company {company_name} (id {company.id})")
    # The admin user works in this company from now on.
    cfg._context = User.get_preferences(True, {})
    step("company", started)

    Account = Model.get("account.account")
    if not Account.find([("company", "=", company.id)], limit=1):
        ModelData = Model.get("ir.model.data")
        AccountTemplate = Model.get("account.account.template")
        template = AccountTemplate(ModelData.get_id(CHART, cfg.context))
        wizard = Wizard("account.create_chart")
        wizard.execute("account")
        wizard.form.account_template = template
        wizard.form.company = company
        wizard.execute("create_account")

        def first(kind: str):
            (account,) = Account.find(
                [(f"type.{kind}", "=", True), ("company", "=", company.id), ("closed", "!=", True)],
                limit=1,
            )
            return account

        wizard.form.account_receivable = first("receivable")
        wizard.form.account_payable = first("payable")
        wizard.form.category_account_revenue = first("revenue")
        wizard.form.category_account_expense = first("expense")
        wizard.execute("create_properties")
        print("  created the chart of accounts")
    step("chart of accounts", started)

    FiscalYear = Model.get("account.fiscalyear")
    today = datetime.date.today()
    if not FiscalYear.find(
        [
            ("company", "=", company.id),
            ("start_date", "<=", today),
            ("end_date", ">=", today),
        ]
    ):
        SequenceStrict = Model.get("ir.sequence.strict")
        SequenceType = Model.get("ir.sequence.type")
        name = str(today.year)
        (move_type,) = SequenceType.find([("name", "=", "Account Move")], limit=1)
        move_sequence = SequenceStrict(name=name, sequence_type=move_type, company=company)
        move_sequence.save()
        (invoice_type,) = SequenceType.find([("name", "=", "Invoice")], limit=1)
        invoice_sequence = SequenceStrict(
            name=f"Invoices {name}", sequence_type=invoice_type, company=company
        )
        invoice_sequence.save()
        fiscalyear = FiscalYear(
            name=name,
            start_date=datetime.date(today.year, 1, 1),
            end_date=datetime.date(today.year, 12, 31),
            company=company,
            move_sequence=move_sequence,
        )
        (sequences,) = fiscalyear.invoice_sequences
        sequences.out_invoice_sequence = invoice_sequence
        sequences.in_invoice_sequence = invoice_sequence
        sequences.out_credit_note_sequence = invoice_sequence
        sequences.in_credit_note_sequence = invoice_sequence
        fiscalyear.save()
        fiscalyear.click("create_period")
        print(f"  created fiscal year {name} with {len(fiscalyear.periods)} periods")
    step("fiscal year", started)

    PaymentTerm = Model.get("account.invoice.payment_term")
    if not PaymentTerm.find([("name", "=", PAYMENT_TERM)]):
        term = PaymentTerm(name=PAYMENT_TERM)
        term.lines.new(type="remainder")
        term.save()
        print(f"  created payment term {PAYMENT_TERM}")

    Analytic = Model.get("analytic_account.account")
    if not Analytic.find([("type", "=", "root"), ("company", "=", company.id)]):
        Analytic(name=ANALYTIC_ROOT, code="JOBS", type="root", company=company).save()
        print(f"  created analytic root {ANALYTIC_ROOT}")
    step("payment term and analytic root", started)

    PaymentMethod = Model.get("account.invoice.payment.method")
    if not PaymentMethod.find([("company", "=", company.id)]):
        Journal = Model.get("account.journal")
        (journal,) = Journal.find([("type", "=", "cash")], limit=1)
        (cash,) = Account.find([("company", "=", company.id), ("code", "=", CASH_ACCOUNT_CODE)])
        PaymentMethod(
            name=PAYMENT_METHOD,
            company=company,
            journal=journal,
            credit_account=cash,
            debit_account=cash,
        ).save()
        print(f"  created invoice payment method {PAYMENT_METHOD}")
    step("payment method", started)

    WizardItem = Model.get("ir.module.config_wizard.item")
    for item in WizardItem.find([("state", "=", "open")]):
        item.state = "done"
        item.save()
    print(f"Books ready for {company_name} in database {database}.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-c", "--config", required=True, help="The trytond config file.")
    parser.add_argument("-d", "--database", required=True, help="The database name.")
    parser.add_argument("--company", default=COMPANY_NAME, help="The company's name.")
    args = parser.parse_args(argv)
    setup(args.database, args.config, args.company)
    return 0


if __name__ == "__main__":
    sys.exit(main())
