"""Unlink and the Archived list (README, Unlink), on the sandbox ERP: ERP tool Admins take a
synced item back out of the ERP; the ERP record is voided or found gone, or the item stays
synced, flagged "Still in the ERP"."""

from __future__ import annotations

from html import escape
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_fsm import TransitionNotAllowed

from erpsync.adapters import UnlinkStatus, adapter_for
from erpsync.models import ErpEvent, SandboxRecord
from erpsync.services import erp_send
from erpsync.states import ErpActionRefused
from erpsync.unlink import UNLINK_PERMISSION, StillInErp, erp_unlink
from erpsync.updates import erp_reject_update, erp_request_update
from jobs.models import Job
from jobs.services import job_send
from projects.models import Project, ToolLevel
from tests import factories as f
from tests.api_helpers import client_for as api_client
from tests.api_helpers import url as api_url
from tests.updating import exported, synced
from webhooks.models import WebhookDelivery, WebhookSubscription

pytestmark = pytest.mark.django_db


def sandbox(action: str, item: Any, *args: str) -> None:
    call_command("erp_sandbox", action, item.erp_id, "--company", item.erp_company.slug, *args)


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def events(item: Any, action: str) -> list[ErpEvent]:
    return list(ErpEvent.objects.filter(object_id=item.pk, action=action).order_by("pk"))


@pytest.fixture
def tool_admin(company: Any, project: Any) -> Any:
    """An ERP Integrations tool Admin who is also on the project, so they see item pages."""
    user = f.UserFactory()
    f.CompanyMembershipFactory(company=company, user=user, erp_tool_level=ToolLevel.ADMIN)
    f.ProjectMembershipFactory(project=project, user=user, **f.READ_ONLY_ALL)
    return user


@pytest.fixture
def synced_invoice(invoice: Any, admin: Any, approver: Any) -> Any:
    return synced(invoice, admin, approver)


def invoice_page(invoice: Any) -> str:
    return reverse("invoice_detail", args=[invoice.prime_contract.project_id, invoice.pk])


def invoice_unlink(invoice: Any) -> str:
    return reverse(
        "invoice_erp_action", args=[invoice.prime_contract.project_id, invoice.pk, "unlink"]
    )


def tool_unlink(item: Any) -> str:
    return reverse("erp_unlink", args=[item.erp_company.slug, item.erp_kind, item.pk])


def tool_list(item: Any, filter_key: str) -> str:
    return reverse("erp_queue", args=[item.erp_company.slug, item.erp_kind, filter_key])


# ----- unlinked: voided or gone ---------------------------------------------------------------


def test_an_erp_tool_admin_unlinks_a_synced_invoice_and_sending_again_makes_a_new_record(
    synced_invoice: Any, admin: Any, approver: Any, tool_admin: Any
) -> None:
    old_id = synced_invoice.erp_id
    client = client_for(tool_admin)
    page = client.get(invoice_page(synced_invoice)).content.decode()
    assert f'action="{invoice_unlink(synced_invoice)}"' in page

    response = client.post(invoice_unlink(synced_invoice))
    assert response.status_code == 302 and response["Location"] == invoice_page(synced_invoice)
    item = type(synced_invoice).objects.get(pk=synced_invoice.pk)
    assert (item.erp_state, item.erp_id, item.erp_unlinked_id) == ("not_sent", "", old_id)
    assert item.erp_unlinked_by == tool_admin and item.erp_unlinked_at is not None
    assert SandboxRecord.objects.get(erp_id=old_id).status == "cancelled"
    (event,) = events(item, "unlink")
    assert event.actor == tool_admin and (event.from_state, event.to_state) == (
        "synced",
        "not_sent",
    )
    assert event.details == {"erp_id": old_id, "adapter": "sandbox", "outcome": "voided"}
    assert event.done_label == "Unlinked from the ERP"
    # Its history is kept: the send, the acceptance and the sync are still there.
    assert [len(events(item, a)) for a in ("send", "accept", "mark_synced")] == [1, 1, 1]
    page = client.get(invoice_page(item)).content.decode()
    assert "data-unlinked" in page and old_id in page and "Unlinked from the ERP" in page

    # Editable and sendable again; the next send is version 2, a new key, a new record.
    item = synced(item, admin, approver)
    assert item.erp_version == 2 and item.erp_id not in ("", old_id)
    new = SandboxRecord.objects.get(erp_id=item.erp_id)
    assert new.idempotency_key.endswith(":v2") and new.status == "posted"
    assert SandboxRecord.objects.get(erp_id=old_id).status == "cancelled"
    assert item.erp_unlinked_id == old_id  # the old link is still named


def test_unlink_of_a_record_deleted_in_the_erp_makes_it_not_sent_and_archived(
    synced_invoice: Any, tool_admin: Any
) -> None:
    old_id = synced_invoice.erp_id
    sandbox("delete", synced_invoice)
    client = client_for(tool_admin)
    synced_list = tool_list(synced_invoice, "synced")
    assert 'data-erp-action="unlink"' in client.get(synced_list).content.decode()

    response = client.post(tool_unlink(synced_invoice), {"next": synced_list})
    assert response.status_code == 302 and response["Location"] == synced_list
    item = type(synced_invoice).objects.get(pk=synced_invoice.pk)
    assert item.erp_state == "not_sent" and item.erp_unlinked_id == old_id
    (event,) = events(item, "unlink")
    assert event.details["outcome"] == "gone" and "no longer holds" in event.reason

    archived = client.get(tool_list(item, "archived"))
    assert archived.status_code == 200
    html = archived.content.decode()
    assert f'data-item="{item.erp_title}"' in html and old_id in html and "now: Not sent" in html
    assert f'data-item="{item.erp_title}"' not in client.get(synced_list).content.decode()
    assert 'data-filter="archived"' in html


def test_unlink_of_a_cancelled_record_is_gone_and_twice_is_refused(
    synced_invoice: Any, tool_admin: Any
) -> None:
    sandbox("cancel", synced_invoice)
    assert adapter_for(synced_invoice.erp_company).unlink(
        "owner_invoice", synced_invoice.erp_id
    ).status == (UnlinkStatus.GONE)
    item = erp_unlink(item=synced_invoice, user=tool_admin)
    assert item.erp_state == "not_sent"
    with pytest.raises(ErpActionRefused, match="not synced with the ERP"):
        erp_unlink(item=item, user=tool_admin)
    assert len(events(item, "unlink")) == 1


# ----- still in the ERP -------------------------------------------------------------------------


def test_a_paid_invoice_is_still_in_the_erp_refused_and_flagged(
    synced_invoice: Any, tool_admin: Any
) -> None:
    erp_id = synced_invoice.erp_id
    sandbox("pay", synced_invoice, "--amount", "100.00")
    client = client_for(tool_admin)
    response = client.post(tool_unlink(synced_invoice))
    assert response.status_code == 409
    body = response.content.decode()
    assert "Still in the ERP" in body and "payments of $100.00" in body

    item = type(synced_invoice).objects.get(pk=synced_invoice.pk)
    assert (item.erp_state, item.erp_id, item.erp_unlinked_id) == ("synced", erp_id, "")
    assert "payments of $100.00" in item.erp_unlink_refusal
    assert SandboxRecord.objects.get(erp_id=erp_id).status == "posted"
    (attempt,) = events(item, "unlink_refused")
    assert attempt.actor == tool_admin and attempt.to_state == "synced"
    assert attempt.details["outcome"] == "still_there"
    assert attempt.done_label.startswith("Still in the ERP")
    assert not events(item, "unlink")

    page = client.get(invoice_page(item)).content.decode()
    assert "data-still-in-erp" in page and "payments of $100.00" in page
    synced_list = client.get(tool_list(item, "synced")).content.decode()
    assert "data-still-in-erp" in synced_list
    with pytest.raises(StillInErp):
        erp_unlink(item=item, user=tool_admin)
    assert len(events(item, "unlink_refused")) == 2


# ----- who may, and when ------------------------------------------------------------------------


def test_an_approver_sees_unlink_greyed_out_and_a_forged_post_is_403(
    synced_invoice: Any, approver: Any, project: Any
) -> None:
    f.ProjectMembershipFactory(project=project, user=approver, **f.READ_ONLY_ALL)
    client = client_for(approver)
    page = client.get(invoice_page(synced_invoice)).content.decode()
    assert 'disabled aria-disabled="true" data-erp-action="unlink"' in page
    assert escape(UNLINK_PERMISSION) in page
    synced_list = client.get(tool_list(synced_invoice, "synced")).content.decode()
    assert 'disabled aria-disabled="true" data-erp-action="unlink"' in synced_list
    assert client.post(invoice_unlink(synced_invoice)).status_code == 403
    assert client.post(tool_unlink(synced_invoice)).status_code == 403
    synced_invoice.refresh_from_db()
    assert synced_invoice.erp_state == "synced"
    assert not ErpEvent.objects.filter(action__in=["unlink", "unlink_refused"]).exists()


def test_another_companys_tool_admin_gets_404(synced_invoice: Any) -> None:
    other = f.CompanyFactory()
    stranger = f.UserFactory()
    f.CompanyMembershipFactory(company=other, user=stranger, erp_tool_level=ToolLevel.ADMIN)
    client = client_for(stranger)
    assert client.post(tool_unlink(synced_invoice)).status_code == 404
    assert client.post(invoice_unlink(synced_invoice)).status_code == 404
    synced_invoice.refresh_from_db()
    assert synced_invoice.erp_state == "synced"


def test_an_item_not_synced_shows_unlink_greyed_out_with_the_state_reason(
    invoice: Any, admin: Any, tool_admin: Any
) -> None:
    pending = erp_send(item=invoice, user=admin)
    client = client_for(tool_admin)
    page = client.get(invoice_page(pending)).content.decode()
    assert 'disabled aria-disabled="true" data-erp-action="unlink"' in page
    assert "is not synced with the ERP: there is nothing to unlink" in page
    response = client.post(invoice_unlink(pending))
    assert response.status_code == 409 and "nothing to unlink" in response.content.decode()


def test_an_adapter_that_cannot_unlink_greys_it_out_with_its_reason(
    synced_invoice: Any, tool_admin: Any
) -> None:
    company = synced_invoice.erp_company
    company.erp_adapter = "webhook"
    company.erp_settings = {"url": "http://127.0.0.1:9/", "secret": "s" * 32}
    company.save()
    client = client_for(tool_admin)
    reason = "no endpoint to check that a record is gone or to void it"
    page = client.get(invoice_page(synced_invoice)).content.decode()
    assert 'disabled aria-disabled="true" data-erp-action="unlink"' in page and reason in page
    assert reason in client.get(tool_list(synced_invoice, "synced")).content.decode()
    response = client.post(tool_unlink(synced_invoice))
    assert response.status_code == 409 and reason in response.content.decode()
    company.erp_adapter = "connector"
    company.erp_settings = {}
    company.save()
    response = client.post(tool_unlink(synced_invoice))
    assert response.status_code == 409 and "pull connector" in response.content.decode()


def test_the_preview_of_a_synced_item_offers_unlink(synced_invoice: Any, tool_admin: Any) -> None:
    client = client_for(tool_admin)
    slug = synced_invoice.erp_company.slug
    preview = reverse("erp_item", args=[slug, "owner_invoice", synced_invoice.pk])
    html = client.get(preview).content.decode()
    assert "data-unlink-actions" in html and f'action="{tool_unlink(synced_invoice)}"' in html
    assert client.post(tool_unlink(synced_invoice)).status_code == 302
    html = client.get(preview).content.decode()
    assert "data-unlink-actions" not in html and "data-unlinked" in html


# ----- the job: the project is no longer synced ------------------------------------------------


@pytest.fixture
def new_project(company: Any) -> Project:
    return f.ProjectFactory(company=company, number="P-900", name="Harbor Tower")


def test_unlinking_the_job_unsyncs_the_project_and_greys_out_its_sub_jobs(
    new_project: Project, approver: Any
) -> None:
    project_admin = f.member(new_project, admin=True)
    tool_admin = f.UserFactory()
    f.CompanyMembershipFactory(
        company=new_project.company, user=tool_admin, erp_tool_level=ToolLevel.ADMIN
    )
    f.ProjectMembershipFactory(project=new_project, user=tool_admin, **f.READ_ONLY_ALL)
    job = exported(job_send(project=new_project, user=project_admin), approver)
    new_project.refresh_from_db()
    assert new_project.erp_synced and new_project.erp_job_id == job.erp_id
    sub_job = f.SubJobFactory(project=new_project, status="approved", created_by=project_admin)
    sub_page = reverse("sub_job_detail", args=[new_project.pk, sub_job.pk])
    admin_client = client_for(project_admin)
    assert "The project is not synced" not in admin_client.get(sub_page).content.decode()

    response = client_for(tool_admin).post(
        reverse("job_erp_action", args=[new_project.pk, "unlink"])
    )
    assert response.status_code == 302
    job = Job.objects.get(pk=job.pk)
    new_project.refresh_from_db()
    assert job.erp_state == "not_sent" and job.erp_unlinked_id
    assert (new_project.erp_synced, new_project.erp_job_id) == (False, "")
    page = admin_client.get(sub_page).content.decode()
    assert 'disabled aria-disabled="true" data-erp-action="send"' in page
    assert "The project is not synced with the ERP." in page

    # The job can be sent again, and syncs the project as a new ERP job.
    job = exported(job_send(project=new_project, user=project_admin), approver)
    new_project.refresh_from_db()
    assert new_project.erp_synced and new_project.erp_job_id == job.erp_id != job.erp_unlinked_id


def test_a_job_whose_sub_jobs_are_synced_under_it_cannot_be_unlinked(
    new_project: Project, approver: Any
) -> None:
    project_admin = f.member(new_project, admin=True)
    tool_admin = f.UserFactory()
    f.CompanyMembershipFactory(
        company=new_project.company, user=tool_admin, erp_tool_level=ToolLevel.ADMIN
    )
    job = exported(job_send(project=new_project, user=project_admin), approver)
    sub_job = f.SubJobFactory(project=new_project, status="approved", created_by=project_admin)
    synced(sub_job, project_admin, approver)
    held = r"The project's sub job \S+ is with the ERP Integrations tool"
    with pytest.raises(ErpActionRefused, match=held):
        erp_unlink(item=job, user=tool_admin)
    job.refresh_from_db()
    assert job.erp_state == "synced"
    assert SandboxRecord.objects.get(erp_id=job.erp_id).status == "posted"  # ERP not asked


# ----- the API -----------------------------------------------------------------------------------


def test_the_api_unlinks_for_tool_admins_only_and_says_still_in_the_erp(
    synced_invoice: Any, sub_job: Any, admin: Any, approver: Any, tool_admin: Any
) -> None:
    company = synced_invoice.erp_company
    path = api_url(company, f"owner-invoices/{synced_invoice.pk}/unlink/")
    refused = api_client(approver, company).post(path)
    assert refused.status_code == 403 and UNLINK_PERMISSION in refused.json()["detail"]

    sandbox("pay", synced_invoice, "--amount", "10.00")
    still = api_client(tool_admin, company).post(path)
    assert still.status_code == 409 and still.json()["detail"].startswith("Still in the ERP")

    item = synced(sub_job, admin, approver)
    answer = api_client(tool_admin, company).post(api_url(company, f"sub-jobs/{item.pk}/unlink/"))
    assert answer.status_code == 200
    body = answer.json()
    assert body["state"] == "not_sent" and body["erp_id"] is None
    assert body["unlinked_erp_id"] == item.erp_id
    assert body["history"][-1]["action"] == "unlink"


def test_an_unlink_is_announced_to_webhooks_and_listed_in_the_archived_csv(
    synced_invoice: Any, tool_admin: Any
) -> None:
    company = synced_invoice.erp_company
    subscription = WebhookSubscription.objects.create(
        company=company, url="http://127.0.0.1:9/hook", events=["item.unlinked"], secret="s"
    )
    old_id = synced_invoice.erp_id
    erp_unlink(item=synced_invoice, user=tool_admin)
    (delivery,) = WebhookDelivery.objects.filter(subscription=subscription)
    assert delivery.event_type == "item.unlinked"
    item = delivery.payload["data"]["item"]
    assert (item["state"], item["erp_id"], item["unlinked_erp_id"]) == ("not_sent", None, old_id)

    download = client_for(tool_admin).get(tool_list(synced_invoice, "archived") + "?format=csv")
    assert download.status_code == 200
    rows = b"".join(download.streaming_content).decode()
    assert synced_invoice.number in rows


def test_of_two_admins_unlinking_at_once_one_unlinks_and_the_other_is_told(
    synced_invoice: Any, tool_admin: Any, company: Any
) -> None:
    other_admin = f.UserFactory()
    f.CompanyMembershipFactory(company=company, user=other_admin, erp_tool_level=ToolLevel.ADMIN)
    # The second admin's page was read while the item was still synced.
    stale = type(synced_invoice).objects.get(pk=synced_invoice.pk)
    erp_unlink(item=synced_invoice, user=tool_admin)
    with pytest.raises(ErpActionRefused, match="while the ERP was asked"):
        erp_unlink(item=stale, user=other_admin)
    assert len(events(synced_invoice, "unlink")) == 1


def test_the_unlink_transition_leaves_only_synced(invoice: Any, admin: Any) -> None:
    pending = erp_send(item=invoice, user=admin)
    with pytest.raises(TransitionNotAllowed):
        pending.unlink(by=admin, at=timezone.now())


def test_an_item_with_an_open_update_request_cannot_be_unlinked_until_it_is_decided(
    sub_job: Any, admin: Any, approver: Any, tool_admin: Any
) -> None:
    item = synced(sub_job, admin, approver)
    request = erp_request_update(item=item, user=admin, values={"name": "Site Utilities"})
    assert request is not None
    with pytest.raises(ErpActionRefused) as refused:
        erp_unlink(item=item, user=tool_admin)
    (reason,) = refused.value.reasons
    assert reason.startswith("An update of this sub job (ready to update, requested by ")
    assert reason.endswith("accept or reject it before unlinking.")
    item.refresh_from_db()
    assert item.erp_state == "synced" and not events(item, "unlink")

    erp_reject_update(request=request, user=approver, reason="Keep the ERP's name.")
    item = erp_unlink(item=type(item).objects.get(pk=item.pk), user=tool_admin)
    assert item.erp_state == "not_sent" and len(events(item, "unlink")) == 1
