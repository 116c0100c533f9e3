"""Celery beat's static schedule names real tasks, at the configured times."""

from __future__ import annotations

from erpsync.celery import app


def test_every_scheduled_task_exists() -> None:
    app.loader.import_default_modules()
    schedule = app.conf.beat_schedule
    assert {"erp-sweep-exports", "erp-daily-summary"} <= set(schedule)
    for name, entry in schedule.items():
        assert entry["task"] in app.tasks, f"{name} names an unknown task {entry['task']}"


def test_the_daily_summary_runs_once_a_day_at_the_digest_hour() -> None:
    from django.conf import settings

    entry = app.conf.beat_schedule["erp-daily-summary"]["schedule"]
    assert entry.hour == {settings.ERP_DIGEST_HOUR} and entry.minute == {0}


def test_the_sweeper_runs_every_few_minutes_below_the_visibility_timeout() -> None:
    from django.conf import settings

    every = app.conf.beat_schedule["erp-sweep-exports"]["schedule"]
    assert every == settings.ERP_SWEEP_EVERY_SECONDS < settings.CELERY_VISIBILITY_TIMEOUT
    assert (
        app.conf.broker_transport_options["visibility_timeout"]
        == settings.CELERY_VISIBILITY_TIMEOUT
    )


def test_reminders_run_on_weekdays_at_the_remind_hour() -> None:
    from django.conf import settings

    entry = app.conf.beat_schedule["erp-remind"]
    assert entry["task"] == "approvals.tasks.send_reminders"
    schedule = entry["schedule"]
    assert schedule.hour == {settings.ERP_REMIND_HOUR} and schedule.minute == {0}
    assert schedule.day_of_week == {1, 2, 3, 4, 5}
