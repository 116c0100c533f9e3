"""The company and project directories, the Accountants page and the links to them."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from projects.models import CompanyMembership, ToolLevel
from tests import factories as f

pytestmark = pytest.mark.django_db

BADGE = '<span class="erp-icon green" data-approver-badge>Accounting approver</span>'


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def company_members_url(company: Any) -> str:
    return reverse("company_members", args=[company.slug])


def project_members_url(project: Any) -> str:
    return reverse("project_members", args=[project.pk])


def accountants_url(company: Any) -> str:
    return reverse("company_accountants", args=[company.slug])


def row(page: str, user: Any) -> str:
    """The table row of one user on a directory page."""
    match = re.search(rf'<tr data-member="{re.escape(user.username)}">(.*?)</tr>', page, re.S)
    assert match, f"{user.username} is not listed"
    return match.group(1)


def has_badge(page: str, user: Any) -> bool:
    return BADGE in row(page, user)


def on_project(project: Any, user: Any) -> Any:
    f.ProjectMembershipFactory(project=project, user=user, **f.READ_ONLY_ALL)
    return user


@pytest.fixture
def erp_admin(company: Any) -> Any:
    """Admin on the company's ERP Integrations tool, without 'Can push to accounting'."""
    return f.approver(company, erp_tool_level=ToolLevel.ADMIN, can_push_to_accounting=False)


@pytest.fixture
def standard_pusher(company: Any) -> Any:
    return f.approver(company, erp_tool_level=ToolLevel.STANDARD, can_push_to_accounting=True)


@pytest.fixture
def read_only_pusher(company: Any) -> Any:
    return f.approver(company, erp_tool_level=ToolLevel.READ_ONLY, can_push_to_accounting=True)


@pytest.fixture
def outsider() -> Any:
    return f.approver(f.CompanyFactory(), erp_tool_level=ToolLevel.ADMIN)


# ----- company directory -----


def test_company_directory_lists_name_username_email_and_erp_tool_level(
    viewer: Any, company: Any
) -> None:
    person = f.UserFactory(first_name="Ada", last_name="Lovelace", email="ada@example.com")
    f.CompanyMembershipFactory(company=company, user=person, erp_tool_level=ToolLevel.READ_ONLY)
    response = client_for(viewer).get(company_members_url(company))
    assert response.status_code == 200
    cells = row(response.content.decode(), person)
    for text in ("Ada Lovelace", person.username, "ada@example.com", "Read Only"):
        assert text in cells


def test_company_directory_badges_a_standard_user_who_can_push_to_accounting(
    viewer: Any, company: Any, standard_pusher: Any
) -> None:
    page = client_for(viewer).get(company_members_url(company)).content.decode()
    assert has_badge(page, standard_pusher)


def test_company_directory_does_not_badge_a_read_only_user_who_can_push_to_accounting(
    viewer: Any, company: Any, read_only_pusher: Any
) -> None:
    page = client_for(viewer).get(company_members_url(company)).content.decode()
    assert not has_badge(page, read_only_pusher)


def test_company_directory_does_not_badge_an_erp_admin_who_cannot_push_to_accounting(
    viewer: Any, company: Any, erp_admin: Any
) -> None:
    page = client_for(viewer).get(company_members_url(company)).content.decode()
    assert not has_badge(page, erp_admin)


def test_company_directory_is_visible_to_a_member_without_any_project(
    company: Any, standard_pusher: Any
) -> None:
    assert client_for(standard_pusher).get(company_members_url(company)).status_code == 200


def test_company_directory_is_not_found_for_another_companys_user(
    company: Any, viewer: Any, outsider: Any
) -> None:
    response = client_for(outsider).get(company_members_url(company))
    assert response.status_code == 404
    assert viewer.username not in response.content.decode()


def test_company_directory_redirects_an_anonymous_user_to_log_in(company: Any) -> None:
    response = Client().get(company_members_url(company))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


# ----- project directory -----


def test_project_directory_lists_each_members_project_tool_levels(
    admin: Any, viewer: Any, project: Any
) -> None:
    person = f.member(
        project,
        admin=False,
        admin_level=ToolLevel.NONE,
        prime_contracts_level=ToolLevel.STANDARD,
        commitments_level=ToolLevel.ADMIN,
    )
    page = client_for(viewer).get(project_members_url(project)).content.decode()
    cells = re.findall(r"<td>(.*?)</td>", row(page, person), re.S)[1:]
    assert cells == ["None", "Standard", "Admin"]
    assert re.findall(r"<td>(.*?)</td>", row(page, admin), re.S)[1:] == ["Admin"] * 3


def test_project_directory_badges_a_standard_user_who_can_push_to_accounting(
    viewer: Any, project: Any, standard_pusher: Any
) -> None:
    on_project(project, standard_pusher)
    page = client_for(viewer).get(project_members_url(project)).content.decode()
    assert has_badge(page, standard_pusher)


def test_project_directory_does_not_badge_a_read_only_user_who_can_push_to_accounting(
    viewer: Any, project: Any, read_only_pusher: Any
) -> None:
    on_project(project, read_only_pusher)
    page = client_for(viewer).get(project_members_url(project)).content.decode()
    assert not has_badge(page, read_only_pusher)


def test_project_directory_does_not_badge_an_erp_admin_who_cannot_push_to_accounting(
    viewer: Any, project: Any, erp_admin: Any
) -> None:
    on_project(project, erp_admin)
    page = client_for(viewer).get(project_members_url(project)).content.decode()
    assert not has_badge(page, erp_admin)


def test_project_directory_does_not_badge_an_approver_of_another_company(
    viewer: Any, project: Any
) -> None:
    person = f.member(project, admin=False)
    f.CompanyMembershipFactory(
        company=f.CompanyFactory(),
        user=person,
        erp_tool_level=ToolLevel.ADMIN,
        can_push_to_accounting=True,
    )
    page = client_for(viewer).get(project_members_url(project)).content.decode()
    assert not has_badge(page, person)


def test_project_directory_is_forbidden_to_a_company_member_outside_the_project(
    project: Any, standard_pusher: Any
) -> None:
    assert client_for(standard_pusher).get(project_members_url(project)).status_code == 403


def test_project_directory_is_not_found_for_another_companys_user(
    project: Any, outsider: Any
) -> None:
    assert client_for(outsider).get(project_members_url(project)).status_code == 404


# ----- Accountants page -----


def test_accountants_page_lists_approvers_with_email_level_and_digest_for_an_erp_admin(
    company: Any, erp_admin: Any, standard_pusher: Any
) -> None:
    boss = f.approver(company, erp_tool_level=ToolLevel.ADMIN, erp_digest_subscribed=True)
    response = client_for(erp_admin).get(accountants_url(company))
    assert response.status_code == 200
    page = response.content.decode()
    pusher_row, boss_row = row(page, standard_pusher), row(page, boss)
    assert standard_pusher.email in pusher_row and "Standard" in pusher_row
    assert 'data-digest="no"' in pusher_row
    assert boss.email in boss_row and "Admin" in boss_row
    assert 'data-digest="yes"' in boss_row


def test_accountants_page_leaves_out_members_who_are_not_approvers(
    company: Any, erp_admin: Any, read_only_pusher: Any, viewer: Any
) -> None:
    page = client_for(erp_admin).get(accountants_url(company)).content.decode()
    for user in (erp_admin, read_only_pusher, viewer):
        assert f'data-member="{user.username}"' not in page


@pytest.mark.parametrize("level", [ToolLevel.NONE, ToolLevel.READ_ONLY, ToolLevel.STANDARD])
def test_accountants_page_is_forbidden_with_a_reason_to_a_member_below_erp_admin(
    company: Any, level: ToolLevel
) -> None:
    user = f.approver(company, erp_tool_level=level)
    response = client_for(user).get(accountants_url(company))
    assert response.status_code == 403
    reason = html.unescape(response.content.decode())
    assert "The Accountants page is for Admins of the company's ERP Integrations tool" in reason


def test_accountants_page_is_not_found_for_another_companys_erp_admin(
    company: Any, outsider: Any
) -> None:
    assert client_for(outsider).get(accountants_url(company)).status_code == 404


# ----- links -----


def test_home_links_every_member_to_the_company_directory(viewer: Any, company: Any) -> None:
    page = client_for(viewer).get(reverse("home")).content.decode()
    assert f'href="{company_members_url(company)}"' in page
    assert f'href="{accountants_url(company)}"' not in page


def test_home_links_an_erp_admin_to_the_accountants_page(erp_admin: Any, company: Any) -> None:
    page = client_for(erp_admin).get(reverse("home")).content.decode()
    nav = re.search(r'<nav class="company-links"[^>]*>(.*?)</nav>', page, re.S)
    assert nav and f'href="{accountants_url(company)}"' in nav.group(1)


def test_project_page_links_to_the_project_directory(viewer: Any, project: Any) -> None:
    page = client_for(viewer).get(reverse("project", args=[project.pk])).content.decode()
    assert f'href="{project_members_url(project)}"' in page


# ----- query counts -----


def count_queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx)


def add_company_members(company: Any, project: Any, count: int) -> None:
    for n in range(count):
        user = f.approver(company, can_push_to_accounting=n % 2 == 0)
        on_project(project, user)


@pytest.mark.parametrize(
    "url_for",
    [
        lambda company, project: company_members_url(company),
        lambda company, project: project_members_url(project),
        lambda company, project: accountants_url(company),
    ],
    ids=["company_members", "project_members", "company_accountants"],
)
def test_directory_pages_make_the_same_number_of_queries_for_3_and_15_members(
    company: Any, project: Any, url_for: Callable[[Any, Any], str]
) -> None:
    user = f.member(project, admin=False)
    CompanyMembership.objects.filter(user=user).update(erp_tool_level=ToolLevel.ADMIN)
    client = client_for(user)
    url = url_for(company, project)
    add_company_members(company, project, 2)
    few = count_queries(client, url)
    add_company_members(company, project, 12)
    assert count_queries(client, url) == few


def test_home_makes_the_same_number_of_queries_for_1_and_3_companies(viewer: Any) -> None:
    client = client_for(viewer)
    few = count_queries(client, reverse("home"))
    for _ in range(2):
        other = f.ProjectFactory()
        f.CompanyMembershipFactory(company=other.company, user=viewer)
        on_project(other, viewer)
    assert count_queries(client, reverse("home")) == few
