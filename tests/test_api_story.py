"""The seed story through the API alone, with a real Celery worker on the real broker and the
sandbox ERP: create a sub job, approve it, send it, reject it, rename it, resend it, accept it
(the version reviewed) and see it synced."""

from __future__ import annotations

import time
from typing import Any

import pytest

from erpsync.models import SandboxRecord
from tests.api_helpers import client_for, url

pytestmark = pytest.mark.django_db(transaction=True)


def ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.content
    return response.json()


def test_the_seed_story_through_the_api_alone(
    worker: None, company: Any, project: Any, admin: Any, approver: Any
) -> None:
    sender = client_for(admin, company)
    accountant = client_for(approver, company)

    # The project's id, as a client finds it.
    [listed] = ok(sender.get(url(company, "projects/")))["results"]
    assert listed["id"] == project.pk and listed["manages_sub_jobs"]

    created = ok(
        sender.post(
            url(company, f"projects/{project.pk}/sub-jobs/"),
            {"code": "03-100", "name": "Concrete"},
            format="json",
        ),
        201,
    )
    item = created["url"]
    assert (created["sub_job"]["status"], created["state"]) == ("draft", "not_sent")
    refused = sender.post(f"{item}send/")
    assert refused.status_code == 409
    assert "not in the Approved status" in refused.json()["detail"]

    assert ok(sender.post(f"{item}approve/"))["sub_job"]["status"] == "approved"
    sent = ok(sender.post(f"{item}send/"))
    assert (sent["state"], sent["version"]) == ("pending", 1)
    assert sent["snapshot"]["name"] == "Concrete"

    # The approver finds it in the queue and rejects it with a reason.
    ready = ok(accountant.get(url(company, "sub-jobs/"), {"queue": "ready"}))["results"]
    assert [row["id"] for row in ready] == [created["id"]]
    rejected = ok(accountant.post(f"{item}reject/", {"reason": "Use the full name"}, format="json"))
    assert (rejected["state"], rejected["rejection_reason"]) == ("rejected", "Use the full name")

    renamed = ok(sender.patch(item, {"name": "Concrete foundations"}, format="json"))
    assert renamed["sub_job"]["name"] == "Concrete foundations"
    resent = ok(sender.post(f"{item}resend/"))
    assert (resent["state"], resent["version"]) == ("pending", 2)
    assert resent["snapshot"]["name"] == "Concrete foundations"

    # Accepting the version reviewed before the resend is refused; the current one is taken.
    stale = accountant.post(f"{item}accept/", {"version": 1}, format="json")
    assert stale.status_code == 409
    reviewed = ok(accountant.get(item))["version"]
    accepted = ok(accountant.post(f"{item}accept/", {"version": reviewed}, format="json"))
    assert accepted["state"] in ("accepted", "synced")

    deadline = time.monotonic() + 20
    while (now := ok(sender.get(item)))["state"] != "synced":
        assert now["state"] == "accepted", now
        assert time.monotonic() < deadline, "timed out waiting for the export"
        time.sleep(0.1)
    record = SandboxRecord.objects.get()
    assert now["erp_id"] == record.erp_id and record.erp_id.startswith("SBX-")
    assert record.payload["name"] == "Concrete foundations"
    assert [h["action"] for h in now["history"]] == [
        "create",
        "edit",
        "send",
        "reject",
        "edit",
        "resend",
        "accept",
        "mark_synced",
    ]
    # And the audit log tells the same story, newest first.
    events = ok(accountant.get(url(company, "events/"), {"item": f"sub_job:{created['id']}"}))
    assert [e["action"] for e in events["results"]][:2] == ["mark_synced", "accept"]
