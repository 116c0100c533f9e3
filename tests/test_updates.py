"""Ready to Update (issue 14, part 2): renaming a synced sub job or project is an update
request that an accounting approver accepts (exported through Capability.UPDATE, exactly
once) or rejects (the name goes back to what the ERP has, the requester is emailed)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from erpsync.adapters import Capability, IdempotencyKey, adapter_class, adapter_for
from erpsync.models import (
    ErpEvent,
    ExportAttempt,
    OutboxEmail,
    SandboxCall,
    SandboxRecord,
    UpdateRequest,
)
from erpsync.outbox import deliver_email
from erpsync.refresh import erp_refresh
from erpsync.services import erp_accept, erp_mark_synced, erp_send
from erpsync.states import ErpActionRefused
from erpsync.tasks import sweep_exports
from erpsync.updates import (
    erp_accept_update,
    erp_request_update,
    stale_updates,
    update_request_decision,
)
from tests import factories as f
from tests.procs import wait_for
from tests.updating import (
    client_for,
    decide_url,
    detail_url,
    ready_to_update,
    rename_url,
    reviewed,
    send_update,
    synced,
)


@pytest.fixture
def synced_sub_job(sub_job: Any, admin: Any, approver: Any) -> Any:
    sub_job.name = "Concrete"
    sub_job.save()
    return synced(sub_job, admin, approver)


@pytest.fixture
def second_approver(company: Any) -> Any:
    return f.approver(company)


# ----- the key ------------------------------------------------------------------------------


def test_update_keys_add_their_number_and_export_keys_still_parse() -> None:
    export = IdempotencyKey.parse("erpsync:sub_job:12:v3")
    assert export == IdempotencyKey("sub_job", 12, 3) and export.update is None
    update = IdempotencyKey("sub_job", 12, 3, 2)
    assert str(update) == "erpsync:sub_job:12:v3:u2"
    assert IdempotencyKey.parse(str(update)) == update
    assert update.item_prefix == export.item_prefix
    assert IdempotencyKey.parse("erpsync:sub_job:12:v3:u") is None
    assert IdempotencyKey.parse("erpsync:sub_job:12:v3:x2") is None


# ----- request: the item stays synced, with an update pending ----------------------------------


@pytest.mark.django_db
def test_renaming_a_synced_sub_job_requests_an_update_shown_everywhere(
    synced_sub_job: Any, admin: Any, approver: Any, company: Any
) -> None:
    client = client_for(admin)
    page = client.get(rename_url(synced_sub_job)).content.decode()
    assert "data-update-notice" in page and "readonly" in page
    response = client.post(
        rename_url(synced_sub_job), {"code": synced_sub_job.code, "name": "Concrete works"}
    )
    assert response.status_code == 302, response.content.decode()
    synced_sub_job.refresh_from_db()
    assert synced_sub_job.erp_state == "synced" and synced_sub_job.name == "Concrete works"
    update = UpdateRequest.objects.get()
    assert update.state == "pending" and update.requested_by == admin
    assert update.changes == {"name": ["Concrete", "Concrete works"]}
    assert update.idempotency_key == f"erpsync:sub_job:{synced_sub_job.pk}:v1:u1"
    event = ErpEvent.objects.get(action="update_request")
    assert event.details["changes"] == {"name": ["Concrete", "Concrete works"]}
    assert event.from_state == event.to_state == "synced" and event.actor == admin

    detail = client.get(detail_url(synced_sub_job)).content.decode()
    assert 'data-erp-ribbon="synced"' in detail and 'data-update="pending"' in detail
    assert "Update pending" in detail and "Update requested" in detail
    listing = client.get(reverse("sub_job_list", args=[synced_sub_job.project_id])).content
    assert 'data-update-mark="pending"' in listing.decode()

    tool = client_for(approver).get(ready_to_update(company)).content.decode()
    assert 'data-update-state="pending"' in tool and "Ready to Update (1)" in tool
    assert "<div data-in-erp>Concrete</div>" in tool
    assert "<div data-requested>Concrete works</div>" in tool
    assert 'data-decision="accept"' in tool
    synced_list = reverse("erp_queue", args=[company.slug, "sub_job", "synced"])
    assert 'data-update-mark="pending"' in client_for(approver).get(synced_list).content.decode()


@pytest.mark.django_db
def test_a_second_edit_amends_the_request_and_going_back_withdraws_it(
    synced_sub_job: Any, admin: Any
) -> None:
    first = erp_request_update(item=synced_sub_job, user=admin, values={"name": "A"})
    again = erp_request_update(item=synced_sub_job, user=admin, values={"name": "B"})
    assert again is not None and again.pk == first.pk
    assert again.changes == {"name": ["Concrete", "B"]} and again.snapshot["name"] == "B"
    back = erp_request_update(item=synced_sub_job, user=admin, values={"name": "Concrete"})
    assert back is not None and back.state == "withdrawn"
    synced_sub_job.refresh_from_db()
    assert synced_sub_job.name == "Concrete" and synced_sub_job.erp_state == "synced"


@pytest.mark.django_db
def test_the_sub_job_id_of_a_synced_sub_job_cannot_change(synced_sub_job: Any, admin: Any) -> None:
    response = client_for(admin).post(
        rename_url(synced_sub_job), {"code": "99-999", "name": "Other"}
    )
    assert response.status_code == 422
    assert "cannot change" in response.content.decode()
    synced_sub_job.refresh_from_db()
    assert synced_sub_job.code != "99-999" and synced_sub_job.name == "Concrete"
    assert not UpdateRequest.objects.exists()


# ----- accept: exported through the sandbox with the update's key, exactly once ---------------


@pytest.mark.django_db
def test_accepting_sends_the_new_name_to_the_sandbox_with_the_update_key(
    synced_sub_job: Any, admin: Any, approver: Any, company: Any
) -> None:
    update = erp_request_update(item=synced_sub_job, user=admin, values={"name": "Rebar"})
    response = client_for(approver).post(decide_url(update, "accept"), reviewed(update))
    assert response.status_code == 302
    update.refresh_from_db()
    assert update.state == "accepted" and update.decided_by == approver
    assert send_update(update) == "synced"

    update.refresh_from_db()
    assert update.state == "synced" and update.synced_at is not None
    record = SandboxRecord.objects.get(erp_id=synced_sub_job.erp_id)
    assert record.payload["name"] == "Rebar" and record.payload["code"] == synced_sub_job.code
    key = f"erpsync:sub_job:{synced_sub_job.pk}:v1:u1"
    assert ExportAttempt.objects.get(idempotency_key=key).outcome == "synced"
    assert SandboxCall.objects.filter(idempotency_key=key, outcome="updated").count() == 1
    actions = list(
        ErpEvent.objects.filter(object_id=synced_sub_job.pk, action__startswith="update")
        .order_by("pk")
        .values_list("action", flat=True)
    )
    assert actions == ["update_request", "update_accept", "update_synced"]
    synced_sub_job.refresh_from_db()
    assert synced_sub_job.erp_state == "synced" and synced_sub_job.name == "Rebar"
    # The ERP now holds the new name: a refresh sees no drift.
    assert erp_refresh(item=synced_sub_job, user=approver).erp_drift == ""
    page = client_for(admin).get(detail_url(synced_sub_job)).content.decode()
    assert "data-update=" not in page
    assert (
        "Ready to Update (0)" in client_for(approver).get(ready_to_update(company)).content.decode()
    )


@pytest.mark.django_db
def test_a_retry_after_a_lost_answer_does_not_update_twice(
    synced_sub_job: Any, admin: Any, approver: Any
) -> None:
    update = erp_request_update(item=synced_sub_job, user=admin, values={"name": "Rebar"})
    erp_accept_update(request=update, user=approver)
    key = update.idempotency_key
    # A worker recorded its attempt and reached the ERP, then died before the answer came back.
    long_ago = timezone.now() - timedelta(minutes=10)
    ExportAttempt.objects.create(
        content_type=update.content_type,
        object_id=update.object_id,
        company=update.company,
        version=update.item_version,
        idempotency_key=key,
        try_number=1,
        started_at=long_ago,
    )
    adapter_for(update.company).update(
        kind="sub_job",
        erp_id=synced_sub_job.erp_id,
        changes={"name": "Rebar"},
        snapshot=update.snapshot,
        idempotency_key=key,
    )
    UpdateRequest.objects.filter(pk=update.pk).update(changed_at=long_ago)
    assert stale_updates() == [update.pk]  # the sweeper would queue it again

    assert send_update(update, try_number=2) == "synced"
    assert SandboxCall.objects.filter(idempotency_key=key, outcome="updated").count() == 1
    assert SandboxCall.objects.filter(idempotency_key=key, outcome="ok").count() == 1
    assert SandboxRecord.objects.get(erp_id=synced_sub_job.erp_id).payload["name"] == "Rebar"
    assert stale_updates() == []
    assert send_update(update, try_number=3) == "skipped"  # a late duplicate message


@pytest.mark.django_db(transaction=True)
def test_an_accepted_update_is_sent_by_the_worker(
    worker: None, sub_job: Any, admin: Any, approver: Any
) -> None:
    synced_sub_job = synced(sub_job, admin, approver)
    update = erp_request_update(item=synced_sub_job, user=admin, values={"name": "Formwork"})
    assert (
        client_for(approver).post(decide_url(update, "accept"), reviewed(update)).status_code == 302
    )
    wait_for(
        lambda: UpdateRequest.objects.get(pk=update.pk).state == "synced", "the update's export"
    )
    assert SandboxRecord.objects.get(erp_id=synced_sub_job.erp_id).payload["name"] == "Formwork"


@pytest.mark.django_db(transaction=True)
def test_the_sweeper_sends_an_accepted_update_whose_message_was_lost(
    worker: None, sub_job: Any, admin: Any, approver: Any
) -> None:
    synced_sub_job = synced(sub_job, admin, approver)
    update = erp_request_update(item=synced_sub_job, user=admin, values={"name": "Formwork"})
    # Accepted a while ago, but the message to the worker never left (a broker outage).
    UpdateRequest.objects.filter(pk=update.pk).update(
        state="accepted",
        decided_by=approver,
        decided_at=timezone.now() - timedelta(minutes=5),
        changed_at=timezone.now() - timedelta(minutes=5),
    )
    assert sweep_exports() == 1
    wait_for(lambda: UpdateRequest.objects.get(pk=update.pk).state == "synced", "the swept update")
    assert SandboxRecord.objects.get(erp_id=synced_sub_job.erp_id).payload["name"] == "Formwork"
    assert sweep_exports() == 0


# ----- failures: transient retried, permanent shown with the ERP's words ------------------------


@pytest.mark.django_db
def test_a_failed_update_shows_the_erps_words_and_can_be_retried(
    synced_sub_job: Any, admin: Any, approver: Any, company: Any
) -> None:
    company.erp_settings = {"fail": {synced_sub_job.code: "transient:1"}}
    company.save()
    update = erp_request_update(item=synced_sub_job, user=admin, values={"name": "Rebar"})
    erp_accept_update(request=update, user=approver)
    assert send_update(update) == "retrying"
    update.refresh_from_db()
    assert update.state == "accepted" and "busy" in update.error
    assert send_update(update, try_number=2) == "synced"

    company.erp_settings = {"fail": {synced_sub_job.code: "permanent"}}
    company.save()
    second = erp_request_update(item=synced_sub_job, user=admin, values={"name": "Steel"})
    erp_accept_update(request=second, user=approver)
    assert send_update(second) == "failed"
    second.refresh_from_db()
    assert second.state == "failed" and "set to fail permanently" in second.error
    tool = client_for(approver).get(ready_to_update(company)).content.decode()
    assert 'data-update-state="failed"' in tool and "set to fail permanently" in tool
    assert 'data-decision="retry"' in tool and 'data-decision="reject"' in tool
    page = client_for(admin).get(detail_url(synced_sub_job)).content.decode()
    assert 'data-update="failed"' in page and 'data-update-mark="failed"' not in page
    # Another rename waits for the approvers' decision on the failed one.
    with pytest.raises(ErpActionRefused, match="failed in the ERP"):
        erp_request_update(item=synced_sub_job, user=admin, values={"name": "Other"})

    company.erp_settings = {}
    company.save()
    assert client_for(approver).post(decide_url(second, "retry")).status_code == 302
    assert send_update(second) == "synced"
    assert SandboxRecord.objects.get(erp_id=synced_sub_job.erp_id).payload["name"] == "Steel"


# ----- reject: the name goes back to the ERP's, the requester is emailed -----------------------


@pytest.mark.django_db
def test_rejecting_needs_a_reason_reverts_the_name_and_emails_the_requester(
    synced_sub_job: Any, admin: Any, approver: Any, mailoutbox: list[Any]
) -> None:
    update = erp_request_update(item=synced_sub_job, user=admin, values={"name": "Typo"})
    client = client_for(approver)
    response = client.post(decide_url(update, "reject"), {"reason": "  "})
    assert response.status_code == 422 and "Enter a reason" in response.content.decode()
    update.refresh_from_db()
    assert update.state == "pending"

    response = client.post(decide_url(update, "reject"), {"reason": "Keep the ERP's name"})
    assert response.status_code == 302
    update.refresh_from_db()
    synced_sub_job.refresh_from_db()
    assert update.state == "rejected" and update.reason == "Keep the ERP's name"
    assert synced_sub_job.name == "Concrete" and synced_sub_job.erp_state == "synced"
    event = ErpEvent.objects.get(action="update_reject")
    assert event.reason == "Keep the ERP's name" and event.actor == approver
    assert not SandboxCall.objects.filter(outcome="updated").exists()

    page = client_for(admin).get(detail_url(synced_sub_job)).content.decode()
    assert 'data-update="rejected"' in page and "Keep the ERP&#x27;s name" in page

    (row,) = OutboxEmail.objects.filter(kind="update_rejection")
    assert row.recipient == admin.email
    assert deliver_email(row.pk) == "sent"
    (message,) = mailoutbox
    assert message.subject.startswith("Update rejected: sub job")
    assert "Keep the ERP's name" in message.body and '"Typo"' in message.body


# ----- permissions -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_who_may_request_and_decide_updates(
    synced_sub_job: Any, admin: Any, approver: Any, viewer: Any, company: Any
) -> None:
    # A project Read Only user may not rename; nothing is requested.
    assert client_for(viewer).post(rename_url(synced_sub_job), {"name": "X"}).status_code == 403
    assert not UpdateRequest.objects.exists()

    update = erp_request_update(item=synced_sub_job, user=admin, values={"name": "Rebar"})
    # Another company's approver: 404 on the list and the decision.
    stranger = client_for(f.approver(f.CompanyFactory()))
    assert stranger.get(ready_to_update(company)).status_code == 404
    assert stranger.post(decide_url(update, "accept"), reviewed(update)).status_code == 404
    # The project admin is no approver; an approver of invoices only holds no sub job right.
    assert client_for(admin).post(decide_url(update, "accept"), reviewed(update)).status_code == 403
    invoices_only = f.approver(company, kinds=("owner_invoice",))
    assert (
        client_for(invoices_only).post(decide_url(update, "accept"), reviewed(update)).status_code
        == 403
    )
    update.refresh_from_db()
    assert update.state == "pending"


@pytest.mark.django_db
def test_nobody_accepts_an_update_they_requested(
    synced_sub_job: Any, project: Any, approver: Any, second_approver: Any
) -> None:
    f.ProjectMembershipFactory(project=project, user=approver, **f.ADMIN_ALL)
    update = erp_request_update(item=synced_sub_job, user=approver, values={"name": "Rebar"})
    decision = update_request_decision(synced_sub_job, approver, open_state="pending")
    assert decision.allowed
    response = client_for(approver).post(decide_url(update, "accept"), reviewed(update))
    assert response.status_code == 403 and "You requested this update" in response.content.decode()
    erp_accept_update(request=update, user=second_approver)
    update.refresh_from_db()
    assert update.state == "accepted"


# ----- what cannot be updated says why -----------------------------------------------------------


@pytest.mark.django_db
def test_a_synced_owner_invoice_stays_locked_with_the_reason(
    invoice: Any, admin: Any, approver: Any
) -> None:
    synced_invoice = synced(invoice, admin, approver)
    decision = update_request_decision(synced_invoice, admin, open_state=None)
    assert not decision.allowed
    assert any("cannot be updated once synced" in r for r in decision.reasons)
    assert "posted invoice" in synced_invoice.erp_lock_reason(admin)
    project_id = synced_invoice.prime_contract.project_id
    page = (
        client_for(admin)
        .get(reverse("invoice_detail", args=[project_id, synced_invoice.pk]))
        .content.decode()
    )
    assert "cannot be updated once synced" in page


@pytest.mark.django_db
def test_a_webhook_company_cannot_update_and_the_button_says_why(
    sub_job: Any, admin: Any, approver: Any, company: Any
) -> None:
    company.erp_adapter = "webhook"
    company.erp_settings = {"url": "http://127.0.0.1:9/", "secret": "s" * 32}
    company.save()
    item = erp_mark_synced(
        item=erp_accept(item=erp_send(item=sub_job, user=admin), user=approver, export=False),
        erp_id="WH-1",
    )
    client = client_for(admin)
    page = client.get(detail_url(item)).content.decode()
    assert 'disabled aria-disabled="true" data-edit' in page
    assert "its contract has no request to change one" in page
    listing = client.get(reverse("sub_job_list", args=[item.project_id])).content.decode()
    assert "its contract has no request to change one" in listing
    response = client.post(rename_url(item), {"code": item.code, "name": "Other"})
    assert response.status_code == 409
    assert "its contract has no request to change one" in response.content.decode()
    assert not UpdateRequest.objects.exists()


@pytest.mark.django_db
def test_the_inline_editor_of_a_synced_sub_job_requests_an_update(
    synced_sub_job: Any, admin: Any
) -> None:
    client = client_for(admin)
    htmx = {"HTTP_HX_REQUEST": "true"}
    listing = client.get(reverse("sub_job_list", args=[synced_sub_job.project_id])).content
    assert f'hx-get="{rename_url(synced_sub_job)}"' in listing.decode()
    editor = client.get(rename_url(synced_sub_job), **htmx).content.decode()
    assert "data-inline-edit" in editor and "readonly" in editor and "Request update" in editor
    row = client.post(
        rename_url(synced_sub_job), {"code": synced_sub_job.code, "name": "Piles"}, **htmx
    )
    assert row.status_code == 200
    assert 'data-update-mark="pending"' in row.content.decode()
    assert UpdateRequest.objects.get().changes == {"name": ["Concrete", "Piles"]}


@pytest.mark.django_db
def test_an_update_amended_after_review_is_not_accepted_unseen(
    synced_sub_job: Any, admin: Any, approver: Any, company: Any
) -> None:
    update = erp_request_update(item=synced_sub_job, user=admin, values={"name": "A"})
    tool = client_for(approver).get(ready_to_update(company)).content.decode()
    assert 'name="revision" value="1"' in tool
    erp_request_update(item=synced_sub_job, user=admin, values={"name": "B"})
    response = client_for(approver).post(decide_url(update, "accept"), {"revision": "1"})
    assert (
        response.status_code == 409 and "changed since you opened it" in response.content.decode()
    )
    response = client_for(approver).post(decide_url(update, "accept"))
    assert response.status_code == 422
    update.refresh_from_db()
    assert update.state == "pending" and update.revision == 2
    response = client_for(approver).post(decide_url(update, "accept"), {"revision": "2"})
    assert response.status_code == 302
    update.refresh_from_db()
    assert update.state == "accepted" and update.requested == {"name": "B"}


def test_the_pull_connector_declares_updates_unsupported_with_its_reason() -> None:
    connector = adapter_class("connector")
    assert not connector.can_update("sub_job")
    assert "pull connector" in connector.cannot(Capability.UPDATE)
    assert not adapter_class("webhook").can_update("job")
    assert adapter_class("sandbox").can_update("job")
    assert not adapter_class("sandbox").can_update("owner_invoice")
