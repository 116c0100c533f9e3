"""The pull connector (README, "Pull connector"): a company whose own integration pulls its
accepted items through the API instead of erpsync exporting them.

Claims, reports and the queue on real PostgreSQL (concurrent claimers in threads with their
own connections), the API with real tokens, and examples/connector.py run as a subprocess
against a live server.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from api.services import token_create
from approvals.services import decide
from erpsync import connector
from erpsync.connector import claim_batch, report
from erpsync.exports import erp_export, idempotency_key, stale_exports
from erpsync.models import (
    ConnectorClaim,
    ErpEvent,
    ExportAttempt,
    OutboxEmail,
    SandboxRecord,
)
from erpsync.models.records import ErpEventQuerySet
from erpsync.selectors import submitted_snapshot
from erpsync.services import erp_accept, requeue_export_decision
from jobs.services import job_send
from projects.models import ToolLevel
from subjobs.models import SubJob
from tests import factories as f
from tests.drive import drive_to

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "connector.py"


# ----- fixtures and helpers ---------------------------------------------------------------


@pytest.fixture
def pulling(company: Any) -> Any:
    """The company, its ERP reached through its own pull connector."""
    company.erp_adapter = "connector"
    company.save(update_fields=["erp_adapter"])
    return company


@pytest.fixture
def robot(pulling: Any) -> Any:
    """The connector's user: an Admin of the company's ERP Integrations tool."""
    user = f.UserFactory(username="erp-robot")
    f.CompanyMembershipFactory(company=pulling, user=user, erp_tool_level=ToolLevel.ADMIN)
    return user


def accepted(project: Any, admin: Any, approver: Any, n: int = 1) -> list[Any]:
    items = []
    for _ in range(n):
        sub_job = f.SubJobFactory(project=project, status="approved", created_by=admin)
        items.append(drive_to(sub_job, "accepted", sender=admin, approver=approver))
    return items


def api_for(user: Any, company: Any, **token: Any) -> APIClient:
    _, raw = token_create(user=user, company=company, name="connector", **token)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def url(company: Any, segment: str) -> str:
    return f"/api/v1/companies/{company.slug}/connector/{segment}/"


def post(api: APIClient, company: Any, segment: str, body: Any) -> Any:
    """POST `body` as JSON to one of the company's connector endpoints."""
    return api.post(url(company, segment), body, format="json")


def synced(item: Any, erp_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "kind": item.erp_kind,
        "id": item.pk,
        "version": item.erp_version,
        "status": "synced",
        "erp_id": erp_id,
        **extra,
    }


def failed(item: Any, error: str, **extra: Any) -> dict[str, Any]:
    return {
        "kind": item.erp_kind,
        "id": item.pk,
        "version": item.erp_version,
        "status": "failed",
        "error": error,
        **extra,
    }


def state_of(item: Any) -> str:
    return type(item).objects.values_list("erp_state", flat=True).get(pk=item.pk)


def claimed_ids(claim: Any) -> list[int]:
    return [c.item.pk for c in claim.items]


def take(company: Any, user: Any, limit: int, lease_seconds: int = 60) -> connector.Claim:
    """A claim by the connector of `user`, as the API makes it."""
    return claim_batch(company=company, user=user, limit=limit, lease_seconds=lease_seconds)


def report_on(
    company: Any, user: Any, item: Any, outcome: str, *, version: int = 1, **fields: str
) -> connector.ReportResult:
    """The connector of `user` reports `outcome` for `item` at `version`."""
    return report(
        company=company,
        user=user,
        kind=item.erp_kind,
        item_id=item.pk,
        version=version,
        outcome=outcome,
        **fields,
    )


# ----- core: claims -----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_claimer_holding_its_rows_never_shares_them_and_never_blocks_another(
    pulling: Any, project: Any, admin: Any, approver: Any, robot: Any, monkeypatch: Any
) -> None:
    """The first claimer stops after locking its rows (before it commits); the second skips
    them (SKIP LOCKED) instead of waiting or taking them too."""
    items = accepted(project, admin, approver, 6)
    holding, release = threading.Event(), threading.Event()
    first_thread: list[int] = []
    real_snapshots = ErpEventQuerySet.submitted_snapshots

    def pausing(events: Any, rows: Any) -> Any:
        if not first_thread:
            first_thread.append(threading.get_ident())
            holding.set()
            assert release.wait(15), "the test never released the first claim"
        return real_snapshots(events, rows)

    monkeypatch.setattr(ErpEventQuerySet, "submitted_snapshots", pausing)
    results: dict[str, Any] = {}

    def claim(name: str) -> None:
        try:
            results[name] = take(pulling, robot, 4)
        except Exception as error:
            results[name] = error
        finally:
            connection.close()

    first = threading.Thread(target=claim, args=("first",))
    first.start()
    assert holding.wait(15), "the first claim never locked its rows"
    second = threading.Thread(target=claim, args=("second",))
    second.start()
    second.join(10)
    assert not second.is_alive(), "the second claimer waited for the first one's rows"
    release.set()
    first.join(15)
    a, b = claimed_ids(results["first"]), claimed_ids(results["second"])
    assert len(a) == 4 and len(b) == 2
    assert not set(a) & set(b)
    assert set(a) | set(b) == {i.pk for i in items}
    assert ConnectorClaim.objects.count() == 6


@pytest.mark.django_db(transaction=True)
def test_many_concurrent_claimers_take_every_item_exactly_once(
    pulling: Any, project: Any, admin: Any, approver: Any, robot: Any
) -> None:
    items = accepted(project, admin, approver, 24)
    start = threading.Barrier(4)
    taken: list[list[int]] = [[] for _ in range(4)]
    errors: list[BaseException] = []

    def claimer(n: int) -> None:
        try:
            start.wait(10)
            while True:
                claim = take(pulling, robot, 3)
                if not claim.items:
                    return
                taken[n] += claimed_ids(claim)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=claimer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    every = [pk for ids in taken for pk in ids]
    assert sorted(every) == sorted(i.pk for i in items)  # each once, none missed


@pytest.mark.django_db
def test_a_live_claim_holds_its_items_and_an_expired_one_puts_them_back(
    pulling: Any, project: Any, admin: Any, approver: Any, robot: Any
) -> None:
    items = accepted(project, admin, approver, 3)
    first = take(pulling, robot, 2)
    assert claimed_ids(first) == [items[0].pk, items[1].pk]  # oldest accepted first
    second = take(pulling, robot, 10)
    assert claimed_ids(second) == [items[2].pk]
    assert take(pulling, robot, 10).items == []

    ConnectorClaim.objects.filter(token=first.token).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    again = take(pulling, robot, 10)
    assert claimed_ids(again) == [items[0].pk, items[1].pk]
    assert again.token != first.token
    claim = again.items[0]
    assert claim.idempotency_key == idempotency_key(items[0])
    assert claim.snapshot == submitted_snapshot(items[0]).snapshot
    # Audited per claim, with the connector's user as the actor.
    events = ErpEvent.objects.filter(action="connector_claim", object_id=items[0].pk)
    assert [(e.actor, e.details["claim"]) for e in events] == [
        (robot, first.token),
        (robot, again.token),
    ]
    assert state_of(items[0]) == "accepted"  # a claim changes no state


@pytest.mark.django_db
def test_claim_limits_are_checked(pulling: Any, robot: Any) -> None:
    from django.core.exceptions import ValidationError

    for limit, lease in ((0, 60), (101, 60), (10, 5), (10, 3601), (True, 60)):
        with pytest.raises(ValidationError):
            claim_batch(company=pulling, user=robot, limit=limit, lease_seconds=lease)
    assert not ConnectorClaim.objects.exists()


# ----- core: reports ------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_synced_report_marks_it_synced_once_and_a_repeat_is_a_no_op(
    pulling: Any, project: Any, admin: Any, approver: Any, robot: Any
) -> None:
    [item] = accepted(project, admin, approver)
    claim = take(pulling, robot, 1)

    def send() -> Any:
        return report_on(pulling, robot, item, "synced", erp_id="ERP-000001", claim=claim.token)

    first = send()
    assert (first.status, first.changed, first.state, first.erp_id) == (
        200,
        True,
        "synced",
        "ERP-000001",
    )
    repeat = send()
    assert (repeat.status, repeat.changed, repeat.state, repeat.erp_id) == (
        200,
        False,
        "synced",
        "ERP-000001",
    )
    item.refresh_from_db()
    assert (item.erp_state, item.erp_id) == ("synced", "ERP-000001")
    [event] = ErpEvent.objects.filter(action="mark_synced", object_id=item.pk)
    assert event.actor == robot and event.details["claim"] == claim.token
    assert event.details["adapter"] == "connector"
    [attempt] = ExportAttempt.objects.all()
    assert (attempt.outcome, attempt.erp_id, attempt.idempotency_key) == (
        "synced",
        "ERP-000001",
        idempotency_key(item),
    )
    assert attempt.started_at == ConnectorClaim.objects.get().claimed_at
    assert ConnectorClaim.objects.get().outcome == "synced"


@pytest.mark.django_db
def test_a_second_erp_id_for_a_synced_item_is_refused_with_a_409_saying_why(
    pulling: Any, project: Any, admin: Any, approver: Any, robot: Any
) -> None:
    [item] = accepted(project, admin, approver)
    api = api_for(robot, pulling)
    first = post(api, pulling, "reports", [synced(item, "ERP-7")])
    assert first.status_code == 200, first.content
    response = post(api, pulling, "reports", [synced(item, "ERP-8")])
    assert response.status_code == 409
    assert response["Content-Type"] == "application/problem+json"
    [result] = response.json()["results"]
    assert result["http_status"] == 409 and not result["changed"]
    assert "already synced as ERP id ERP-7" in result["detail"]
    assert "ERP-8" in response.json()["detail"]
    item.refresh_from_db()
    assert item.erp_id == "ERP-7"


@pytest.mark.django_db
def test_a_failed_report_fails_the_export_and_retry_puts_it_back_in_the_queue(
    pulling: Any, project: Any, admin: Any, approver: Any, robot: Any
) -> None:
    [item] = accepted(project, admin, approver)
    api = api_for(robot, pulling)
    claim = post(api, pulling, "claims", {"limit": 5}).json()
    response = post(
        api,
        pulling,
        "reports",
        [failed(item, "Cost code closed for posting", claim=claim["claim"])],
    )
    assert response.status_code == 200, response.content
    assert response.json()["results"][0]["state"] == "export_failed"
    item.refresh_from_db()
    assert (item.erp_state, item.erp_error) == ("export_failed", "Cost code closed for posting")
    assert OutboxEmail.objects.filter(kind="export_failed").exists()  # approvers are told
    event = ErpEvent.objects.get(action="mark_export_failed", object_id=item.pk)
    assert event.actor == robot and event.reason == "Cost code closed for posting"
    # The same claim's failure again changes nothing.
    again = post(api, pulling, "reports", [failed(item, "again", claim=claim["claim"])])
    assert again.status_code == 200 and not again.json()["results"][0]["changed"]

    decide(item=item, user=approver, decision="retry")
    assert state_of(item) == "accepted"
    queue = api.get(url(pulling, "queue")).json()
    assert (queue["waiting"], [i["id"] for i in queue["items"]]) == (1, [item.pk])
    # A late repeat of the first claim's failure does not fail the retried export.
    late = post(api, pulling, "reports", [failed(item, "late", claim=claim["claim"])])
    assert late.status_code == 200 and not late.json()["results"][0]["changed"]
    assert state_of(item) == "accepted"
    retried = post(api, pulling, "claims", {"limit": 5}).json()
    assert [i["id"] for i in retried["items"]] == [item.pk]
    assert not SandboxRecord.objects.exists()  # erpsync itself never exported it


@pytest.mark.django_db
def test_late_reports_after_an_expired_claim_was_claimed_again(
    pulling: Any, project: Any, admin: Any, approver: Any, robot: Any
) -> None:
    """Synced always counts (the ERP has the record); a failure from an expired claim yields
    to the live claim of whoever took the item since."""
    one, two = accepted(project, admin, approver, 2)
    old = take(pulling, robot, 2)
    ConnectorClaim.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    new = take(pulling, robot, 2)
    assert claimed_ids(new) == [one.pk, two.pk]

    refused = report_on(pulling, robot, one, "failed", error="timeout", claim=old.token)
    assert refused.status == 409 and "another connector run claimed it" in refused.detail
    assert state_of(one) == "accepted"
    late_sync = report_on(pulling, robot, two, "synced", erp_id="ERP-2", claim=old.token)
    assert late_sync.status == 200 and late_sync.changed
    # The new claim's own report of the same record: the same result.
    same = report_on(pulling, robot, two, "synced", erp_id="ERP-2", claim=new.token)
    assert same.status == 200 and not same.changed
    # Never claimed at all, but accepted at that version: the ERP has it, so it counts.
    [three] = accepted(project, admin, approver)
    unclaimed = report_on(pulling, robot, three, "synced", erp_id="ERP-3")
    assert unclaimed.status == 200 and state_of(three) == "synced"


@pytest.mark.django_db
def test_a_report_for_another_version_is_refused(
    pulling: Any, project: Any, admin: Any, approver: Any, robot: Any
) -> None:
    [item] = accepted(project, admin, approver)
    result = report_on(pulling, robot, item, "synced", version=2, erp_id="ERP-1")
    assert result.status == 409 and "no version 2" in result.detail
    assert state_of(item) == "accepted"


# ----- the export worker, the sweeper and the pages leave them to the connector ------------


@pytest.mark.django_db
def test_the_worker_and_the_sweeper_never_export_a_connector_companys_items(
    pulling: Any, project: Any, admin: Any, approver: Any
) -> None:
    [item] = accepted(project, admin, approver)
    SubJob.objects.filter(pk=item.pk).update(erp_changed_at=timezone.now() - timedelta(hours=2))
    assert item.pk not in stale_exports(SubJob)
    result = erp_export(model=SubJob, item_id=item.pk, try_number=1, requeue=lambda _: None)
    assert result.outcome == "skipped" and "connector" in result.detail
    assert state_of(item) == "accepted" and not ExportAttempt.objects.exists()
    item.refresh_from_db()
    decision = requeue_export_decision(item, approver)
    assert not decision.allowed and "waits for the company's connector" in decision.reasons[0]
    assert "waiting for the company's connector" in (item.erp_lock_reason() or "")
    out = StringIO()
    call_command("erp_sweep", stdout=out)
    assert "Requeued 0 stuck exports" in out.getvalue()


@pytest.mark.django_db
def test_a_live_claim_keeps_the_worker_off_an_item_after_the_company_leaves_its_connector(
    pulling: Any, project: Any, admin: Any, approver: Any, robot: Any
) -> None:
    [item] = accepted(project, admin, approver)
    take(pulling, robot, 1)
    pulling.erp_adapter = "sandbox"
    pulling.save(update_fields=["erp_adapter"])
    SubJob.objects.filter(pk=item.pk).update(erp_changed_at=timezone.now() - timedelta(hours=2))
    assert item.pk not in stale_exports(SubJob)
    result = erp_export(model=SubJob, item_id=item.pk, try_number=1, requeue=lambda _: None)
    assert result.outcome == "skipped"
    ConnectorClaim.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert item.pk in stale_exports(SubJob)


@pytest.mark.django_db
def test_a_worker_still_exporting_an_item_keeps_the_connector_off_it(
    pulling: Any, project: Any, admin: Any, approver: Any, robot: Any
) -> None:
    """The company switched to its connector while a worker was exporting: that export ends
    first (it marks the item synced or failed), or its lease runs out."""
    [item] = accepted(project, admin, approver)
    attempt = ExportAttempt.objects.create(
        content_type=ContentType.objects.get_for_model(SubJob),
        object_id=item.pk,
        company=pulling,
        version=1,
        idempotency_key=idempotency_key(item),
        try_number=1,
    )
    assert take(pulling, robot, 5).items == []
    ExportAttempt.objects.filter(pk=attempt.pk).update(
        started_at=timezone.now() - timedelta(hours=1)
    )
    claim = take(pulling, robot, 5)
    assert claimed_ids(claim) == [item.pk]


@pytest.mark.django_db
def test_the_exporting_list_says_waiting_for_the_connector_not_export_now(
    pulling: Any, project: Any, admin: Any, approver: Any, robot: Any
) -> None:
    accepted(project, admin, approver, 2)
    SubJob.objects.update(erp_changed_at=timezone.now() - timedelta(hours=2))
    take(pulling, robot, 1)
    client = Client()
    client.force_login(approver)
    page = client.get(reverse("erp_queue", args=[pulling.slug, "sub_job", "exporting"]))
    text = page.content.decode()
    assert page.status_code == 200
    assert text.count("data-connector-wait") == 2
    assert "Waiting for the connector" in text and "Claimed by the connector until" in text
    assert 'data-decision="export"' not in text


@pytest.mark.django_db
def test_erp_status_counts_what_waits_for_the_connector(
    pulling: Any, project: Any, admin: Any, approver: Any, robot: Any
) -> None:
    accepted(project, admin, approver, 3)
    take(pulling, robot, 1)
    out = StringIO()
    call_command("erp_status", "--company", pulling.slug, "--json", stdout=out)
    [entry] = json.loads(out.getvalue())["companies"]
    assert entry["connector"]["waiting"] == 2 and entry["connector"]["claimed"] == 1
    out = StringIO()
    call_command("erp_status", "--company", pulling.slug, stdout=out)
    assert "Pull connector: 2 waiting to be claimed, 1 claimed" in out.getvalue()


# ----- the API --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_api_claims_with_the_snapshot_key_and_expiry_and_reports_per_item(
    pulling: Any, project: Any, admin: Any, approver: Any, robot: Any
) -> None:
    one, two = accepted(project, admin, approver, 2)
    api = api_for(robot, pulling)
    response = post(api, pulling, "claims", {"limit": 10, "lease_seconds": 30})
    assert response.status_code == 200, response.content
    claim = response.json()
    assert claim["claim"] and claim["expires_at"] > claim["claimed_at"]
    first = claim["items"][0]
    assert (first["kind"], first["id"], first["version"]) == ("sub_job", one.pk, 1)
    assert first["idempotency_key"] == f"erpsync:sub_job:{one.pk}:v1"
    assert first["snapshot"] == submitted_snapshot(one).snapshot
    assert first["state"] == "accepted" and first["url"]

    # The brief's form without the trailing slash answers too.
    bare = api.post(
        f"/api/v1/companies/{pulling.slug}/connector/reports",
        [synced(one, "ERP-1", claim=claim["claim"]), failed(two, "Vendor on hold")],
        format="json",
    )
    assert bare.status_code == 200, bare.content
    body = bare.json()
    assert (body["recorded"], body["refused"]) == (2, 0)
    assert [r["state"] for r in body["results"]] == ["synced", "export_failed"]


@pytest.mark.django_db
def test_a_project_syncs_as_a_job_through_the_connector(
    pulling: Any, admin: Any, approver: Any, robot: Any
) -> None:
    project = f.ProjectFactory(company=pulling, number="P-77", name="Pier Shed")
    sender = f.member(project, admin=True)
    job = erp_accept(item=job_send(project=project, user=sender), user=approver)
    assert state_of(job) == "accepted"  # waiting for the connector, not exported by erpsync
    api = api_for(robot, pulling)
    claim = post(api, pulling, "claims", {"limit": 10}).json()
    (item,) = claim["items"]
    assert (item["kind"], item["id"], item["idempotency_key"]) == (
        "job",
        job.pk,
        f"erpsync:job:{job.pk}:v1",
    )
    assert item["snapshot"] == {"kind": "job", "number": "P-77", "name": "Pier Shed"}
    body = post(api, pulling, "reports", [synced(job, "JOB-P77", claim=claim["claim"])]).json()
    assert body["results"][0]["state"] == "synced"
    project.refresh_from_db()
    assert project.erp_synced and project.erp_job_id == "JOB-P77"


@pytest.mark.django_db
def test_a_company_without_the_connector_answers_409_with_the_reason(
    company: Any, approver: Any
) -> None:
    user = f.UserFactory()
    f.CompanyMembershipFactory(company=company, user=user, erp_tool_level=ToolLevel.ADMIN)
    api = api_for(user, company)
    for method, segment, body in (
        ("post", "claims", {"limit": 1}),
        ("post", "reports", [{"kind": "sub_job", "id": 1, "version": 1, "status": "synced"}]),
        ("get", "queue", None),
    ):
        response = getattr(api, method)(url(company, segment), body, format="json")
        assert response.status_code == 409, segment
        assert "sandbox" in response.json()["detail"] and "connector" in response.json()["detail"]


@pytest.mark.django_db
def test_a_read_only_token_may_read_the_queue_but_not_claim_or_report(
    pulling: Any, project: Any, admin: Any, approver: Any, robot: Any
) -> None:
    [item] = accepted(project, admin, approver)
    api = api_for(robot, pulling, read_only=True)
    assert api.get(url(pulling, "queue")).status_code == 200
    claim = post(api, pulling, "claims", {"limit": 1})
    assert claim.status_code == 403 and "read-only" in claim.json()["detail"]
    reported = post(api, pulling, "reports", [synced(item, "ERP-1")])
    assert reported.status_code == 403
    assert state_of(item) == "accepted" and not ConnectorClaim.objects.exists()


@pytest.mark.django_db
def test_only_admins_of_the_erp_tool_may_claim_and_report(
    pulling: Any, project: Any, admin: Any, approver: Any
) -> None:
    [item] = accepted(project, admin, approver)
    api = api_for(approver, pulling)  # a Standard accounting approver
    response = post(api, pulling, "claims", {"limit": 1})
    assert response.status_code == 403 and "Admin" in response.json()["detail"]
    assert post(api, pulling, "reports", [synced(item, "E")]).status_code == 403
    assert api.get(url(pulling, "queue")).status_code == 200  # the tool's users may read it
    assert state_of(item) == "accepted"


@pytest.mark.django_db
def test_another_companys_connector_and_items_answer_404(
    pulling: Any, project: Any, admin: Any, approver: Any, robot: Any
) -> None:
    [item] = accepted(project, admin, approver)
    other = f.CompanyFactory(erp_adapter="connector")
    f.CompanyMembershipFactory(company=other, user=robot, erp_tool_level=ToolLevel.ADMIN)
    elsewhere = api_for(robot, other)  # the same user, a token of the other company
    for method, segment in (("post", "claims"), ("post", "reports"), ("get", "queue")):
        response = getattr(elsewhere, method)(url(pulling, segment), {}, format="json")
        assert response.status_code == 404, segment
    # The other company's own endpoint, reporting this company's item: no such item there.
    response = post(elsewhere, other, "reports", [synced(item, "ERP-1")])
    assert response.status_code == 404
    assert response.json()["results"][0]["http_status"] == 404
    assert state_of(item) == "accepted"


BAD_CLAIMS: list[Any] = [
    [],
    "limit",
    {"limit": "many"},
    {"limit": 0},
    {"limit": 101},
    {"limit": 10**30},
    {"limit": None},
    {"limit": 1.5},
    {"limit": [1]},
    {"lease_seconds": -1},
    {"lease_seconds": "NaN"},
    {"lease_seconds": 10**6},
]

BAD_REPORTS: list[Any] = [
    {},
    {"reports": []},
    [],
    "synced",
    [None],
    [[]],
    [{"kind": "sub_job"}],
    [{"kind": "nope", "id": 1, "version": 1, "status": "synced", "erp_id": "E"}],
    [{"kind": "sub_job", "id": -1, "version": 1, "status": "synced", "erp_id": "E"}],
    [{"kind": "sub_job", "id": 10**30, "version": 1, "status": "synced", "erp_id": "E"}],
    [{"kind": "sub_job", "id": 1, "version": 0, "status": "synced", "erp_id": "E"}],
    [{"kind": "sub_job", "id": 1, "version": 1, "status": "done", "erp_id": "E"}],
    [{"kind": "sub_job", "id": 1, "version": 1, "status": "synced"}],
    [{"kind": "sub_job", "id": 1, "version": 1, "status": "synced", "erp_id": " "}],
    [{"kind": "sub_job", "id": 1, "version": 1, "status": "synced", "erp_id": "E\x00"}],
    [{"kind": "sub_job", "id": 1, "version": 1, "status": "synced", "erp_id": "E" * 101}],
    [{"kind": "sub_job", "id": 1, "version": 1, "status": "synced", "erp_id": {"a": 1}}],
    [{"kind": "sub_job", "id": 1, "version": 1, "status": "failed"}],
    [{"kind": "sub_job", "id": 1, "version": 1, "status": "failed", "error": "x" * 4001}],
    [{"kind": "sub_job", "id": 1, "version": 1, "status": "synced", "erp_id": "E", "claim": "x"}],
    [{"kind": "sub_job", "id": True, "version": 1, "status": "synced", "erp_id": "E"}],
    [{"kind": "sub_job", "id": 1, "version": 1, "status": "synced", "erp_id": "E"}] * 101,
]


@pytest.mark.django_db
def test_bad_bodies_answer_4xx_with_a_reason_and_change_nothing(
    pulling: Any, project: Any, admin: Any, approver: Any, robot: Any
) -> None:
    [item] = accepted(project, admin, approver)
    api = api_for(robot, pulling)
    before = ErpEvent.objects.count()
    for body in BAD_CLAIMS:
        response = post(api, pulling, "claims", body)
        assert 400 <= response.status_code < 500, (body, response.content)
        assert response.json()["detail"], body
    for body in BAD_REPORTS:
        body = json.loads(json.dumps(body).replace('"id": 1,', f'"id": {item.pk},'))
        response = post(api, pulling, "reports", body)
        assert response.status_code == 422, (body, response.content)
        assert response.json()["detail"], body
    for raw in (b"{", b"\xff\xfe", b"[1, 2"):
        response = api.post(url(pulling, "reports"), raw, content_type="application/json")
        assert response.status_code == 400, raw
    response = api.post(url(pulling, "claims"), "limit=1", content_type="text/plain")
    assert response.status_code == 415
    assert ErpEvent.objects.count() == before and not ConnectorClaim.objects.exists()
    assert state_of(item) == "accepted"


# ----- examples/connector.py against a live server -------------------------------------------


def run_example(server: str, company: Any, token: str, erp_file: Path, *extra: str) -> Any:
    return subprocess.run(
        [
            sys.executable,
            str(EXAMPLE),
            "--base-url",
            server,
            "--company",
            company.slug,
            "--token",
            token,
            "--erp-file",
            str(erp_file),
            "--once",
            "--limit",
            "2",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.django_db(transaction=True)
def test_the_example_connector_syncs_accepted_items_into_its_json_erp(
    live_server: Any,
    tmp_path: Path,
    pulling: Any,
    project: Any,
    admin: Any,
    approver: Any,
    robot: Any,
) -> None:
    items = accepted(project, admin, approver, 4)
    invoice = drive_to(
        f.invoice_ready_to_send(project=project, user=admin),
        "accepted",
        sender=admin,
        approver=approver,
    )
    refused = items.pop()
    erp_file = tmp_path / "erp.json"
    # An earlier run wrote this one and died before reporting: it is found, not written again.
    crashed = items[0]
    erp_file.write_text(
        json.dumps(
            {
                "next": 43,
                "records": {idempotency_key(crashed): {"erp_id": "ERP-000042", "kind": "sub_job"}},
            }
        )
    )
    _, token = token_create(user=robot, company=pulling, name="example")

    run = run_example(live_server.url, pulling, token, erp_file, "--refuse", refused.code)
    assert run.returncode == 0, run.stdout + run.stderr

    records = json.loads(erp_file.read_text())["records"]
    for item in [*items, invoice]:
        item.refresh_from_db()
        assert item.erp_state == "synced", (item, run.stdout)
        assert records[idempotency_key(item)]["erp_id"] == item.erp_id
    crashed.refresh_from_db()
    assert crashed.erp_id == "ERP-000042"
    assert len(records) == 4 and len({r["erp_id"] for r in records.values()}) == 4
    refused.refresh_from_db()
    assert refused.erp_state == "export_failed" and "closed for posting" in refused.erp_error

    # Retried by an approver, the refused item goes back to the connector; the rest is never
    # written twice.
    decide(item=refused, user=approver, decision="retry")
    again = run_example(live_server.url, pulling, token, erp_file)
    assert again.returncode == 0, again.stdout + again.stderr
    refused.refresh_from_db()
    records = json.loads(erp_file.read_text())["records"]
    assert refused.erp_state == "synced" and len(records) == 5
    assert records[idempotency_key(refused)]["erp_id"] == refused.erp_id
    synced_by = ErpEvent.objects.filter(
        action="mark_synced", content_type=ContentType.objects.get_for_model(SubJob)
    )
    assert {e.actor for e in synced_by} == {robot}


@pytest.mark.django_db(transaction=True)
def test_the_example_connector_says_why_it_is_refused(
    live_server: Any, tmp_path: Path, company: Any, approver: Any
) -> None:
    _, token = token_create(user=approver, company=company, name="example")
    run = run_example(live_server.url, company, token, tmp_path / "erp.json")
    assert run.returncode == 2
    assert "409" in run.stdout and "connector" in run.stdout
    bad = run_example(live_server.url, company, "esk_nope_nope", tmp_path / "erp.json")
    assert bad.returncode == 2 and "401" in bad.stdout
