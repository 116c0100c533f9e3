"""Creating a project from the browser: the first step of the ERP lifecycle (issue 14)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from erpsync.models import ErpEvent
from jobs.models import Job
from projects.models import Company, ProjectMembership, ToolLevel
from tests import factories as f


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def new_url(company: Company) -> str:
    return reverse("project_new", args=[company.slug])


@pytest.fixture
def creator(company: Company) -> Any:
    user = f.UserFactory(username="pat")
    f.CompanyMembershipFactory(company=company, user=user, can_create_projects=True)
    return user


@pytest.mark.django_db
def test_a_creator_adds_a_project_and_runs_it(company: Company, creator: Any) -> None:
    client = client_for(creator)
    home = client.get(reverse("home")).content.decode()
    assert new_url(company) in home

    response = client.post(new_url(company), {"number": " P-500 ", "name": "Dockside Lofts"})
    project = company.projects.get(number="P-500")
    assert response.status_code == 302
    assert response["Location"] == reverse("job_detail", args=[project.pk])
    assert project.name == "Dockside Lofts" and not project.erp_synced
    membership = ProjectMembership.objects.get(project=project, user=creator)
    assert membership.admin_level == ToolLevel.ADMIN
    assert membership.prime_contracts_level == ToolLevel.ADMIN
    job = Job.objects.get(project=project)
    assert job.erp_state == "not_sent"
    (created,) = ErpEvent.objects.filter(object_id=job.pk, action="create")
    assert created.actor == creator
    assert created.details["changes"] == {"number": ["", "P-500"], "name": ["", "Dockside Lofts"]}

    page = client.get(response["Location"]).content.decode()
    assert "Send to ERP" in page and "Project P-500 created" in page


@pytest.mark.django_db
def test_a_used_number_is_refused_at_the_field(company: Company, creator: Any) -> None:
    f.ProjectFactory(company=company, number="P-500")
    response = client_for(creator).post(new_url(company), {"number": "p-500", "name": "Again"})
    assert response.status_code == 422
    assert "Project number &#x27;p-500&#x27; is already used." in response.content.decode()
    assert company.projects.filter(name="Again").count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"number": "", "name": "X"}, "number", "This field is required."),
        ({"number": "P-1", "name": "   "}, "name", "This field is required."),
        ({"number": "P-1", "name": "A\x00B"}, "name", "Null characters are not allowed."),
        ({"number": "P" * 31, "name": "X"}, "number", "at most 30 characters"),
    ],
)
def test_bad_input_is_refused_at_its_field(
    company: Company, creator: Any, data: dict[str, str], field: str, message: str
) -> None:
    response = client_for(creator).post(new_url(company), data)
    assert response.status_code == 422
    body = response.content.decode()
    assert f'data-error-for="{field}"' in body and message in body
    assert not company.projects.exists() and not Job.objects.exists()


@pytest.mark.django_db
def test_only_creators_and_erp_tool_admins_may_create(company: Company) -> None:
    member = f.UserFactory(username="sam")
    f.CompanyMembershipFactory(company=company, user=member)
    client = client_for(member)
    assert new_url(company) not in client.get(reverse("home")).content.decode()
    assert client.get(new_url(company)).status_code == 403
    assert client.post(new_url(company), {"number": "P-1", "name": "X"}).status_code == 403
    assert not company.projects.filter(number="P-1").exists()

    tool_admin = f.UserFactory(username="ada")
    f.CompanyMembershipFactory(company=company, user=tool_admin, erp_tool_level=ToolLevel.ADMIN)
    response = client_for(tool_admin).post(new_url(company), {"number": "P-1", "name": "X"})
    assert response.status_code == 302 and company.projects.filter(number="P-1").exists()


@pytest.mark.django_db
def test_another_companys_page_is_not_found(company: Company, creator: Any) -> None:
    other = f.CompanyFactory(slug="elsewhere")
    assert client_for(creator).get(new_url(other)).status_code == 404
    assert client_for(creator).post(new_url(other), {"number": "P", "name": "X"}).status_code == 404
    assert not other.projects.exists()
