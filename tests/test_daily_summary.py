"""The "ERP Integrations Daily Summary": once a day, to subscribed approvers, while items wait."""

from __future__ import annotations

import datetime as dt
import socket
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from approvals import digest
from approvals.tasks import send_daily_summary
from erpsync.models import EmailStatus, OutboxEmail
from erpsync.services import erp_send
from projects.models import ToolLevel
from subjobs.models import SubJob
from tests import factories as f
from tests.test_settings import load_settings

pytestmark = pytest.mark.django_db

BASE = "http://127.0.0.1:8000"
DAY = "2026-11-23"


@pytest.fixture
def subscriber(company: Any) -> Any:
    return f.approver(company, erp_digest_subscribed=True)


def pending_sub_job(project: Any, sender: Any, *, days_ago: float = 0, code: str = "") -> Any:
    extra = {"code": code} if code else {}
    item = erp_send(item=f.SubJobFactory(project=project, status="approved", **extra), user=sender)
    SubJob.objects.filter(pk=item.pk).update(
        erp_sent_at=timezone.now() - dt.timedelta(days=days_ago)
    )
    return item


def test_the_daily_summary_goes_to_subscribed_approvers_only(
    company: Any, project: Any, admin: Any, approver: Any, subscriber: Any, mailoutbox: list[Any]
) -> None:
    f.approver(company, erp_tool_level=ToolLevel.READ_ONLY, erp_digest_subscribed=True)
    f.approver(company, can_push_to_accounting=False, erp_digest_subscribed=True)
    pending_sub_job(project, admin)

    results = send_daily_summary(day=DAY)

    [message] = mailoutbox
    assert message.to == [subscriber.email]
    assert [(r["to"], r["status"]) for r in results] == [(subscriber.email, "sent")]


def test_the_subject_names_the_summary_the_company_and_the_day(
    company: Any, project: Any, admin: Any, subscriber: Any, mailoutbox: list[Any]
) -> None:
    pending_sub_job(project, admin)

    send_daily_summary(day=DAY)

    [message] = mailoutbox
    assert message.subject == f"ERP Integrations Daily Summary — {company.name} — {DAY}"


def test_waiting_items_are_listed_oldest_first_with_their_age(
    company: Any, project: Any, admin: Any, subscriber: Any, mailoutbox: list[Any]
) -> None:
    pending_sub_job(project, admin, days_ago=1 / 24 * 5, code="NEW-5H")
    pending_sub_job(project, admin, days_ago=9, code="OLD-9D")
    pending_sub_job(project, admin, days_ago=3, code="MID-3D")

    send_daily_summary(day=DAY)

    [message] = mailoutbox
    body = message.body
    assert body.index("OLD-9D") < body.index("MID-3D") < body.index("NEW-5H")
    assert "sub job OLD-9D" in body
    assert "waiting 9 days" in body
    assert "waiting 3 days" in body
    assert "waiting 5 hours" in body
    preview = BASE + reverse(
        "erp_item", args=[company.slug, "sub_job", SubJob.objects.get(code="OLD-9D").pk]
    )
    assert f'href="{preview}"' in message.alternatives[0].content


def test_counts_are_given_per_kind_with_failed_exports_and_their_error(
    company: Any,
    project: Any,
    admin: Any,
    subscriber: Any,
    invoice: Any,
    drive: Any,
    mailoutbox: list[Any],
) -> None:
    pending_sub_job(project, admin)
    pending_sub_job(project, admin)
    failed = drive(f.SubJobFactory(project=project, status="approved"), "export_failed")
    drive(invoice, "pending")
    drive(f.SubJobFactory(project=project, status="approved"), "synced")  # not counted

    send_daily_summary(day=DAY)

    [message] = mailoutbox
    html = message.alternatives[0].content
    for part in (message.body, html):
        assert "Sub Jobs: 2 pending, 1 failed" in part
        assert "Owner Invoices: 1 pending, 0 failed" in part
        assert f"sub job {failed.code}" in part
        assert "Period closed" in part
        assert BASE + reverse("erp_tool", args=[company.slug]) in part
    assert BASE + reverse("erp_queue", args=[company.slug, "sub_job", "failed"]) in html


def test_owner_companies_get_their_terms_in_the_summary(
    company: Any, invoice: Any, subscriber: Any, drive: Any, mailoutbox: list[Any]
) -> None:
    company.pov_dictionary = "owner"
    company.save()
    drive(invoice, "pending")

    send_daily_summary(day=DAY)

    [message] = mailoutbox
    assert "Funding Invoices: 1 pending, 0 failed" in message.body
    assert f"Funding Invoice {invoice.number}" in message.body
    assert "Owner Invoice" not in message.body


def test_no_summary_when_nothing_waits_or_failed(
    project: Any, subscriber: Any, drive: Any, mailoutbox: list[Any]
) -> None:
    drive(f.SubJobFactory(project=project, status="approved"), "synced")
    drive(f.SubJobFactory(project=project, status="approved"), "rejected")
    drive(f.SubJobFactory(project=project, status="approved"), "retrieved")

    assert send_daily_summary(day=DAY) == []
    assert mailoutbox == []


def test_the_daily_summary_is_sent_once_when_run_twice(
    company: Any, project: Any, admin: Any, subscriber: Any, mailoutbox: list[Any]
) -> None:
    pending_sub_job(project, admin)

    first = send_daily_summary(day=DAY)
    second = send_daily_summary(day=DAY)

    assert len(mailoutbox) == 1
    assert [r["status"] for r in first] == ["sent"]
    assert [r["status"] for r in second] == ["already sent"]
    delivery = OutboxEmail.objects.get(kind="daily_summary")
    assert (delivery.company, delivery.user, delivery.payload["day"], delivery.status) == (
        company,
        subscriber,
        "2026-11-23",
        EmailStatus.SENT,
    )


def test_the_next_day_brings_a_new_summary(
    project: Any, admin: Any, subscriber: Any, mailoutbox: list[Any]
) -> None:
    pending_sub_job(project, admin)

    send_daily_summary(day="2026-11-23")
    send_daily_summary(day="2026-11-24")

    assert [m.subject[-10:] for m in mailoutbox] == ["2026-11-23", "2026-11-24"]


def test_today_is_the_default_day(
    project: Any, admin: Any, subscriber: Any, mailoutbox: list[Any]
) -> None:
    pending_sub_job(project, admin)

    [result] = send_daily_summary()

    assert result["day"] == timezone.localdate().isoformat()
    delivery = OutboxEmail.objects.get(kind="daily_summary")
    assert delivery.payload["day"] == timezone.localdate().isoformat()


def test_a_dry_run_sends_and_records_nothing(
    project: Any, admin: Any, subscriber: Any, mailoutbox: list[Any]
) -> None:
    pending_sub_job(project, admin)

    [result] = send_daily_summary(day=DAY, dry_run=True)

    assert result["status"] == "would send"
    assert result["to"] == subscriber.email
    assert mailoutbox == []
    assert not OutboxEmail.objects.filter(kind="daily_summary").exists()


def test_a_failed_send_stays_unsent_so_the_next_run_sends_it(
    settings: Any, project: Any, admin: Any, subscriber: Any, mailoutbox: list[Any]
) -> None:
    pending_sub_job(project, admin)
    locmem = settings.MAILERS
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": closed, "timeout": 5},
        }
    }

    [failed] = send_daily_summary(day=DAY)

    assert failed["status"] == "failed"
    assert failed["error"]
    assert OutboxEmail.objects.get(kind="daily_summary").status == EmailStatus.PENDING
    settings.MAILERS = locmem
    assert [r["status"] for r in send_daily_summary(day=DAY)] == ["sent"]
    assert len(mailoutbox) == 1


def test_one_company_can_be_chosen(
    company: Any, project: Any, admin: Any, subscriber: Any, mailoutbox: list[Any]
) -> None:
    pending_sub_job(project, admin)
    other_project = f.ProjectFactory(erp_synced=True, erp_job_id="JOB-2")
    other_subscriber = f.approver(other_project.company, erp_digest_subscribed=True)
    pending_sub_job(other_project, f.member(other_project, admin=True))

    send_daily_summary(company_id=other_project.company_id, day=DAY)

    [message] = mailoutbox
    assert message.to == [other_subscriber.email]
    assert other_project.company.name in message.subject


def test_a_long_queue_lists_the_oldest_items_and_counts_the_rest(
    monkeypatch: pytest.MonkeyPatch,
    project: Any,
    admin: Any,
    subscriber: Any,
    mailoutbox: list[Any],
) -> None:
    monkeypatch.setattr(digest, "DIGEST_ITEMS_PER_STATE", 2)
    for days, code in ((1, "D1"), (4, "D4"), (2, "D2")):
        pending_sub_job(project, admin, days_ago=days, code=code)

    send_daily_summary(day=DAY)

    [message] = mailoutbox
    assert "Sub Jobs: 3 pending, 0 failed" in message.body
    assert "sub job D4" in message.body
    assert "sub job D2" in message.body
    assert "sub job D1" not in message.body
    assert "and 1 more" in message.body


def test_the_summary_costs_the_same_queries_however_many_items_wait(
    company: Any,
    project: Any,
    admin: Any,
    subscriber: Any,
    drive: Any,
) -> None:
    f.approver(company, erp_digest_subscribed=True)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            results = send_daily_summary(day=DAY, dry_run=True)
        assert len(results) == 2
        return len(captured)

    pending_sub_job(project, admin)
    few = queries()
    for _ in range(8):
        pending_sub_job(project, admin)
    for _ in range(3):
        drive(f.SubJobFactory(project=project, status="approved"), "export_failed")
        drive(f.invoice_ready_to_send(project=project, user=admin), "pending")
    many = queries()

    # The companies, then per company its recipients (the approvers, who is away, their
    # export rights) and one query per kind of item.
    assert few == many == 1 + 3 + 3  # jobs, sub jobs, owner invoices


def test_the_task_runs_through_celery(
    project: Any, admin: Any, subscriber: Any, mailoutbox: list[Any]
) -> None:
    pending_sub_job(project, admin)

    result = send_daily_summary.apply(kwargs={"day": DAY})

    assert result.successful()
    assert [r["status"] for r in result.get()] == ["sent"]
    assert len(mailoutbox) == 1


# ----- manage.py erp_daily_summary ----------------------------------------------------------


def run_command(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("erp_daily_summary", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_the_command_prints_one_line_per_email(
    company: Any, project: Any, admin: Any, subscriber: Any, mailoutbox: list[Any]
) -> None:
    second = f.approver(company, erp_digest_subscribed=True)
    pending_sub_job(project, admin)

    out, _ = run_command()

    lines = out.splitlines()
    assert len(lines) == 2
    assert {line.split(": ")[1] for line in lines} == {subscriber.email, second.email}
    assert all(line.startswith("sent: ") for line in lines)
    assert all("ERP Integrations Daily Summary — " in line for line in lines)
    assert len(mailoutbox) == 2

    again, _ = run_command()
    assert [line.split(":")[0] for line in again.splitlines()] == ["already sent"] * 2
    assert len(mailoutbox) == 2


def test_the_command_dry_run_sends_nothing(
    company: Any, project: Any, admin: Any, subscriber: Any, mailoutbox: list[Any]
) -> None:
    pending_sub_job(project, admin)

    out, _ = run_command("--company", company.slug, "--dry-run")

    assert out.startswith(f"would send: {subscriber.email}: ERP Integrations Daily Summary")
    assert mailoutbox == []
    assert not OutboxEmail.objects.filter(kind="daily_summary").exists()


def test_the_command_says_when_there_is_nothing_to_send(company: Any, subscriber: Any) -> None:
    out, _ = run_command("--company", company.slug)

    assert out.startswith("No daily summary to send")


def test_the_command_refuses_an_unknown_company(company: Any) -> None:
    with pytest.raises(CommandError, match="No company with slug 'nope'") as refused:
        run_command("--company", "nope")

    assert refused.value.returncode == 1
    assert company.slug in str(refused.value)


def test_the_command_exits_1_when_an_email_fails(
    settings: Any, project: Any, admin: Any, subscriber: Any
) -> None:
    pending_sub_job(project, admin)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": closed, "timeout": 5},
        }
    }
    out, err = StringIO(), StringIO()

    with pytest.raises(CommandError, match="1 of 1 daily summary emails failed") as failed:
        call_command("erp_daily_summary", stdout=out, stderr=err)

    assert failed.value.returncode == 1
    assert err.getvalue().startswith(f"failed: {subscriber.email}: ")


# ----- ERP_DIGEST_HOUR ----------------------------------------------------------------------


@pytest.mark.parametrize("hour", ["24", "-1", "seven"])
def test_the_digest_hour_must_be_an_hour_of_the_day(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, hour: str
) -> None:
    monkeypatch.setenv("ERPSYNC_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("ERP_DIGEST_HOUR", hour)

    with pytest.raises(ImproperlyConfigured, match="ERP_DIGEST_HOUR"):
        load_settings()


def test_the_digest_hour_and_base_url_have_defaults(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ERPSYNC_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("ERP_DIGEST_HOUR", raising=False)
    monkeypatch.delenv("ERPSYNC_BASE_URL", raising=False)

    ns = load_settings()
    assert (ns["ERP_DIGEST_HOUR"], ns["ERPSYNC_BASE_URL"]) == (7, "http://127.0.0.1:8000")

    monkeypatch.setenv("ERP_DIGEST_HOUR", "23")
    assert load_settings()["ERP_DIGEST_HOUR"] == 23
