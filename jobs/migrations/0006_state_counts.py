"""The database counts this kind's items per state (erpsync.counts): triggers, then the
counts of the items already here."""

from django.db import migrations

from erpsync.counts import CountedTable, counting

COUNTED = CountedTable(
    table="jobs_job",
    kind="job",
    column="project_id",
    company_of="SELECT t0.company_id FROM projects_project t0 WHERE t0.id = {}",
)



class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0005_job_jobs_job_ready"),
        ("erpsync", "0010_state_counts"),
    ]

    operations = [counting(COUNTED)]
