"""The database counts this kind's items per state (erpsync.counts): triggers, then the
counts of the items already here."""

from django.db import migrations

from erpsync.counts import CountedTable, counting

COUNTED = CountedTable(
    table="invoicing_ownerinvoice",
    kind="owner_invoice",
    column="prime_contract_id",
    company_of="SELECT p.company_id FROM invoicing_primecontract c JOIN projects_project p ON p.id = c.project_id WHERE c.id = {}",
)



class Migration(migrations.Migration):
    dependencies = [
        ("invoicing", "0006_ownerinvoice_invoicing_ownerinvoice_ready"),
        ("erpsync", "0010_state_counts"),
    ]

    operations = [counting(COUNTED)]
