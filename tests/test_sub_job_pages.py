"""The Sub Jobs pages as a project admin uses them, through the Django test client."""

from __future__ import annotations

import html
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from erpsync.models import ErpEvent
from subjobs.models import SubJob
from tests import factories as f

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def admin_client(admin: Any) -> Client:
    client = Client()
    client.force_login(admin)
    return client


def list_url(project: Any) -> str:
    return reverse("sub_job_list", args=[project.pk])


def test_the_list_shows_code_name_status_and_erp_icon(
    admin_client: Client, project: Any, sub_job: Any, drive: Any
) -> None:
    drive(sub_job, "pending")
    page = admin_client.get(list_url(project)).content.decode()
    assert sub_job.code in page and sub_job.name in page
    assert 'data-erp-state="pending"' in page and "Pending acceptance" in page


def test_adding_a_sub_job_with_htmx_returns_the_section_with_it(
    admin_client: Client, project: Any
) -> None:
    response = admin_client.post(list_url(project), {"code": "09-000", "name": "Finishes"}, **HTMX)
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="sub-jobs">')
    assert 'data-sub-job="09-000"' in body
    assert SubJob.objects.get(project=project, code="09-000").name == "Finishes"


def test_a_31_character_code_is_refused_at_the_field(admin_client: Client, project: Any) -> None:
    response = admin_client.post(list_url(project), {"code": "X" * 31, "name": "Long"}, **HTMX)
    assert response.status_code == 422
    body = response.content.decode()
    assert 'data-error-for="code"' in body
    assert "Ensure this value has at most 30 characters (it has 31)." in body
    assert not SubJob.objects.exists()


def test_a_duplicate_code_is_refused_at_the_field(
    admin_client: Client, project: Any, sub_job: Any
) -> None:
    response = admin_client.post(list_url(project), {"code": sub_job.code, "name": "Dup"})
    assert response.status_code == 422
    assert "is already used in this project" in response.content.decode()
    assert SubJob.objects.count() == 1


def test_double_click_rename_saves_with_enter(
    admin_client: Client, project: Any, sub_job: Any
) -> None:
    url = reverse("sub_job_rename", args=[project.pk, sub_job.pk])
    editor = admin_client.get(url, **HTMX)
    assert editor.status_code == 200 and b"data-inline-edit" in editor.content
    saved = admin_client.post(url, {"name": "Sitework and Utilities"}, **HTMX)
    assert saved.status_code == 200
    assert b"Sitework and Utilities" in saved.content and b"data-inline-edit" not in saved.content
    sub_job.refresh_from_db()
    assert sub_job.name == "Sitework and Utilities"
    assert ErpEvent.objects.filter(action="edit", actor__isnull=False).count() == 1


def test_escape_cancel_returns_the_unchanged_row(
    admin_client: Client, project: Any, sub_job: Any
) -> None:
    row = admin_client.get(reverse("sub_job_row", args=[project.pk, sub_job.pk]), **HTMX)
    assert row.status_code == 200 and sub_job.name.encode() in row.content


def test_renaming_a_locked_sub_job_is_refused_with_the_reason(
    admin_client: Client, project: Any, sub_job: Any, drive: Any
) -> None:
    drive(sub_job, "pending")
    url = reverse("sub_job_rename", args=[project.pk, sub_job.pk])
    for response in (
        admin_client.get(url, **HTMX),
        admin_client.post(url, {"name": "Forged"}, **HTMX),
    ):
        assert response.status_code == 409
        assert b"retrieve it to edit" in response.content
    sub_job.refresh_from_db()
    assert sub_job.name != "Forged"


def test_approve_turns_a_draft_approved(admin_client: Client, project: Any) -> None:
    draft = f.SubJobFactory(project=project, status="draft")
    response = admin_client.post(reverse("sub_job_approve", args=[project.pk, draft.pk]), **HTMX)
    assert response.status_code == 200 and b"Approved" in response.content
    draft.refresh_from_db()
    assert draft.status == "approved"


def test_send_turns_the_ribbon_blue(admin_client: Client, project: Any, sub_job: Any) -> None:
    detail = reverse("sub_job_detail", args=[project.pk, sub_job.pk])
    assert b'data-erp-action="send"' in admin_client.get(detail).content
    response = admin_client.post(detail + "erp/send/", follow=True)
    body = response.content.decode()
    assert 'class="ribbon blue"' in body and 'data-erp-ribbon="pending"' in body
    assert 'data-erp-action="retrieve"' in body and 'data-erp-action="send"' not in body
    assert "retrieve it to edit" in body


def test_retrieve_unlocks_the_sub_job(
    admin_client: Client, project: Any, sub_job: Any, drive: Any
) -> None:
    drive(sub_job, "pending")
    detail = reverse("sub_job_detail", args=[project.pk, sub_job.pk])
    body = admin_client.post(detail + "erp/retrieve/", follow=True).content.decode()
    assert 'data-erp-ribbon="retrieved"' in body and 'data-erp-action="send"' in body
    assert "data-lock-banner" not in body


def test_a_greyed_out_send_says_why(admin_client: Client, project: Any) -> None:
    draft = f.SubJobFactory(project=project, status="draft")
    body = admin_client.get(reverse("sub_job_detail", args=[project.pk, draft.pk])).content.decode()
    assert 'disabled aria-disabled="true" data-erp-action="send"' in body
    assert "The sub job is not in the Approved status." in body


def test_a_greyed_out_resend_says_why(
    admin_client: Client, project: Any, sub_job: Any, drive: Any, admin: Any
) -> None:
    drive(sub_job, "rejected")
    project.erp_synced = False
    project.save()
    body = admin_client.get(
        reverse("sub_job_detail", args=[project.pk, sub_job.pk])
    ).content.decode()
    assert 'data-erp-action="resend"' in body and "disabled" in body
    assert "The project is not synced with the ERP." in body
    assert "Wrong cost code" in body  # the latest rejection reason


def test_a_forged_send_of_a_draft_is_refused_with_409_and_changes_nothing(
    admin_client: Client, project: Any
) -> None:
    draft = f.SubJobFactory(project=project, status="draft")
    url = reverse("sub_job_erp_action", args=[project.pk, draft.pk, "send"])
    response = admin_client.post(url)
    assert response.status_code == 409
    assert b"The sub job is not in the Approved status." in response.content
    draft.refresh_from_db()
    assert draft.erp_state == "not_sent"


def test_a_read_only_user_sees_no_buttons_and_is_refused_403(
    project: Any, viewer: Any, sub_job: Any
) -> None:
    client = Client()
    client.force_login(viewer)
    detail = reverse("sub_job_detail", args=[project.pk, sub_job.pk])
    body = client.get(detail).content.decode()
    assert "data-erp-action" not in body
    assert "data-add-sub-job" not in client.get(list_url(project)).content.decode()
    response = client.post(detail + "erp/send/")
    assert response.status_code == 403
    assert "Admin permission on the project's Admin tool" in html.unescape(
        response.content.decode()
    )
    sub_job.refresh_from_db()
    assert sub_job.erp_state == "not_sent"


def test_another_companys_user_gets_404_everywhere(project: Any, sub_job: Any) -> None:
    outsider = f.member(f.ProjectFactory(), admin=True)
    client = Client()
    client.force_login(outsider)
    urls = [
        reverse("project", args=[project.pk]),
        list_url(project),
        reverse("sub_job_detail", args=[project.pk, sub_job.pk]),
        reverse("sub_job_rename", args=[project.pk, sub_job.pk]),
    ]
    for url in urls:
        assert client.get(url).status_code == 404, url
    assert (
        client.post(
            reverse("sub_job_erp_action", args=[project.pk, sub_job.pk, "send"])
        ).status_code
        == 404
    )
    sub_job.refresh_from_db()
    assert sub_job.erp_state == "not_sent"


def test_a_sub_job_of_another_project_is_not_reachable_through_this_one(
    admin_client: Client, project: Any, company: Any
) -> None:
    elsewhere = f.SubJobFactory(project=f.ProjectFactory(company=company))
    url = reverse("sub_job_detail", args=[project.pk, elsewhere.pk])
    assert admin_client.get(url).status_code == 404


def test_posts_need_a_csrf_token(project: Any, admin: Any, sub_job: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    response = client.post(reverse("sub_job_erp_action", args=[project.pk, sub_job.pk, "send"]))
    assert response.status_code == 403
    sub_job.refresh_from_db()
    assert sub_job.erp_state == "not_sent"


def test_the_list_makes_the_same_number_of_queries_for_3_and_30_sub_jobs(
    admin_client: Client, project: Any, django_assert_num_queries: Any
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            admin_client.get(list_url(project))
        return len(ctx)

    for _ in range(3):
        f.SubJobFactory(project=project)
    few = count()
    for _ in range(27):
        f.SubJobFactory(project=project)
    assert count() == few
