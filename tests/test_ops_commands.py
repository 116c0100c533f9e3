"""The ops commands: erp_status, erp_configure, erp_check and erp_retry_failed."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from erpsync.adapters.sandbox import SandboxAdapter
from erpsync.models import ErpEvent
from erpsync.states import ErpAction, ErpState
from erpsync.updates import erp_request_update
from invoicing.models import OwnerInvoice
from projects.models import Company
from subjobs.models import SubJob
from tests import factories as f
from tests.drive import drive_to
from tests.updating import synced

pytestmark = pytest.mark.django_db

TEST_ADAPTERS = {
    "sandbox": "erpsync.adapters.sandbox.SandboxAdapter",
    "broken": "tests.adapters.BrokenAdapter",
    "strict": "tests.test_ops_commands.StrictAdapter",
}


class StrictAdapter(SandboxAdapter):
    """An adapter that validates its settings: a url is required, a timeout is a number."""

    key = "strict"
    label = "Strict ERP"

    @classmethod
    def validate_settings(cls, settings: dict[str, Any]) -> list[str]:
        problems = []
        if not settings.get("url"):
            problems.append("url is required.")
        if not str(settings.get("timeout", "1")).isdigit():
            problems.append("timeout must be a whole number of seconds.")
        return problems


def run(name: str, *args: str) -> str:
    out = StringIO()
    call_command(name, *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def status_json(*args: str) -> dict[str, Any]:
    return json.loads(run("erp_status", "--json", *args))


def company_status(doc: dict[str, Any], company: Company) -> dict[str, Any]:
    [found] = [c for c in doc["companies"] if c["slug"] == company.slug]
    return found


def new_sub_job(project: Any, admin: Any) -> SubJob:
    return f.SubJobFactory(project=project, status="approved", created_by=admin)


def other_company_failed_export() -> SubJob:
    """A sub job of a second company whose export failed."""
    other = f.CompanyFactory()
    project = f.ProjectFactory(company=other, erp_synced=True, erp_job_id="JOB-2")
    sender = f.member(project, admin=True)
    item = f.SubJobFactory(project=project, status="approved", created_by=sender)
    return drive_to(item, "export_failed", sender=sender, approver=f.approver(other))


# ----- erp_status ----------------------------------------------------------------------------


def test_erp_status_counts_items_per_kind_and_state(
    company: Company, project: Any, admin: Any, sub_job: SubJob, invoice: OwnerInvoice, drive: Any
) -> None:
    drive(sub_job, "pending")
    drive(new_sub_job(project, admin), "export_failed")
    drive(invoice, "synced")

    kinds = company_status(status_json(), company)["kinds"]

    assert kinds["sub_job"]["counts"]["pending"] == 1
    assert kinds["sub_job"]["counts"]["export_failed"] == 1
    assert kinds["sub_job"]["total"] == 2
    assert kinds["owner_invoice"]["counts"]["synced"] == 1
    assert kinds["owner_invoice"]["total"] == 1


def test_erp_status_json_has_the_same_keys_with_or_without_items(company: Company) -> None:
    doc = status_json("--company", company.slug)

    assert set(doc) == {"generated_at", "stuck_minutes", "states", "companies"}
    assert doc["stuck_minutes"] == 15
    [entry] = doc["companies"]
    assert set(entry) == {
        "slug",
        "name",
        "adapter",
        "kinds",
        "waiting",
        "failed",
        "stuck",
        "emails",
        "updates",
        "connector",
    }
    assert entry["updates"] == {"pending": 0, "accepted": 0, "failed": 0}
    assert set(entry["kinds"]) == {"job", "sub_job", "owner_invoice"}
    for kind in entry["kinds"].values():
        assert set(kind) == {"label", "counts", "total"}
        assert set(kind["counts"]) == {s.value for s in ErpState}
        assert kind["total"] == 0
    assert entry["waiting"] == entry["failed"] == entry["stuck"] == []
    assert entry["connector"] is None  # its ERP is exported to, not pulled
    assert entry["emails"] == {
        "unsent": {"count": 0, "oldest": []},
        "failed": {"count": 0, "oldest": []},
    }


def test_erp_status_counts_open_update_requests(
    company: Company, sub_job: SubJob, admin: Any, approver: Any
) -> None:
    item = synced(sub_job, admin, approver)
    erp_request_update(item=item, user=admin, values={"name": "Renamed"})
    assert company_status(status_json(), company)["updates"] == {
        "pending": 1,
        "accepted": 0,
        "failed": 0,
    }
    text = run("erp_status", "--company", company.slug)
    assert "Ready to Update: 1 waiting for an approver, 0 being sent to the ERP, 0 failed." in text


def test_erp_status_lists_waiting_items_oldest_first_with_age_in_seconds(
    company: Company, project: Any, sub_job: SubJob, invoice: OwnerInvoice, drive: Any
) -> None:
    drive(sub_job, "pending")
    drive(invoice, "pending")
    now = timezone.now()
    SubJob.objects.filter(pk=sub_job.pk).update(erp_sent_at=now - timedelta(hours=1))
    OwnerInvoice.objects.filter(pk=invoice.pk).update(erp_sent_at=now - timedelta(hours=2))

    waiting = company_status(status_json(), company)["waiting"]

    assert [(w["kind"], w["id"]) for w in waiting] == [
        ("owner_invoice", invoice.pk),
        ("sub_job", sub_job.pk),
    ]
    assert set(waiting[0]) == {"kind", "id", "title", "project", "sent_at", "age_seconds"}
    assert waiting[0]["title"] == invoice.erp_title
    assert waiting[0]["project"] == project.number
    assert 7200 <= waiting[0]["age_seconds"] < 7300


def test_erp_status_lists_at_most_five_waiting_items(
    company: Company, project: Any, admin: Any, drive: Any
) -> None:
    for _ in range(6):
        drive(new_sub_job(project, admin), "pending")

    doc = status_json()

    assert len(company_status(doc, company)["waiting"]) == 5
    assert company_status(doc, company)["kinds"]["sub_job"]["counts"]["pending"] == 6


def test_erp_status_lists_failed_exports_with_error_and_tries(
    company: Company, sub_job: SubJob, drive: Any
) -> None:
    drive(sub_job, "export_failed")

    [failed] = company_status(status_json(), company)["failed"]

    assert failed["title"] == sub_job.erp_title
    assert failed["error"] == "Period closed"
    assert failed["tries"] == 1


def test_erp_status_flags_exports_accepted_longer_ago_than_stuck_minutes(
    company: Company, project: Any, admin: Any, sub_job: SubJob, drive: Any
) -> None:
    drive(sub_job, "accepted")
    recent = drive(new_sub_job(project, admin), "accepted")
    SubJob.objects.filter(pk=sub_job.pk).update(
        erp_accepted_at=timezone.now() - timedelta(minutes=20),
        erp_changed_at=timezone.now() - timedelta(minutes=20),
    )

    default = company_status(status_json(), company)["stuck"]
    patient = company_status(status_json("--stuck-minutes", "30"), company)["stuck"]

    assert [s["id"] for s in default] == [sub_job.pk]
    assert recent.pk not in [s["id"] for s in default]
    assert 1200 <= default[0]["age_seconds"] < 1300
    assert patient == []


def test_erp_status_prints_a_table_by_default(
    company: Company, sub_job: SubJob, drive: Any
) -> None:
    drive(sub_job, "export_failed")

    out = run("erp_status")

    assert company.slug in out
    assert "Pending acceptance" in out and "Export failed" in out
    assert sub_job.erp_title in out and "Period closed" in out


def test_erp_status_shows_only_the_chosen_company(company: Company) -> None:
    other_company_failed_export()

    doc = status_json("--company", company.slug)

    assert [c["slug"] for c in doc["companies"]] == [company.slug]


def test_erp_status_refuses_an_unknown_company(company: Company) -> None:
    with pytest.raises(CommandError, match="no-such-co"):
        run("erp_status", "--company", "no-such-co")


def test_erp_status_queries_do_not_grow_with_items(
    company: Company, project: Any, admin: Any, sub_job: SubJob, invoice: OwnerInvoice, drive: Any
) -> None:
    drive(sub_job, "pending")
    drive(invoice, "export_failed")
    with CaptureQueriesContext(connection) as few:
        run("erp_status", "--company", company.slug)
    for state in ("pending", "pending", "export_failed", "accepted"):
        drive(new_sub_job(project, admin), state)
    SubJob.objects.filter(erp_state="accepted").update(
        erp_accepted_at=timezone.now() - timedelta(hours=1),
        erp_changed_at=timezone.now() - timedelta(hours=1),
    )
    drive(f.invoice_ready_to_send(project=project, user=admin), "export_failed")

    with CaptureQueriesContext(connection) as many:
        run("erp_status", "--company", company.slug)

    assert len(many) == len(few)


# ----- erp_configure -------------------------------------------------------------------------


@override_settings(ERP_ADAPTERS=TEST_ADAPTERS)
def test_erp_configure_sets_the_adapter_and_its_settings(company: Company) -> None:
    out = run(
        "erp_configure",
        "--company",
        company.slug,
        "--adapter",
        "strict",
        "--set",
        "url=https://erp.example.com",
        "--set",
        "timeout=5",
    )

    company.refresh_from_db()
    assert company.erp_adapter == "strict"
    assert company.erp_settings == {"url": "https://erp.example.com", "timeout": "5"}
    assert "Check: ok" in out


def test_erp_configure_refuses_an_unknown_adapter_and_saves_nothing(company: Company) -> None:
    with pytest.raises(CommandError, match="sandbox"):
        run("erp_configure", "--company", company.slug, "--adapter", "sap", "--set", "a=b")

    company.refresh_from_db()
    assert company.erp_adapter == "sandbox"
    assert company.erp_settings == {}


@override_settings(ERP_ADAPTERS=TEST_ADAPTERS)
def test_erp_configure_refuses_settings_the_adapter_rejects_and_saves_nothing(
    company: Company,
) -> None:
    with pytest.raises(CommandError, match="url is required") as refused:
        run("erp_configure", "--company", company.slug, "--adapter", "strict", "--set", "timeout=x")

    assert "whole number" in str(refused.value)
    company.refresh_from_db()
    assert company.erp_adapter == "sandbox"
    assert company.erp_settings == {}


def test_erp_configure_never_prints_secret_settings(company: Company) -> None:
    out = run(
        "erp_configure",
        "--company",
        company.slug,
        "--adapter",
        "sandbox",
        "--set",
        "api_token=tok-123",
        "--set",
        "client_secret=sec-456",
        "--set",
        "Password=pw-789",
        "--set",
        "timeout=5",
    )

    for secret in ("tok-123", "sec-456", "pw-789"):
        assert secret not in out
    assert "api_token=***" in out and "timeout=5" in out
    company.refresh_from_db()
    assert company.erp_settings["api_token"] == "tok-123"


WEBHOOK = ("--adapter", "webhook", "--no-check")


def test_erp_configure_rotates_the_webhook_secret_and_never_prints_either(
    company: Company,
) -> None:
    run(
        "erp_configure",
        "--company",
        company.slug,
        *WEBHOOK,
        "--set",
        "url=https://erp.example.com/hook",
        "--set",
        "secret=old-secret-1",
    )

    during = run(
        "erp_configure",
        "--company",
        company.slug,
        *WEBHOOK,
        "--set",
        "previous_secret=old-secret-1",
        "--set",
        "secret=new-secret-2",
    )
    assert "old-secret-1" not in during and "new-secret-2" not in during
    assert "Settings: previous_secret=***, secret=***, url=https://erp.example.com/hook" in during
    company.refresh_from_db()
    assert company.erp_settings == {
        "url": "https://erp.example.com/hook",
        "secret": "new-secret-2",
        "previous_secret": "old-secret-1",
    }

    after = run("erp_configure", "--company", company.slug, *WEBHOOK, "--unset", "previous_secret")
    assert "Settings: secret=***, url=https://erp.example.com/hook" in after
    assert "new-secret-2" not in after
    company.refresh_from_db()
    assert company.erp_settings == {"url": "https://erp.example.com/hook", "secret": "new-secret-2"}


def test_erp_configure_refuses_a_previous_secret_equal_to_the_secret(company: Company) -> None:
    with pytest.raises(CommandError, match="must differ from the secret"):
        run(
            "erp_configure",
            "--company",
            company.slug,
            *WEBHOOK,
            "--set",
            "url=https://erp.example.com/hook",
            "--set",
            "secret=same",
            "--set",
            "previous_secret=same",
        )
    company.refresh_from_db()
    assert company.erp_settings == {}


def test_erp_configure_unset_of_a_setting_that_is_not_there_saves_nothing(
    company: Company,
) -> None:
    Company.objects.filter(pk=company.pk).update(erp_settings={"timeout": "5"})

    with pytest.raises(CommandError, match="'previus_secret' is not set"):
        run(
            "erp_configure",
            "--company",
            company.slug,
            "--adapter",
            "sandbox",
            "--set",
            "timeout=9",
            "--unset",
            "previus_secret",
        )

    company.refresh_from_db()
    assert company.erp_settings == {"timeout": "5"}


def test_erp_configure_refuses_to_set_and_unset_the_same_setting(company: Company) -> None:
    with pytest.raises(CommandError, match="both set and unset: timeout"):
        run(
            "erp_configure",
            "--company",
            company.slug,
            "--adapter",
            "sandbox",
            "--set",
            "timeout=9",
            "--unset",
            "timeout",
        )


def test_erp_configure_keeps_other_settings_of_the_same_adapter(company: Company) -> None:
    Company.objects.filter(pk=company.pk).update(erp_settings={"timeout": "5", "region": "eu"})

    run("erp_configure", "--company", company.slug, "--adapter", "sandbox", "--set", "timeout=9")

    company.refresh_from_db()
    assert company.erp_settings == {"timeout": "9", "region": "eu"}


@override_settings(ERP_ADAPTERS=TEST_ADAPTERS)
def test_erp_configure_starts_empty_settings_for_another_adapter(company: Company) -> None:
    Company.objects.filter(pk=company.pk).update(erp_settings={"region": "eu"})

    run("erp_configure", "--company", company.slug, "--adapter", "strict", "--set", "url=u")

    company.refresh_from_db()
    assert company.erp_settings == {"url": "u"}


@override_settings(ERP_ADAPTERS=TEST_ADAPTERS)
def test_erp_configure_fails_on_a_failed_check_but_keeps_the_settings(company: Company) -> None:
    out = StringIO()
    with pytest.raises(CommandError, match="ERP unreachable") as failed:
        call_command(
            "erp_configure",
            "--company",
            company.slug,
            "--adapter",
            "broken",
            "--set",
            "host=erp.local",
            stdout=out,
        )

    assert "saved" in str(failed.value).lower()
    company.refresh_from_db()
    assert company.erp_adapter == "broken"
    assert company.erp_settings == {"host": "erp.local"}


@override_settings(ERP_ADAPTERS=TEST_ADAPTERS)
def test_erp_configure_no_check_skips_the_check(company: Company) -> None:
    out = run("erp_configure", "--company", company.slug, "--adapter", "broken", "--no-check")

    assert "skipped" in out
    company.refresh_from_db()
    assert company.erp_adapter == "broken"


def test_erp_configure_refuses_a_setting_without_a_value(company: Company) -> None:
    with pytest.raises(CommandError, match="NAME=VALUE"):
        run("erp_configure", "--company", company.slug, "--adapter", "sandbox", "--set", "oops")


def test_erp_configure_refuses_an_unknown_company(company: Company) -> None:
    with pytest.raises(CommandError, match="no-such-co"):
        run("erp_configure", "--company", "no-such-co", "--adapter", "sandbox")


# ----- erp_check -----------------------------------------------------------------------------


def test_erp_check_prints_ok_for_every_company(company: Company) -> None:
    other = f.CompanyFactory()

    out = run("erp_check")

    assert f"{company.slug} (sandbox): ok" in out
    assert f"{other.slug} (sandbox): ok" in out


@override_settings(ERP_ADAPTERS=TEST_ADAPTERS)
def test_erp_check_exits_1_and_names_the_company_whose_erp_fails(company: Company) -> None:
    broken = f.CompanyFactory(erp_adapter="broken")
    out = StringIO()

    with pytest.raises(CommandError) as failed:
        call_command("erp_check", stdout=out)

    assert failed.value.returncode == 1
    assert broken.slug in str(failed.value)
    assert company.slug not in str(failed.value)
    assert f"{broken.slug} (broken): FAILED: ERP unreachable" in out.getvalue()
    assert f"{company.slug} (sandbox): ok" in out.getvalue()


@override_settings(ERP_ADAPTERS=TEST_ADAPTERS)
def test_erp_check_checks_only_the_chosen_company(company: Company) -> None:
    f.CompanyFactory(erp_adapter="broken")

    out = run("erp_check", "--company", company.slug)

    assert out.strip() == f"{company.slug} (sandbox): ok"


# ----- erp_retry_failed ----------------------------------------------------------------------


def test_erp_retry_failed_dry_run_changes_nothing(
    company: Company, sub_job: SubJob, drive: Any
) -> None:
    drive(sub_job, "export_failed")
    events = ErpEvent.objects.count()

    out = run("erp_retry_failed", "--dry-run")

    sub_job.refresh_from_db()
    assert sub_job.erp_state == ErpState.EXPORT_FAILED
    assert ErpEvent.objects.count() == events
    assert sub_job.erp_title in out
    assert "Would requeue 1 failed export(s)" in out


def test_erp_retry_failed_requeues_failed_exports_with_an_ops_event(
    sub_job: SubJob, invoice: OwnerInvoice, drive: Any
) -> None:
    drive(sub_job, "export_failed")
    drive(invoice, "export_failed")

    out = run("erp_retry_failed")

    assert "Requeued 2 failed export(s)." in out
    for item in (sub_job, invoice):
        item.refresh_from_db()
        assert item.erp_state == ErpState.ACCEPTED
        event = ErpEvent.objects.filter(object_id=item.pk, action=ErpAction.RETRY_EXPORT).get(
            content_type__model=type(item)._meta.model_name
        )
        assert event.actor is None
        assert event.reason == "erp_retry_failed by ops"
        assert (event.from_state, event.to_state) == (ErpState.EXPORT_FAILED, ErpState.ACCEPTED)


def test_erp_retry_failed_requeues_only_the_chosen_company(
    company: Company, sub_job: SubJob, drive: Any
) -> None:
    drive(sub_job, "export_failed")
    elsewhere = other_company_failed_export()

    out = run("erp_retry_failed", "--company", company.slug)

    assert "Requeued 1 failed export(s)." in out
    sub_job.refresh_from_db()
    elsewhere.refresh_from_db()
    assert sub_job.erp_state == ErpState.ACCEPTED
    assert elsewhere.erp_state == ErpState.EXPORT_FAILED


def test_a_retried_export_is_not_stuck_just_because_it_was_first_accepted_long_ago(
    company: Company, sub_job: SubJob, drive: Any, approver: Any
) -> None:
    from erpsync.services import erp_retry_export

    failed = drive(sub_job, "export_failed")
    SubJob.objects.filter(pk=failed.pk).update(erp_accepted_at=timezone.now() - timedelta(hours=2))
    erp_retry_export(item=failed, user=approver)
    assert company_status(status_json(), company)["stuck"] == []
