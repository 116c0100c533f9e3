"""Ready to Update for projects: renaming a project whose job is synced is an update of the
job (jobs.services.project_rename); before that, a plain rename; locked in between."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from erpsync.models import SandboxRecord, UpdateRequest
from erpsync.updates import erp_accept_update, erp_reject_update
from jobs.models import Job
from jobs.services import job_send
from projects.models import Project
from tests import factories as f
from tests.updating import client_for, ready_to_update, send_update, synced_job


@pytest.fixture
def new_project(company: Any) -> Project:
    return f.ProjectFactory(company=company, number="P-910", name="Harbor Tower")


@pytest.fixture
def project_admin(new_project: Project) -> Any:
    return f.member(new_project, admin=True)


@pytest.mark.django_db
def test_renaming_a_project_before_its_job_is_synced_just_saves_it(
    new_project: Project, project_admin: Any
) -> None:
    client = client_for(project_admin)
    page = client.get(reverse("job_detail", args=[new_project.pk])).content.decode()
    assert "data-rename-form" in page and "Save name" in page
    response = client.post(reverse("job_rename", args=[new_project.pk]), {"name": "Harbour"})
    assert response.status_code == 302
    new_project.refresh_from_db()
    assert new_project.name == "Harbour" and not UpdateRequest.objects.exists()


@pytest.mark.django_db
def test_renaming_a_synced_project_is_an_update_of_its_job(
    new_project: Project, project_admin: Any, approver: Any, company: Any
) -> None:
    job = synced_job(new_project, project_admin, approver)
    client = client_for(project_admin)
    page = client.get(reverse("job_detail", args=[new_project.pk])).content.decode()
    assert "data-update-notice" in page and "Request update" in page
    response = client.post(reverse("job_rename", args=[new_project.pk]), {"name": "Harbour"})
    assert response.status_code == 302
    new_project.refresh_from_db()
    assert new_project.name == "Harbour" and new_project.erp_synced
    update = UpdateRequest.objects.get()
    assert update.kind == "job" and update.changes == {"name": ["Harbor Tower", "Harbour"]}
    job_page = client.get(reverse("job_detail", args=[new_project.pk])).content.decode()
    assert 'data-update="pending"' in job_page
    project_page = client.get(reverse("project", args=[new_project.pk])).content.decode()
    assert 'data-update-mark="pending"' in project_page
    tool = client_for(approver).get(ready_to_update(company, "job")).content.decode()
    assert "Harbor Tower" in tool and "Harbour" in tool

    erp_accept_update(request=update, user=approver)
    assert send_update(update) == "synced"
    assert SandboxRecord.objects.get(erp_id=job.erp_id).payload["name"] == "Harbour"
    assert Job.objects.get(pk=job.pk).erp_state == "synced"


@pytest.mark.django_db
def test_a_rejected_project_rename_goes_back_to_the_erps_name(
    new_project: Project, project_admin: Any, approver: Any
) -> None:
    synced_job(new_project, project_admin, approver)
    response = client_for(project_admin).post(
        reverse("job_rename", args=[new_project.pk]), {"name": "Harbour"}
    )
    assert response.status_code == 302
    erp_reject_update(request=UpdateRequest.objects.get(), user=approver, reason="Contract name")
    new_project.refresh_from_db()
    assert new_project.name == "Harbor Tower"


@pytest.mark.django_db
def test_a_project_waiting_for_approval_cannot_be_renamed(
    new_project: Project, project_admin: Any
) -> None:
    job_send(project=new_project, user=project_admin)
    client = client_for(project_admin)
    page = client.get(reverse("job_detail", args=[new_project.pk])).content.decode()
    assert 'disabled aria-disabled="true" data-rename' in page
    response = client.post(reverse("job_rename", args=[new_project.pk]), {"name": "Harbour"})
    assert response.status_code == 409
    new_project.refresh_from_db()
    assert new_project.name == "Harbor Tower"
    reader = f.member(new_project, admin=False)
    assert (
        client_for(reader)
        .post(reverse("job_rename", args=[new_project.pk]), {"name": "X"})
        .status_code
        == 403
    )


@pytest.mark.django_db
def test_a_project_synced_by_hand_cannot_be_renamed_here(project: Project, admin: Any) -> None:
    client = client_for(admin)
    page = client.get(reverse("job_detail", args=[project.pk])).content.decode()
    assert 'disabled aria-disabled="true" data-rename' in page and "by hand" in page
    response = client.post(reverse("job_rename", args=[project.pk]), {"name": "Renamed"})
    assert response.status_code == 409 and "by hand" in response.content.decode()
    project.refresh_from_db()
    assert project.name != "Renamed"
