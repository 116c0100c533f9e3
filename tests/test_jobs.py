"""The project as an ERP item: its job (issue 14, item 1)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from erpsync.adapters import adapter_for
from erpsync.exports import erp_export
from erpsync.models import ErpEvent, SandboxRecord
from erpsync.services import erp_accept, erp_mark_synced, erp_send
from erpsync.web import sender_buttons
from jobs.models import Job
from jobs.services import job_send
from projects.models import ExportRight, Project
from tests import factories as f
from tests.migrating import apps_at, migrate_to_latest
from tests.procs import wait_for
from tests.tryton_server import tryton_server, use_tryton  # noqa: F401 - the fixture

NOT_SYNCED = "The project is not synced with the ERP."


@pytest.fixture
def new_project(company: Any) -> Project:
    """A project never synced with the ERP, as a user creates one."""
    return f.ProjectFactory(company=company, number="P-900", name="Harbor Tower")


@pytest.fixture
def project_admin(new_project: Project) -> Any:
    return f.member(new_project, admin=True)


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def job_page(project: Project) -> str:
    return reverse("job_detail", args=[project.pk])


def send_url(project: Project, action: str = "send") -> str:
    return reverse("job_erp_action", args=[project.pk, action])


def synced_job(project: Project, sender: Any, approver: Any, erp_id: str = "JOB-77") -> Job:
    job = job_send(project=project, user=sender)
    return erp_mark_synced(item=erp_accept(item=job, user=approver, export=False), erp_id=erp_id)


# ----- send, accept, sync ----------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_job_sent_from_the_project_page_and_accepted_syncs_the_project(
    worker: None, new_project: Project, project_admin: Any, approver: Any
) -> None:
    response = client_for(project_admin).post(send_url(new_project))
    assert response.status_code == 302 and response["Location"] == job_page(new_project)
    job = Job.objects.get(project=new_project)
    assert job.erp_state == "pending" and job.erp_version == 1
    assert job.erp_snapshot() == {"kind": "job", "number": "P-900", "name": "Harbor Tower"}

    erp_accept(item=job, user=approver)
    wait_for(
        lambda: Job.objects.values_list("erp_state", flat=True).get(pk=job.pk) == "synced",
        "the job's export",
    )
    job.refresh_from_db()
    record = SandboxRecord.objects.get(kind="job")
    assert job.erp_id == record.erp_id and record.payload == job.erp_snapshot()
    new_project.refresh_from_db()
    assert new_project.erp_synced and new_project.erp_job_id == job.erp_id


@pytest.mark.django_db
def test_the_project_page_shows_the_job_panel_with_send(
    new_project: Project, project_admin: Any
) -> None:
    body = client_for(project_admin).get(reverse("project", args=[new_project.pk])).content
    page = body.decode()
    assert "data-job-panel" in page and 'data-job-state="not_sent"' in page
    assert f'action="{send_url(new_project)}"' in page
    assert 'data-erp-action="send"' in page and "disabled" not in page.split("data-job-panel")[1]
    assert not Job.objects.exists()  # showing the page creates nothing


@pytest.mark.django_db
def test_the_jobs_tab_lists_a_sent_job(
    company: Any, new_project: Project, project_admin: Any, approver: Any
) -> None:
    job_send(project=new_project, user=project_admin)
    url = reverse("erp_queue", args=[company.slug, "job", "ready"])
    page = client_for(approver).get(url).content.decode()
    assert "Jobs" in page and "Job P-900" in page and "Harbor Tower" in page


@pytest.mark.django_db
def test_approvers_preview_and_download_jobs_like_other_kinds(
    company: Any, new_project: Project, project_admin: Any, approver: Any
) -> None:
    job = job_send(project=new_project, user=project_admin)
    client = client_for(approver)
    preview = client.get(reverse("erp_item", args=[company.slug, "job", job.pk]))
    assert preview.status_code == 200
    assert "Project number" in preview.content.decode() and "P-900" in preview.content.decode()
    url = reverse("erp_queue", args=[company.slug, "job", "ready"]) + "?format=csv"
    download = client.get(url)
    assert download.status_code == 200
    csv = b"".join(download.streaming_content).decode()
    assert "Project number,Project name" in csv and "P-900,Harbor Tower" in csv


# ----- sub jobs and invoices wait for the job ----------------------------------------------


@pytest.mark.django_db
def test_sub_job_and_invoice_send_are_greyed_until_the_job_is_synced(
    new_project: Project, project_admin: Any, approver: Any
) -> None:
    sub_job = f.SubJobFactory(project=new_project, status="approved", created_by=project_admin)
    invoice = f.invoice_ready_to_send(project=new_project, user=project_admin)
    client = client_for(project_admin)
    page = client.get(sub_job.get_absolute_url()).content.decode()
    assert 'disabled aria-disabled="true" data-erp-action="send"' in page
    assert NOT_SYNCED in page
    for item in (sub_job, invoice):
        [send] = [b for b in sender_buttons(item, project_admin) if b.action == "send"]
        assert not send.enabled and NOT_SYNCED in send.reasons

    synced_job(new_project, project_admin, approver)

    sub_job.refresh_from_db()
    page = client.get(sub_job.get_absolute_url()).content.decode()
    assert 'disabled aria-disabled="true" data-erp-action="send"' not in page
    assert NOT_SYNCED not in page
    sent = erp_send(item=sub_job, user=project_admin)
    assert sent.erp_snapshot()["project"]["erp_job_id"] == "JOB-77"


@pytest.mark.django_db
def test_a_project_synced_by_hand_cannot_be_sent_again(project: Project, admin: Any) -> None:
    response = client_for(admin).post(send_url(project))
    assert response.status_code == 409
    assert "already synced with the ERP as job JOB-1" in response.content.decode()
    assert not Job.objects.exists()


# ----- permissions --------------------------------------------------------------------------


@pytest.mark.django_db
def test_only_a_project_admin_sends_the_job(new_project: Project) -> None:
    reader = f.member(new_project, admin=False)
    response = client_for(reader).post(send_url(new_project))
    assert response.status_code == 403
    assert "Admin permission on the project&#x27;s Admin tool" in response.content.decode()
    assert not Job.objects.exists()  # the job created for the send went with it
    page = client_for(reader).get(reverse("project", args=[new_project.pk])).content.decode()
    assert 'data-erp-action="send"' not in page  # a button the user may never use is not shown


@pytest.mark.django_db
def test_another_companys_job_is_not_found(new_project: Project, project_admin: Any) -> None:
    job_send(project=new_project, user=project_admin)
    outsider = f.member(f.ProjectFactory(), admin=True)
    client = client_for(outsider)
    assert client.get(job_page(new_project)).status_code == 404
    assert client.post(send_url(new_project)).status_code == 404
    assert client.post(send_url(new_project, "retrieve")).status_code == 404
    assert Job.objects.get().erp_state == "pending"


@pytest.mark.django_db
def test_retrieve_a_job_never_sent_is_not_found(new_project: Project, project_admin: Any) -> None:
    response = client_for(project_admin).post(send_url(new_project, "retrieve"))
    assert response.status_code == 404


# ----- the data migration --------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_migration_makes_synced_jobs_of_synced_projects() -> None:
    old = apps_at([("jobs", "0001_job")])
    company = old.get_model("projects", "Company").objects.create(name="Old Co", slug="old-co")
    projects = old.get_model("projects", "Project")
    synced = projects.objects.create(
        company=company, number="P-1", name="Synced", erp_synced=True, erp_job_id="JOB-9"
    )
    projects.objects.create(company=company, number="P-2", name="Never sent")
    user = old.get_model("auth", "User").objects.create(username="old-approver")
    membership = old.get_model("projects", "CompanyMembership").objects.create(
        company=company, user=user, erp_tool_level=20, can_push_to_accounting=True
    )
    old.get_model("projects", "ExportRight").objects.create(membership=membership, kind="sub_job")

    migrate_to_latest()

    job = Job.objects.get()
    assert (job.project_id, job.erp_state, job.erp_id) == (synced.pk, "synced", "JOB-9")
    [event] = ErpEvent.objects.filter(object_id=job.pk, content_type__model="job")
    assert (event.action, event.to_state, event.actor_id) == ("mark_synced", "synced", None)
    assert "Migrated" in event.reason and event.details["migrated"] is True
    assert set(
        ExportRight.objects.filter(membership_id=membership.pk).values_list("kind", flat=True)
    ) == {"sub_job", "job"}


# ----- Tryton: the job is the project's analytic account ----------------------------------


@pytest.mark.django_db
def test_a_job_exported_to_tryton_is_the_parent_of_its_sub_jobs(
    tryton_server: dict[str, str],  # noqa: F811
    new_project: Project,
    project_admin: Any,
    approver: Any,
) -> None:
    company = new_project.company
    use_tryton(company, tryton_server)

    def export(item: Any) -> Any:
        accepted = erp_accept(item=item, user=approver, export=False)
        return erp_export(
            model=type(accepted), item_id=accepted.pk, try_number=1, requeue=lambda c: None
        )

    job = job_send(project=new_project, user=project_admin)
    result = export(job)
    assert result.outcome == "synced", result.detail
    new_project.refresh_from_db()
    assert new_project.erp_synced and new_project.erp_job_id == result.detail

    reader = adapter_for(company)
    (account,) = reader.search_read(
        "analytic_account.account",
        [["id", "=", int(result.detail)]],
        ["code", "name", "parent", "root"],
    )
    assert account["code"] == "P-900" and account["name"] == "P-900 Harbor Tower"
    assert account["parent"] == reader.analytic_root() == account["root"]

    sub_job = f.SubJobFactory(project=new_project, status="approved", created_by=project_admin)
    sub_result = export(erp_send(item=sub_job, user=project_admin))
    assert sub_result.outcome == "synced", sub_result.detail
    (child,) = reader.search_read(
        "analytic_account.account", [["id", "=", int(sub_result.detail)]], ["parent"]
    )
    assert child["parent"] == account["id"]
    assert reader.reconcile("job", result.detail, job.erp_snapshot()) == []
