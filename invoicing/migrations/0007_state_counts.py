"""The database counts this kind's items per state (erpsync.counts): triggers, then the
counts of the items already here."""

from django.db import migrations

from erpsync.counts import CountedTable, counting

COUNTED = CountedTable(
    table="invoicing_ownerinvoice",
    kind="owner_invoice",
    column="prime_contract_id",
    company_of=(
        "SELECT t1.company_id FROM invoicing_primecontract t0 "
        "JOIN projects_project t1 ON t1.id = t0.project_id WHERE t0.id = {}"
    ),
)



class Migration(migrations.Migration):
    dependencies = [
        ("invoicing", "0006_ownerinvoice_invoicing_ownerinvoice_ready"),
        ("erpsync", "0010_state_counts"),
    ]

    operations = [counting(COUNTED)]
