"""Run beat's two sweepers once: stuck exports and unsent emails."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from erpsync.tasks import sweep_emails, sweep_exports


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


class Command(BaseCommand):
    help = (
        "Run the sweepers Celery beat runs, once, in this process: requeue accepted items whose "
        "export has not finished after ERP_SWEEP_AFTER_SECONDS and that no worker holds, and "
        "queue outbox emails still unsent after ERPSYNC_EMAIL_SWEEP_SECONDS. With a broker "
        "they are queued for the workers; without one (the embedded demo) they run here."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        where = (
            "run in this process: no broker"
            if sweep_exports.app.conf.task_always_eager
            else "queued for the workers"
        )
        exports = sweep_exports()
        self.stdout.write(f"Requeued {plural(exports, 'stuck export')} ({where}).")
        emails = sweep_emails()
        self.stdout.write(f"Queued {plural(emails, 'unsent email')} ({where}).")
