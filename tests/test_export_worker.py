"""Exports through a real Celery worker on the real Redis broker and PostgreSQL.

The worker runs in a thread of the test process (celery.contrib.testing), consuming from the
broker the Makefile points at; the tests are transactional so it sees committed rows.
"""

from __future__ import annotations

import time
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.utils import timezone

from erpsync.adapters import adapter_for
from erpsync.exports import idempotency_key
from erpsync.models import ErpEvent, ExportAttempt, SandboxCall, SandboxRecord
from erpsync.services import erp_accept, erp_send
from erpsync.tasks import export_item, sweep_exports
from subjobs.models import SubJob
from tests.procs import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def state_of(item: Any) -> str:
    return SubJob.objects.values_list("erp_state", flat=True).get(pk=item.pk)


@pytest.fixture
def pending(sub_job: Any, admin: Any) -> Any:
    return erp_send(item=sub_job, user=admin)


def configure(item: Any, **erp_settings: Any) -> None:
    company = item.erp_company
    company.erp_settings = erp_settings
    company.save()


def test_accept_exports_and_marks_synced_with_the_erp_id(
    worker: None, pending: Any, approver: Any
) -> None:
    erp_accept(item=pending, user=approver)
    wait_for(lambda: state_of(pending) == "synced", "the export")
    pending.refresh_from_db()
    record = SandboxRecord.objects.get()
    assert pending.erp_id == record.erp_id and record.erp_id.startswith("SBX-")
    assert record.idempotency_key == idempotency_key(pending)
    assert record.payload == pending.erp_snapshot()
    attempt = ExportAttempt.objects.get()
    assert (attempt.outcome, attempt.erp_id, attempt.try_number) == ("synced", record.erp_id, 1)
    assert ErpEvent.objects.filter(action="mark_synced", actor=None).count() == 1


def test_a_transient_failure_then_success_exports_once(
    worker: None, pending: Any, approver: Any
) -> None:
    configure(pending, fail={pending.code: "transient:1"})
    erp_accept(item=pending, user=approver)
    wait_for(lambda: state_of(pending) == "synced", "the retried export")
    assert SandboxRecord.objects.count() == 1
    assert list(SandboxCall.objects.order_by("pk").values_list("outcome", flat=True)) == [
        "transient",
        "ok",
    ]
    outcomes = list(ExportAttempt.objects.order_by("pk").values_list("outcome", "try_number"))
    assert outcomes == [("transient", 1), ("synced", 2)]
    pending.refresh_from_db()
    assert pending.erp_export_attempts == 2 and pending.erp_error == ""


def test_transient_failures_give_up_after_the_last_try(
    worker: None, pending: Any, approver: Any, settings: Any
) -> None:
    settings.ERP_EXPORT_MAX_TRIES = 3
    configure(pending, fail={pending.code: "transient"})
    erp_accept(item=pending, user=approver)
    wait_for(lambda: state_of(pending) == "export_failed", "giving up")
    pending.refresh_from_db()
    assert "gave up after 3 tries" in pending.erp_error
    assert pending.erp_export_attempts == 3
    assert not SandboxRecord.objects.exists()


def test_a_permanent_failure_is_shown_and_erp_retry_failed_then_succeeds(
    worker: None, pending: Any, approver: Any, mailoutbox: list[Any]
) -> None:
    configure(pending, fail={pending.code: "permanent"})
    erp_accept(item=pending, user=approver)
    wait_for(lambda: state_of(pending) == "export_failed", "the permanent failure")
    pending.refresh_from_db()
    assert "set to fail permanently" in pending.erp_error
    assert ExportAttempt.objects.get().outcome == "permanent"
    # The worker emails the approvers, with the ERP's error.
    wait_for(
        lambda: any("set to fail permanently" in m.body for m in mailoutbox), "the failure email"
    )
    failed_mail = next(m for m in mailoutbox if "set to fail permanently" in m.body)
    assert approver.email in failed_mail.to

    configure(pending)  # the ERP side was fixed
    call_command("erp_retry_failed", stdout=StringIO())
    wait_for(lambda: state_of(pending) == "synced", "the export after erp_retry_failed")
    assert SandboxRecord.objects.count() == 1


def test_the_same_export_message_twice_makes_one_erp_record(
    worker: None, pending: Any, approver: Any
) -> None:
    erp_accept(item=pending, user=approver, export=False)
    export_item.delay("sub_job", pending.pk)
    export_item.delay("sub_job", pending.pk)
    wait_for(lambda: state_of(pending) == "synced", "the export")
    wait_for(lambda: not ExportAttempt.objects.filter(outcome="started").exists(), "both messages")
    assert SandboxRecord.objects.count() == 1
    assert ErpEvent.objects.filter(action="mark_synced").count() == 1


def test_a_publish_lost_after_commit_is_exported_by_the_sweeper(
    worker: None, pending: Any, approver: Any, settings: Any
) -> None:
    # Accepted and committed, but the message never reached the broker.
    erp_accept(item=pending, user=approver, export=False)
    time.sleep(0.5)
    assert state_of(pending) == "accepted"
    settings.ERP_SWEEP_AFTER_SECONDS = 0
    assert sweep_exports() == 1
    wait_for(lambda: state_of(pending) == "synced", "the swept export")


def test_a_worker_killed_after_the_erp_call_does_not_export_twice(
    worker: None, pending: Any, approver: Any, settings: Any
) -> None:
    accepted = erp_accept(item=pending, user=approver, export=False)
    key = idempotency_key(accepted)
    # The first worker reached the ERP, then died before recording the result.
    made = adapter_for(accepted.erp_company).export(
        kind="sub_job", snapshot=accepted.erp_snapshot(), idempotency_key=key
    )
    ExportAttempt.objects.create(
        content_type=ContentType.objects.get_for_model(SubJob),
        object_id=accepted.pk,
        company=accepted.erp_company,
        version=accepted.erp_version,
        idempotency_key=key,
        try_number=1,
        started_at=timezone.now() - timedelta(hours=1),
    )
    settings.ERP_SWEEP_AFTER_SECONDS = 0
    assert sweep_exports() == 1
    wait_for(lambda: state_of(pending) == "synced", "the recovered export")
    pending.refresh_from_db()
    assert pending.erp_id == made
    assert SandboxRecord.objects.count() == 1


def test_an_item_no_longer_accepted_is_not_exported(
    worker: None, pending: Any, approver: Any
) -> None:
    export_item.delay("sub_job", pending.pk)  # still pending: nothing to export
    time.sleep(1)
    assert state_of(pending) == "pending"
    assert not SandboxRecord.objects.exists() and not ExportAttempt.objects.exists()
