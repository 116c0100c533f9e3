"""The item counts per state that the database keeps (erpsync.counts) always equal the items
counted one by one, whatever writes them, on PostgreSQL and on SQLite (the demo); folding
them together keeps them; concurrent transitions of one company never wait on a counter."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction

from approvals.kinds import kind_for
from approvals.services import decide_many
from erpsync.batch_exports import export_company_batch
from erpsync.counts import compact, counted_table, missing_triggers
from erpsync.kinds import erp_item_models
from erpsync.models import StateCount
from erpsync.selectors import counted_state_counts, state_counts
from erpsync.services import erp_accept, erp_reject, erp_retrieve, erp_send
from projects.models import Project
from subjobs.models import SubJob
from tests import factories as f
from tests.bulk import pending_sub_jobs, send_events
from tests.test_batch_exports import never_requeue
from tests.transactions import held_open

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.django_db(transaction=True)


def same(company: Any) -> dict[str, dict[str, int]]:
    kept = state_counts(company)
    assert kept == counted_state_counts(company)
    return kept


MIGRATIONS = {
    "sub_job": "subjobs.migrations.0008_state_counts",
    "owner_invoice": "invoicing.migrations.0007_state_counts",
    "job": "jobs.migrations.0006_state_counts",
}


def test_every_kind_of_item_has_its_triggers_as_its_model_describes_them() -> None:
    models = list(erp_item_models())
    assert {m.erp_kind for m in models} == set(MIGRATIONS)
    assert missing_triggers([m._meta.db_table for m in models]) == []
    for model in models:
        installed = importlib.import_module(MIGRATIONS[model.erp_kind]).COUNTED
        assert counted_table(model) == installed


def test_erp_counts_finds_counts_a_loaddata_doubled_and_rebuilds_them(
    project: Any, admin: Any
) -> None:
    pending_sub_jobs(project, admin, 5)
    call_command("erp_counts", stdout=StringIO())
    # What a loaddata of a dump does: the items' inserts are counted, and so are the loaded
    # counts' rows.
    StateCount.objects.create(company_id=project.company_id, kind="sub_job", state="pending", n=5)
    out = StringIO()
    with pytest.raises(CommandError, match="1 counts differ"):
        call_command("erp_counts", stdout=out)
    assert f"{project.company.slug} sub_job pending: kept 10, counted 5" in out.getvalue()
    out = StringIO()
    call_command("erp_counts", "--rebuild", "--compact", stdout=out)
    assert "match the items" in out.getvalue()
    assert same(project.company)["sub_job"]["pending"] == 5
    assert StateCount.objects.filter(company_id=project.company_id).count() == 1


def test_the_counts_follow_every_write_of_every_kind_and_survive_a_fold(
    project: Any, admin: Any, approver: Any
) -> None:
    company = project.company
    other = f.ProjectFactory(company=f.CompanyFactory(), erp_synced=True, erp_job_id="J-2")
    pending_sub_jobs(other, f.member(other, admin=True), 7)  # another company's
    assert same(company)["sub_job"]["pending"] == 0
    subs = [f.SubJobFactory(project=project, status="approved") for _ in range(4)]
    invoices = [f.invoice_ready_to_send(project=project, user=admin) for _ in range(3)]
    assert same(company)["sub_job"]["not_sent"] == 4
    for item in [*subs, *invoices]:
        erp_send(item=item, user=admin)
    assert same(company)["owner_invoice"]["pending"] == 3
    erp_accept(item=subs[0], user=approver, export=False)
    erp_reject(item=subs[1], user=approver, reason="Wrong code")
    erp_retrieve(item=invoices[0], user=admin)
    counts = same(company)
    assert (counts["sub_job"]["accepted"], counts["sub_job"]["rejected"]) == (1, 1)
    assert counts["owner_invoice"]["pending"] == 2
    # A bulk decision, a batch export, a plain UPDATE, a bulk INSERT and deletes.
    decide_many(
        company=company,
        kind=kind_for(company, "sub_job"),
        user=approver,
        decision="accept",
        versions={s.pk: 1 for s in subs[2:]},
    )
    assert export_company_batch(company_id=company.pk, requeue=never_requeue).claimed == 3
    assert same(company)["sub_job"]["synced"] == 3
    pending_sub_jobs(project, admin, 50)
    send_events(project, admin)
    SubJob.objects.filter(project=project, code__startswith="B-000000").update(erp_state="accepted")
    counts = same(company)
    assert (counts["sub_job"]["pending"], counts["sub_job"]["accepted"]) == (40, 10)
    SubJob.objects.filter(pk=subs[1].pk).delete()
    assert same(company)["sub_job"]["rejected"] == 0
    before = StateCount.objects.count()
    assert compact() > 0
    assert StateCount.objects.count() < before
    assert same(company) == counted_state_counts(company)
    assert compact() == 0  # folded already
    assert same(other.company)["sub_job"]["pending"] == 7
    kept = same(company)
    Project.objects.filter(pk=other.pk).delete()  # its sub jobs go with it
    assert same(other.company)["sub_job"]["pending"] == 0
    assert same(company) == kept


def test_transitions_of_one_company_in_two_transactions_do_not_wait_for_each_other(
    project: Any, admin: Any, approver: Any
) -> None:
    first, second = (f.SubJobFactory(project=project, status="approved") for _ in range(2))
    for item in (first, second):
        erp_send(item=item, user=admin)

    def accept_first() -> Any:
        return erp_accept(item=SubJob.objects.get(pk=first.pk), user=approver, export=False)

    with held_open(accept_first), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '2s'")
        # Would time out if the counts were one row per state that both update.
        erp_accept(item=SubJob.objects.get(pk=second.pk), user=approver, export=False)
    assert same(project.company)["sub_job"]["accepted"] == 2


def test_on_sqlite_the_demo_data_is_counted_by_its_triggers(tmp_path: Path) -> None:
    script = (
        "from django.core.management import call_command\n"
        "from erpsync.counts import compact, missing_triggers\n"
        "from erpsync.kinds import erp_item_models\n"
        "from erpsync.selectors import counted_state_counts, state_counts\n"
        "from projects.models import Company\n"
        "assert missing_triggers([m._meta.db_table for m in erp_item_models()]) == []\n"
        "call_command('seed_demo', verbosity=0)\n"
        "companies = list(Company.objects.all())\n"
        "assert companies\n"
        "for c in companies:\n"
        "    assert state_counts(c) == counted_state_counts(c), c\n"
        "assert compact() > 0\n"
        "for c in companies:\n"
        "    assert state_counts(c) == counted_state_counts(c), c\n"
        "print('counted', sum(sum(s.values()) for s in state_counts(companies[0]).values()))\n"
    )
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}",
        "DEBUG": "true",
        "CELERY_TASK_ALWAYS_EAGER": "true",
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "DJANGO_SETTINGS_MODULE": "erpsync.settings",
    }
    env.pop("CELERY_BROKER_URL", None)
    manage = [sys.executable, str(ROOT / "manage.py")]
    for command in (["migrate", "-v0"], ["shell", "-c", script]):
        result = subprocess.run(
            manage + command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 0, result.stderr[-3000:]
    assert "counted " in result.stdout
    assert int(result.stdout.split("counted ")[1].split()[0]) > 0
