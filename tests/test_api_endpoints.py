"""The API's bulk decisions, sub job writes, invoice reads, projects, audit log and schema."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from erpsync.models import ApprovalRule, ErpEvent
from erpsync.services import erp_accept, erp_send
from projects.models import ToolLevel
from subjobs.models import SubJob
from tests import factories as f
from tests.api_helpers import client_for, url
from tests.bulk import pending_sub_jobs, send_events

pytestmark = pytest.mark.django_db


def sent(project: Any, admin: Any, code: str) -> Any:
    return erp_send(
        item=f.SubJobFactory(project=project, code=code, status="approved", created_by=admin),
        user=admin,
    )


def state(item: Any) -> str:
    return type(item).objects.values_list("erp_state", flat=True).get(pk=item.pk)


# ----- bulk decisions ---------------------------------------------------------------------


def test_bulk_accept_reports_each_item_and_one_refusal_undoes_nothing(
    company: Any, project: Any, admin: Any, approver: Any
) -> None:
    first, second, stale, decided = (sent(project, admin, f"B-{n}") for n in range(4))
    erp_accept(item=decided, user=approver)
    api = client_for(approver, company)
    body = {
        "items": [
            {"id": first.pk, "version": 1},
            {"id": second.pk, "version": 1},
            {"id": stale.pk, "version": 2},
            {"id": decided.pk, "version": 1},
            {"id": 999_999_999, "version": 1},
        ]
    }
    response = api.post(url(company, "sub-jobs/bulk/accept/"), body, format="json")
    assert response.status_code == 200, response.content
    answer = response.json()
    assert (answer["decision"], answer["done"], answer["skipped"]) == ("accept", 2, 3)
    results = {r["id"]: r for r in answer["results"]}
    assert [r["id"] for r in answer["results"]] == [i["id"] for i in body["items"]]
    assert results[first.pk] | {"title": ""} == {
        "id": first.pk,
        "title": "",
        "done": True,
        "state": "accepted",
        "message": "accepted",
        "progress": None,
    }
    assert (
        results[stale.pk]["done"] is False and "version 2 is now 1" in results[stale.pk]["message"]
    )
    assert results[stale.pk]["state"] == "pending"
    assert results[decided.pk]["done"] is False and results[decided.pk]["state"] == "accepted"
    assert results[999_999_999] | {"title": ""} == {
        "id": 999_999_999,
        "title": "",
        "done": False,
        "state": None,
        "message": "No such item.",
        "progress": None,
    }
    assert "2 accepted" in answer["summary"] and "3 skipped" in answer["summary"]
    assert (state(first), state(second), state(stale)) == ("accepted", "accepted", "pending")


def test_bulk_accept_of_an_item_needing_two_approvals_reports_its_progress(
    company: Any, project: Any, admin: Any, approver: Any
) -> None:
    ApprovalRule.objects.create(company=company, kind="sub_job", approvals_required=2)
    item = sent(project, admin, "P-1")
    response = client_for(approver, company).post(
        url(company, "sub-jobs/bulk/accept/"),
        {"items": [{"id": item.pk, "version": 1}]},
        format="json",
    )
    [result] = response.json()["results"]
    assert result["done"] and result["progress"] == "1 of 2"
    assert result["state"] == "partially_approved" == state(item)


def test_bulk_reject_needs_a_reason_then_rejects_each_with_it(
    company: Any, project: Any, admin: Any, approver: Any
) -> None:
    items = [sent(project, admin, f"R-{n}") for n in range(2)]
    api = client_for(approver, company)
    body: dict[str, Any] = {"items": [{"id": i.pk} for i in items]}
    events = ErpEvent.objects.count()
    for reason in (None, "   "):
        response = api.post(
            url(company, "sub-jobs/bulk/reject/"),
            body if reason is None else {**body, "reason": reason},
            format="json",
        )
        assert response.status_code == 422, response.content
        assert response["Content-Type"] == "application/problem+json"
        assert "reason" in response.json()["errors"]
    assert ErpEvent.objects.count() == events
    response = api.post(
        url(company, "sub-jobs/bulk/reject/"), {**body, "reason": "Wrong cost code"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert [r["state"] for r in response.json()["results"]] == ["rejected", "rejected"]
    for item in items:
        item.refresh_from_db()
        assert item.erp_rejection_reason == "Wrong cost code"


def test_bulk_retry_requeues_failed_exports_and_skips_the_others(
    company: Any, sub_job: Any, drive: Any, project: Any, admin: Any, approver: Any
) -> None:
    failed = drive(sub_job, "export_failed")
    pending = sent(project, admin, "T-1")
    response = client_for(approver, company).post(
        url(company, "sub-jobs/bulk/retry/"),
        {"items": [{"id": failed.pk}, {"id": pending.pk}]},
        format="json",
    )
    assert response.status_code == 200, response.content
    first, second = response.json()["results"]
    assert (first["done"], first["state"]) == (True, "accepted")
    assert (second["done"], second["state"]) == (False, "pending")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"items": [{"id": 1}]}, "items[0].version"),
        ({"items": [{"id": 1, "version": 1}, {"id": 2}]}, "items[1].version"),
        ({"items": [{"id": "x", "version": 1}]}, "items[0].id"),
        ({"items": [{"id": 1, "version": 0}]}, "items[0].version"),
        ({"items": [{"id": 2**70, "version": 1}]}, "items[0].id"),
        ({"items": []}, "items"),
        ({"items": [{"id": 1, "version": 1}, {"id": 1, "version": 1}]}, "items"),
        ({"items": [{"id": n, "version": 1} for n in range(1, 502)]}, "items"),
        ({"items": {"id": 1}}, "items"),
        ({}, "items"),
        ({"items": [{"id": 1, "version": 1}], "reson": "typo"}, "reson"),
        ([{"id": 1, "version": 1}], "non_field_errors"),
        ({"items": [None]}, "items[0]"),
    ],
)
def test_a_bad_bulk_body_is_422_naming_the_field_and_changes_nothing(
    company: Any, project: Any, admin: Any, approver: Any, body: Any, field: str
) -> None:
    item = sent(project, admin, "X-1")
    api = client_for(approver, company)
    events = ErpEvent.objects.count()
    response = api.post(url(company, "sub-jobs/bulk/accept/"), body, format="json")
    assert response.status_code == 422, response.content
    problem = response.json()
    assert field in problem["errors"], problem
    assert all(isinstance(m, str) for ms in problem["errors"].values() for m in ms)
    assert problem["detail"]
    assert ErpEvent.objects.count() == events and state(item) == "pending"


def test_bulk_decisions_follow_the_rights_per_kind(
    company: Any, project: Any, admin: Any, sub_job: Any, invoice: Any
) -> None:
    erp_send(item=sub_job, user=admin)
    erp_send(item=invoice, user=admin)
    invoices_only = client_for(f.approver(company, kinds=("owner_invoice",)), company)
    response = invoices_only.post(
        url(company, "sub-jobs/bulk/accept/"),
        {"items": [{"id": sub_job.pk, "version": 1}]},
        format="json",
    )
    assert response.status_code == 403
    assert "sub jobs" in response.json()["detail"]
    assert state(sub_job) == "pending"
    # On its own kind's endpoint, an item of another kind is no item of this queue: skipped.
    response = invoices_only.post(
        url(company, "owner-invoices/bulk/accept/"),
        {"items": [{"id": invoice.pk, "version": 1}, {"id": sub_job.pk, "version": 1}]},
        format="json",
    )
    assert response.status_code == 200, response.content
    ok, other = response.json()["results"]
    assert (ok["done"], ok["state"]) == (True, "accepted")
    assert (other["done"], other["state"], other["message"]) == (False, None, "No such item.")
    assert state(sub_job) == "pending"


def test_bulk_is_refused_to_non_approvers_and_read_only_tokens(
    company: Any, project: Any, admin: Any, approver: Any, viewer: Any
) -> None:
    item = sent(project, admin, "N-1")
    body = {"items": [{"id": item.pk, "version": 1}]}
    reader = f.UserFactory()
    f.CompanyMembershipFactory(company=company, user=reader, erp_tool_level=ToolLevel.READ_ONLY)
    other = f.CompanyFactory()
    f.CompanyMembershipFactory(company=other, user=approver)
    for client, status in (
        (client_for(admin, company), 403),  # not on the ERP tool
        (client_for(reader, company), 403),  # on it, but no approver
        (client_for(approver, company, read_only=True), 403),
        (client_for(approver, other), 404),  # a token of another company
    ):
        response = client.post(url(company, "sub-jobs/bulk/accept/"), body, format="json")
        assert response.status_code == status, response.content
    assert state(item) == "pending"


# ----- sub jobs ---------------------------------------------------------------------------


def test_create_a_sub_job_on_a_project(company: Any, project: Any, admin: Any) -> None:
    api = client_for(admin, company)
    response = api.post(
        url(company, f"projects/{project.pk}/sub-jobs/"),
        {"code": " 07-100 ", "name": "Sitework"},
        format="json",
    )
    assert response.status_code == 201, response.content
    created = response.json()
    sub_job = SubJob.objects.get(project=project, code="07-100")
    assert response["Location"] == created["url"] == url(company, f"sub-jobs/{sub_job.pk}/")
    assert created["sub_job"] | {"created_at": None, "updated_at": None} == {
        "code": "07-100",
        "name": "Sitework",
        "status": "draft",
        "status_label": "Draft",
        "created_at": None,
        "updated_at": None,
    }
    assert (created["state"], created["version"]) == ("not_sent", 0)
    assert [h["action"] for h in created["history"]] == ["create"]
    assert api.get(created["url"]).json()["sub_job"]["name"] == "Sitework"


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"code": "07-100", "name": "Again"}, {"code"}),
        ({"code": "07-101", "name": ""}, {"name"}),
        ({"code": "07-100 ", "name": "Case"}, {"code"}),
        ({"code": "", "name": "x"}, {"code"}),
        ({"code": "x" * 31, "name": "x"}, {"code"}),
        ({"name": "x"}, {"code"}),
        ({"code": "A\x00B", "name": "x"}, {"code"}),
        ({"code": "A-1", "name": "x", "status": "approved"}, {"status"}),
        ({"code": 7, "name": ["x"]}, {"name"}),
    ],
)
def test_a_bad_sub_job_is_422_at_its_fields_and_nothing_is_saved(
    company: Any, project: Any, admin: Any, body: dict[str, Any], fields: set[str]
) -> None:
    f.SubJobFactory(project=project, code="07-100")
    count = SubJob.objects.count()
    response = client_for(admin, company).post(
        url(company, f"projects/{project.pk}/sub-jobs/"), body, format="json"
    )
    assert response.status_code == 422, response.content
    assert fields <= set(response.json()["errors"]), response.json()
    assert SubJob.objects.count() == count


def test_sub_jobs_are_created_only_by_the_projects_admins_in_the_tokens_company(
    company: Any, project: Any, admin: Any, viewer: Any, approver: Any
) -> None:
    body = {"code": "Z-1", "name": "Zed"}
    assert (
        client_for(viewer, company)
        .post(url(company, f"projects/{project.pk}/sub-jobs/"), body, format="json")
        .status_code
        == 403
    )
    # An approver who is no member of the project.
    assert (
        client_for(approver, company)
        .post(url(company, f"projects/{project.pk}/sub-jobs/"), body, format="json")
        .status_code
        == 403
    )
    # The admin's project, through another company's URL (one the admin also belongs to).
    other = f.CompanyFactory()
    f.CompanyMembershipFactory(company=other, user=admin)
    elsewhere = client_for(admin, other)
    assert (
        elsewhere.post(
            url(other, f"projects/{project.pk}/sub-jobs/"), body, format="json"
        ).status_code
        == 404
    )
    assert (
        client_for(admin, company)
        .post(url(company, "projects/999999999/sub-jobs/"), body, format="json")
        .status_code
        == 404
    )
    # A token of another company never reaches this one's projects.
    assert (
        elsewhere.post(
            url(company, f"projects/{project.pk}/sub-jobs/"), body, format="json"
        ).status_code
        == 404
    )
    assert not SubJob.objects.filter(code="Z-1").exists()


def test_rename_a_sub_job_and_its_audit_row(company: Any, sub_job: Any, admin: Any) -> None:
    api = client_for(admin, company)
    response = api.patch(
        url(company, f"sub-jobs/{sub_job.pk}/"), {"name": "Renamed"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["sub_job"]["name"] == "Renamed"
    assert response.json()["sub_job"]["code"] == sub_job.code
    edit = ErpEvent.objects.filter(object_id=sub_job.pk, action="edit").get()
    assert edit.details["changes"]["name"][1] == "Renamed" and edit.actor == admin
    response = api.patch(url(company, f"sub-jobs/{sub_job.pk}/"), {"code": ""}, format="json")
    assert response.status_code == 422 and "code" in response.json()["errors"]


def test_a_sub_job_with_the_erp_tool_is_locked_409_naming_who_acted(
    company: Any, sub_job: Any, admin: Any
) -> None:
    erp_send(item=sub_job, user=admin)
    api = client_for(admin, company)
    for method, path, body in (
        ("patch", f"sub-jobs/{sub_job.pk}/", {"name": "Too late"}),
        ("post", f"sub-jobs/{sub_job.pk}/approve/", None),
    ):
        response = getattr(api, method)(url(company, path), body, format="json")
        assert response.status_code == 409, response.content
        problem = response.json()
        assert problem["state"] == "pending" and problem["acted_by"] and problem["acted_at"]
        assert "ERP" in problem["detail"]
    sub_job.refresh_from_db()
    assert sub_job.name != "Too late"


def test_a_stale_rename_is_refused_with_what_changed(
    company: Any, sub_job: Any, admin: Any
) -> None:
    api = client_for(admin, company)
    read = api.get(url(company, f"sub-jobs/{sub_job.pk}/"))
    etag = read["ETag"]
    seen = max([h["id"] for h in read.json()["history"]], default=0)
    other = client_for(admin, company)
    assert (
        other.patch(
            url(company, f"sub-jobs/{sub_job.pk}/"), {"name": "Theirs"}, format="json"
        ).status_code
        == 200
    )
    response = api.patch(
        url(company, f"sub-jobs/{sub_job.pk}/"), {"name": "Mine", "seen_event": seen}, format="json"
    )
    assert response.status_code == 409
    assert "Theirs" in response.json()["detail"]
    response = api.patch(
        url(company, f"sub-jobs/{sub_job.pk}/"),
        {"name": "Mine"},
        format="json",
        HTTP_IF_MATCH=etag,
    )
    assert response.status_code == 412, response.content
    assert (
        api.patch(
            url(company, f"sub-jobs/{sub_job.pk}/"),
            {"name": "Mine"},
            format="json",
            HTTP_IF_MATCH="x",
        ).status_code
        == 412
    )
    sub_job.refresh_from_db()
    assert sub_job.name == "Theirs"
    fresh = api.get(url(company, f"sub-jobs/{sub_job.pk}/"))["ETag"]
    response = api.patch(
        url(company, f"sub-jobs/{sub_job.pk}/"),
        {"name": "Mine"},
        format="json",
        HTTP_IF_MATCH=fresh,
    )
    assert response.status_code == 200 and response["ETag"] != fresh


def test_approve_a_draft_sub_job(company: Any, project: Any, admin: Any, viewer: Any) -> None:
    draft = f.SubJobFactory(project=project, status="draft")
    assert (
        client_for(viewer, company).post(url(company, f"sub-jobs/{draft.pk}/approve/")).status_code
        == 403
    )
    response = client_for(admin, company).post(url(company, f"sub-jobs/{draft.pk}/approve/"))
    assert response.status_code == 200, response.content
    assert response.json()["sub_job"]["status"] == "approved"
    draft.refresh_from_db()
    assert draft.status == "approved"


# ----- invoices, projects ---------------------------------------------------------------------


def test_an_invoice_reads_with_its_lines_and_money_as_strings(
    company: Any, invoice: Any, admin: Any, approver: Any
) -> None:
    line = invoice.lines.first()
    line.work_completed_this_period = Decimal("1234.55")
    line.materials_stored = Decimal("0.10")
    line.retainage_percent = Decimal("10.00")
    line.save()
    erp_send(item=invoice, user=admin)
    for user in (approver, admin):
        response = client_for(user, company).get(url(company, f"owner-invoices/{invoice.pk}/"))
        assert response.status_code == 200, response.content
        data = json.loads(response.content, parse_float=Decimal)
        body = data["invoice"]
        assert not _floats(data), "money must never be a JSON number"
        first = next(ln for ln in body["lines"] if ln["id"] == line.pk)
        assert first["work_completed_this_period"] == "1234.55"
        assert first["retainage_amount"] == "123.47"
        assert first["amount_due"] == "1111.18"
        assert body["amount_due"] == str(invoice.amount_due) == body["totals"]["amount_due"]
        assert body["billing_period"]["number"] == invoice.billing_period.number
        assert body["prime_contract"]["number"] == invoice.prime_contract.number
        assert data["snapshot"]["totals"]["amount_due"] == body["amount_due"]


def _floats(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_floats(v) for v in value.values())
    if isinstance(value, list):
        return any(_floats(v) for v in value)
    return isinstance(value, Decimal)


def test_a_private_contracts_invoice_is_hidden_from_a_sender_not_on_its_list(
    company: Any, invoice: Any, project: Any
) -> None:
    contract = invoice.prime_contract
    contract.private = True
    contract.save()
    sender = f.member(project, admin=False, commitments_level=ToolLevel.ADMIN)
    response = client_for(sender, company).get(url(company, f"owner-invoices/{invoice.pk}/"))
    assert response.status_code == 404
    contract.private_members.add(sender)
    response = client_for(sender, company).get(url(company, f"owner-invoices/{invoice.pk}/"))
    assert response.status_code == 200


def test_projects_lists_what_the_user_may_see(
    company: Any, project: Any, admin: Any, approver: Any
) -> None:
    # A number no factory sequence ("P-<n>") contains, so the search below finds it alone.
    second = f.ProjectFactory(company=company, number="HQ-2")
    f.ProjectFactory()  # another company's
    mine = client_for(admin, company).get(url(company, "projects/")).json()
    assert [(p["id"], p["member"], p["manages_sub_jobs"]) for p in mine["results"]] == [
        (project.pk, True, True)
    ]
    listed = client_for(approver, company).get(url(company, "projects/")).json()["results"]
    assert {p["id"] for p in listed} == {project.pk, second.pk}
    assert not any(p["member"] for p in listed)
    found = client_for(approver, company).get(url(company, "projects/"), {"q": "hq-2"}).json()
    assert [p["id"] for p in found["results"]] == [second.pk]


# ----- the audit log ------------------------------------------------------------------------


def test_the_audit_log_reads_filters_and_pages_newest_first(
    company: Any, project: Any, admin: Any, approver: Any, sub_job: Any
) -> None:
    api = client_for(approver, company)
    erp_send(item=sub_job, user=admin)
    erp_accept(item=sub_job, user=approver)
    other = sent(project, admin, "L-1")
    everything = api.get(url(company, "events/")).json()["results"]
    assert [e["action"] for e in everything[:3]] == ["send", "accept", "send"]
    assert everything[0]["object"] == {
        "type": "sub_job",
        "id": other.pk,
        "name": f"Sub job {other.code}",
        "url": url(company, f"sub-jobs/{other.pk}/"),
    }
    assert everything[0]["actor"]["id"] == admin.pk
    only = api.get(url(company, "events/"), {"item": f"sub_job:{sub_job.pk}"}).json()["results"]
    assert [e["action"] for e in only] == ["accept", "send"]
    sends = api.get(url(company, "events/"), {"action": "send", "page_size": 1}).json()
    assert [e["object"]["id"] for e in sends["results"]] == [other.pk]
    following = api.get(sends["next"]).json()
    assert [e["object"]["id"] for e in following["results"]] == [sub_job.pk]
    assert following["next"] is None and following["previous"]
    bad = api.get(url(company, "events/"), {"since": "2026-02-02", "until": "2026-01-01"})
    assert bad.status_code == 422 and "until" in bad.json()["errors"]
    bad = api.get(url(company, "events/"), {"user": "nobody", "item": "x"})
    assert bad.status_code == 422 and set(bad.json()["errors"]) == {"user", "item"}


def test_the_audit_log_is_for_who_may_see_the_audit_log_page(
    company: Any, admin: Any, approver: Any
) -> None:
    assert client_for(admin, company).get(url(company, "events/")).status_code == 403
    other = f.CompanyFactory()
    f.CompanyMembershipFactory(company=other, user=approver)
    assert client_for(approver, other).get(url(company, "events/")).status_code == 404
    stranger_company = f.CompanyFactory()
    stranger = f.approver(stranger_company)
    assert client_for(stranger, stranger_company).get(url(company, "events/")).status_code == 404
    reader = f.UserFactory()
    f.CompanyMembershipFactory(company=company, user=reader, erp_tool_level=ToolLevel.READ_ONLY)
    assert client_for(reader, company).get(url(company, "events/")).status_code == 200


# ----- costs and the schema --------------------------------------------------------------


def _list_queries(api: Any, company: Any) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = api.get(url(company, "sub-jobs/"), {"queue": "ready", "page_size": 100})
    assert response.status_code == 200
    return len(captured)


def test_the_queue_list_costs_the_same_few_queries_for_5_and_50_items(
    company: Any, project: Any, admin: Any, approver: Any, django_assert_max_num_queries: Any
) -> None:
    ApprovalRule.objects.create(company=company, kind="sub_job", approvals_required=2)
    api = client_for(approver, company)
    api.get(url(company, "sub-jobs/"))  # the token's last-used time, written once a minute
    for n in range(2):
        erp_accept(item=sent(project, admin, f"Q-{n}"), user=f.approver(company))
    pending_sub_jobs(project, admin, 3)
    send_events(project, admin)
    few = _list_queries(api, company)
    pending_sub_jobs(project, admin, 42, start=3)
    assert send_events(project, admin) == 42
    for n in range(2, 5):
        erp_accept(item=sent(project, admin, f"Q-{n}"), user=f.approver(company))
    with django_assert_max_num_queries(8):
        response = api.get(url(company, "sub-jobs/"), {"queue": "ready", "page_size": 100})
    rows = response.json()["results"]
    assert len(rows) == 50 and all(row["snapshot"] for row in rows)
    assert sum(row["approvals"]["given"] for row in rows) == 5
    assert _list_queries(api, company) == few


def test_the_schema_validates_without_warnings(tmp_path: Any) -> None:
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yaml"))
    schema = (tmp_path / "s.yaml").read_text()
    for path in (
        "/sub-jobs/bulk/accept/",
        "/owner-invoices/bulk/retry/",
        "/projects/{project_id}/sub-jobs/",
        "/sub-jobs/{id}/approve/",
        "/events/",
        "/projects/:",
    ):
        assert path in schema
