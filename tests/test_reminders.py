"""Reminders and escalation: items waiting too long, counted in business days (README,
Approval policy → Reminders and escalation)."""

from __future__ import annotations

import datetime as dt
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.utils import timezone

from approvals.overdue import business_days_between
from approvals.reminders import deliver_reminders, enqueue_reminders
from approvals.tasks import send_daily_summary, send_reminders
from erpsync.models import ApprovalRule, EmailStatus, OutboxEmail
from erpsync.outbox import deliver_email
from erpsync.services import erp_accept, erp_send
from projects.models import CompanyMembership, OutOfOffice, ToolLevel
from tests import factories as f
from tests.test_settings import load_settings

pytestmark = pytest.mark.django_db

FRIDAY, MONDAY, TUESDAY = "2026-11-20", "2026-11-23", "2026-11-24"


def at(day: str, hour: int = 10) -> dt.datetime:
    """`day` at `hour` o'clock in TIME_ZONE."""
    return timezone.make_aware(dt.datetime.fromisoformat(day).replace(hour=hour))


def waiting(item: Any, sender: Any, sent_at: dt.datetime) -> Any:
    """`item` sent to the ERP Integrations tool at `sent_at`."""
    item = erp_send(item=item, user=sender)
    type(item).objects.filter(pk=item.pk).update(erp_sent_at=sent_at)
    item.refresh_from_db()
    return item


def remind(day: str, **kwargs: Any) -> list[Any]:
    return deliver_reminders(day=dt.date.fromisoformat(day), **kwargs)


def sent_to(results: list[Any]) -> list[tuple[str, str, list[str]]]:
    return [(r["to"], r["kind"], r["items"]) for r in results]


def tool_admin(company: Any, **user_fields: Any) -> Any:
    """An Admin of the company's ERP Integrations tool who approves nothing."""
    user = f.UserFactory(**user_fields)
    f.CompanyMembershipFactory(company=company, user=user, erp_tool_level=ToolLevel.ADMIN)
    return user


# ----- business days --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "day", "days"),
    [
        (FRIDAY, FRIDAY, 0),
        (FRIDAY, "2026-11-21", 0),  # Saturday
        (FRIDAY, "2026-11-22", 0),  # Sunday
        (FRIDAY, MONDAY, 1),
        (FRIDAY, TUESDAY, 2),
        ("2026-11-21", MONDAY, 1),  # sent on a Saturday
        (MONDAY, "2026-11-30", 5),  # a week later
        ("2026-11-02", "2026-11-30", 20),
        (TUESDAY, MONDAY, 0),  # the future
    ],
)
def test_business_days_are_the_weekdays_after_the_send_day(sent: str, day: str, days: int) -> None:
    assert business_days_between(dt.date.fromisoformat(sent), dt.date.fromisoformat(day)) == days


# ----- who is reminded, and when ----------------------------------------------------------


def test_a_friday_send_is_reminded_on_tuesday_after_two_business_days(
    company: Any, sub_job: Any, admin: Any, approver: Any, mailoutbox: list[Any]
) -> None:
    assert company.remind_after_days == 2
    waiting(sub_job, admin, at(FRIDAY))

    assert remind(MONDAY) == []
    assert mailoutbox == []

    results = remind(TUESDAY)

    assert sent_to(results) == [(approver.email, "reminder", [f"sub job {sub_job.code}"])]
    assert [r["status"] for r in results] == ["sent"]
    [message] = mailoutbox
    assert message.to == [approver.email]
    assert message.extra_headers["X-Erpsync-Kind"] == "reminder"
    assert f"sub job {sub_job.code}" in message.body
    assert "waiting 2 business days" in message.body


def test_the_days_are_counted_in_the_time_zone(
    settings: Any, sub_job: Any, admin: Any, approver: Any
) -> None:
    settings.TIME_ZONE = "America/New_York"
    # 03:00 UTC on Monday is 22:00 on Sunday in New York: Monday and Tuesday are two
    # business days there, one in UTC.
    waiting(sub_job, admin, dt.datetime(2026, 11, 23, 3, tzinfo=dt.UTC))

    assert [r["to"] for r in remind(TUESDAY)] == [approver.email]

    settings.TIME_ZONE = "UTC"
    assert remind("2026-11-24", dry_run=True) == []


def test_reminders_come_daily_once_overdue_but_once_a_day_however_often_they_run(
    sub_job: Any, admin: Any, approver: Any, mailoutbox: list[Any]
) -> None:
    waiting(sub_job, admin, at(FRIDAY))

    first = remind(TUESDAY)
    second = remind(TUESDAY)
    next_day = remind("2026-11-25")

    assert [r["status"] for r in first + second + next_day] == ["sent", "already sent", "sent"]
    assert len(mailoutbox) == 2
    keys = sorted(OutboxEmail.objects.filter(kind="reminder").values_list("key", flat=True))
    assert keys == [
        f"reminder:{sub_job.erp_company.pk}:{approver.pk}:2026-11-24",
        f"reminder:{sub_job.erp_company.pk}:{approver.pk}:2026-11-25",
    ]


def test_nothing_is_sent_on_saturdays_and_sundays(
    sub_job: Any, admin: Any, approver: Any, mailoutbox: list[Any]
) -> None:
    waiting(sub_job, admin, at("2026-11-16"))

    assert remind("2026-11-21") == remind("2026-11-22") == []
    assert mailoutbox == []


def test_one_email_per_person_lists_all_their_overdue_items_across_kinds(
    company: Any,
    project: Any,
    sub_job: Any,
    invoice: Any,
    admin: Any,
    approver: Any,
    mailoutbox: list[Any],
) -> None:
    sub_jobs_only = f.approver(company, kinds=("sub_job",))
    waiting(sub_job, admin, at("2026-11-18"))
    waiting(invoice, admin, at("2026-11-17"))
    recent = waiting(f.SubJobFactory(project=project, status="approved"), admin, at(MONDAY))

    results = remind(TUESDAY)

    assert sorted(sent_to(results)) == sorted(
        [
            (
                approver.email,
                "reminder",
                [f"Owner Invoice {invoice.number}", f"sub job {sub_job.code}"],
            ),
            (sub_jobs_only.email, "reminder", [f"sub job {sub_job.code}"]),
        ]
    )
    assert len(mailoutbox) == 2
    [to_approver] = [m for m in mailoutbox if m.to == [approver.email]]
    assert to_approver.body.index(invoice.number) < to_approver.body.index(sub_job.code)
    assert recent.code not in to_approver.body


def test_a_delegate_gets_an_absent_approvers_reminders(
    company: Any, sub_job: Any, admin: Any, mailoutbox: list[Any]
) -> None:
    away = f.approver(company, kinds=("sub_job",))
    delegate = f.approver(company, kinds=("sub_job",))
    OutOfOffice.objects.create(
        membership=CompanyMembership.objects.get(user=away),
        starts_on=dt.date(2026, 11, 23),
        ends_on=dt.date(2026, 11, 27),
        delegate=CompanyMembership.objects.get(user=delegate),
    )
    waiting(sub_job, admin, at(FRIDAY))

    results = remind(TUESDAY)

    assert [r["to"] for r in results] == [delegate.email]
    # Back at work on Monday the 30th: the approver is reminded again, the delegate too.
    later = remind("2026-11-30")
    assert sorted(r["to"] for r in later) == sorted([away.email, delegate.email])


def test_an_approver_is_not_reminded_of_an_item_they_may_not_accept(
    company: Any, project: Any, admin: Any, mailoutbox: list[Any]
) -> None:
    first = f.approver(company, kinds=("sub_job",))
    second = f.approver(company, kinds=("sub_job",))
    sender = f.approver(company, kinds=("sub_job",))
    f.ProjectMembershipFactory(project=project, user=sender, admin_level=ToolLevel.ADMIN)
    ApprovalRule.objects.create(company=company, kind="sub_job", approvals_required=2)
    own = waiting(f.SubJobFactory(project=project, status="approved"), sender, at(FRIDAY))
    half = waiting(f.SubJobFactory(project=project, status="approved"), admin, at(FRIDAY))
    erp_accept(item=half, user=first, expected_version=1)

    results = {r["to"]: r["items"] for r in remind(TUESDAY)}

    # The sender may not approve their own item; `first` already gave one of two approvals.
    assert results == {
        first.email: [f"sub job {own.code}"],
        second.email: [f"sub job {own.code}", f"sub job {half.code}"],
        sender.email: [f"sub job {half.code}"],
    }
    [to_second] = [m for m in mailoutbox if m.to == [second.email]]
    assert "1 of 2 approvals" in to_second.body


# ----- escalation -------------------------------------------------------------------------


def test_items_waiting_m_business_days_are_escalated_to_the_erp_tool_admins(
    company: Any, sub_job: Any, admin: Any, approver: Any, mailoutbox: list[Any]
) -> None:
    assert company.escalate_after_days == 5
    boss = tool_admin(company)
    tool_admin(company, email="")  # no address: nothing to send to
    tool_admin(company, is_active=False)
    tool_admin(f.CompanyFactory())  # another company's Admin
    waiting(sub_job, admin, at("2026-11-16"))  # a Monday

    friday = remind(FRIDAY)  # four business days
    assert [r["to"] for r in friday] == [approver.email]

    monday = remind(MONDAY)  # five

    assert sorted(sent_to(monday)) == sorted(
        [
            (approver.email, "reminder", [f"sub job {sub_job.code}"]),
            (boss.email, "escalation", [f"sub job {sub_job.code}"]),
        ]
    )
    [escalation] = [m for m in mailoutbox if m.to == [boss.email]]
    assert escalation.extra_headers["X-Erpsync-Kind"] == "escalation"
    assert escalation.subject.startswith("Escalation: ")
    assert "escalated" in escalation.body
    assert "waiting 5 business days" in escalation.body


def test_an_admin_who_also_approves_gets_one_email_with_everything(
    company: Any, project: Any, sub_job: Any, invoice: Any, admin: Any, mailoutbox: list[Any]
) -> None:
    boss = f.approver(company, kinds=("sub_job",), erp_tool_level=ToolLevel.ADMIN)
    waiting(sub_job, admin, at(FRIDAY))  # to remind
    waiting(invoice, admin, at("2026-11-13"))  # to escalate, a kind the Admin does not approve

    results = remind(TUESDAY)

    assert sent_to(results) == [
        (boss.email, "escalation", [f"Owner Invoice {invoice.number}", f"sub job {sub_job.code}"])
    ]
    [message] = mailoutbox
    entries = [line for line in message.body.splitlines() if line.startswith("- ")]
    [invoice_entry] = [line for line in entries if invoice.number in line]
    [sub_job_entry] = [line for line in entries if sub_job.code in line]
    assert "escalated" in invoice_entry
    assert "escalated" not in sub_job_entry


def test_zero_days_turns_reminders_or_escalation_off(
    company: Any, sub_job: Any, admin: Any, approver: Any
) -> None:
    tool_admin(company)
    waiting(sub_job, admin, at("2026-11-02"))
    company.remind_after_days = 0
    company.save()

    assert [r["kind"] for r in remind(TUESDAY, dry_run=True)] == ["escalation"]

    company.escalate_after_days = 0
    company.save()
    assert remind(TUESDAY, dry_run=True) == []


# ----- delivery through the outbox ----------------------------------------------------------


def test_an_item_decided_before_the_email_goes_out_is_left_out(
    project: Any, sub_job: Any, admin: Any, approver: Any, mailoutbox: list[Any]
) -> None:
    other = waiting(f.SubJobFactory(project=project, status="approved"), admin, at(FRIDAY))
    waiting(sub_job, admin, at(FRIDAY))
    [result] = remind(TUESDAY, dry_run=True)
    assert len(result["items"]) == 2
    [row] = enqueue_reminders(company=project.company, day=dt.date(2026, 11, 24))
    erp_accept(item=other, user=approver, expected_version=1)

    assert deliver_email(row.pk) == "sent"

    [message] = mailoutbox
    assert sub_job.code in message.body
    assert other.code not in message.body


def test_nothing_is_sent_when_every_item_was_decided_meanwhile(
    project: Any, sub_job: Any, admin: Any, approver: Any, mailoutbox: list[Any]
) -> None:
    waiting(sub_job, admin, at(FRIDAY))
    [row] = enqueue_reminders(company=project.company, day=dt.date(2026, 11, 24))
    erp_accept(item=sub_job, user=approver, expected_version=1)

    assert deliver_email(row.pk) == "nothing"
    assert mailoutbox == []
    assert OutboxEmail.objects.get(pk=row.pk).status == EmailStatus.SENT


def test_the_task_runs_through_celery(
    sub_job: Any, admin: Any, approver: Any, mailoutbox: list[Any]
) -> None:
    waiting(sub_job, admin, at(FRIDAY))

    result = send_reminders.apply(kwargs={"day": TUESDAY})

    assert result.successful()
    assert [r["status"] for r in result.get()] == ["sent"]
    assert len(mailoutbox) == 1


# ----- manage.py erp_remind -------------------------------------------------------------------


def run_command(*args: str) -> str:
    out = StringIO()
    call_command("erp_remind", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_the_dry_run_shows_who_would_get_what_and_sends_nothing(
    company: Any, project: Any, sub_job: Any, invoice: Any, admin: Any, mailoutbox: list[Any]
) -> None:
    pat = f.approver(company, kinds=("sub_job",))
    boss = tool_admin(company)
    waiting(sub_job, admin, at(FRIDAY))
    waiting(invoice, admin, at("2026-11-13"))

    out = run_command("--dry-run", "--day", TUESDAY, "--company", company.slug)

    assert sorted(out.splitlines()) == sorted(
        [
            f"would send: {pat.email}: reminder: sub job {sub_job.code}",
            f"would send: {boss.email}: escalation: Owner Invoice {invoice.number}",
        ]
    )
    assert mailoutbox == []
    assert not OutboxEmail.objects.filter(kind__in=["reminder", "escalation"]).exists()


def test_the_command_sends_and_a_second_run_sends_nothing_more(
    sub_job: Any, admin: Any, approver: Any, mailoutbox: list[Any]
) -> None:
    waiting(sub_job, admin, at(FRIDAY))

    assert run_command("--day", TUESDAY) == (
        f"sent: {approver.email}: reminder: sub job {sub_job.code}\n"
    )
    assert run_command("--day", TUESDAY).startswith("already sent: ")
    assert len(mailoutbox) == 1


def test_the_command_says_when_nobody_is_reminded(company: Any) -> None:
    assert run_command("--day", TUESDAY).startswith("No reminders to send")
    assert "Saturday" in run_command("--day", "2026-11-21")


@pytest.mark.parametrize("day", ["tomorrow", "2026-13-01", "24/11/2026"])
def test_the_command_refuses_a_day_it_cannot_read(day: str) -> None:
    with pytest.raises(CommandError, match="--day"):
        run_command("--day", day)


def test_the_command_refuses_an_unknown_company(company: Any) -> None:
    with pytest.raises(CommandError, match="No company with slug 'nope'"):
        run_command("--company", "nope")


# ----- the daily summary ----------------------------------------------------------------------


def test_the_daily_summary_lists_overdue_items_first_and_marks_them(
    company: Any, project: Any, admin: Any, mailoutbox: list[Any]
) -> None:
    f.approver(company, erp_digest_subscribed=True)
    fresh = waiting(f.SubJobFactory(project=project, status="approved"), admin, at(MONDAY))
    old = waiting(f.SubJobFactory(project=project, status="approved"), admin, at(FRIDAY))

    send_daily_summary(day=TUESDAY)

    [message] = mailoutbox
    html = message.alternatives[0].content
    for part in (message.body, html):
        assert part.index(old.code) < part.index(fresh.code)
    assert f"overdue: sub job {old.code}" in message.body
    assert f"overdue: sub job {fresh.code}" not in message.body
    assert "Overdue" in html.split(old.code)[0].rsplit("<li>", 1)[1]
    assert "Overdue" not in html.split(fresh.code)[0].rsplit("<li>", 1)[1]


# ----- ERP_REMIND_HOUR ------------------------------------------------------------------------


@pytest.mark.parametrize("hour", ["24", "-1", "eight"])
def test_the_remind_hour_must_be_an_hour_of_the_day(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, hour: str
) -> None:
    monkeypatch.setenv("ERPSYNC_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("ERP_REMIND_HOUR", hour)

    with pytest.raises(ImproperlyConfigured, match="ERP_REMIND_HOUR"):
        load_settings()


def test_the_remind_hour_defaults_to_eight(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ERPSYNC_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("ERP_REMIND_HOUR", raising=False)

    assert load_settings()["ERP_REMIND_HOUR"] == 8
    monkeypatch.setenv("ERP_REMIND_HOUR", "0")
    assert load_settings()["ERP_REMIND_HOUR"] == 0
