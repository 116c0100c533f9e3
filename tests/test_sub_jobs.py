from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from erpsync.models import ErpEvent
from subjobs.models import SubJob
from subjobs.services import sub_job_create, sub_job_update

pytestmark = pytest.mark.django_db


def test_a_30_character_code_is_accepted(project: Any, admin: Any) -> None:
    sub_job = sub_job_create(project=project, user=admin, code="A" * 30, name="Long code")
    assert SubJob.objects.get(pk=sub_job.pk).code == "A" * 30
    created = ErpEvent.objects.get(action="create")
    assert created.actor == admin and created.details["changes"]["code"] == ["", "A" * 30]


def test_a_31_character_code_is_refused_and_nothing_saved(project: Any, admin: Any) -> None:
    with pytest.raises(ValidationError) as error:
        sub_job_create(project=project, user=admin, code="A" * 31, name="Too long")
    assert error.value.message_dict["code"] == [
        "Ensure this value has at most 30 characters (it has 31)."
    ]
    assert not SubJob.objects.exists()
    assert not ErpEvent.objects.exists()


def test_a_rename_to_a_31_character_code_is_refused(sub_job: Any, admin: Any) -> None:
    code = sub_job.code
    with pytest.raises(ValidationError) as error:
        sub_job_update(sub_job=sub_job, user=admin, code="B" * 31)
    assert "code" in error.value.message_dict
    sub_job.refresh_from_db()
    assert sub_job.code == code


def test_a_code_is_unique_in_its_project(project: Any, admin: Any) -> None:
    sub_job_create(project=project, user=admin, code="01-000", name="One")
    with pytest.raises(ValidationError) as error:
        sub_job_create(project=project, user=admin, code=" 01-000 ", name="Two")
    assert error.value.message_dict["code"] == [
        "Sub Job ID '01-000' is already used in this project."
    ]
    assert SubJob.objects.count() == 1


def test_the_same_code_may_be_used_in_another_project(admin: Any, project: Any) -> None:
    from tests import factories as f

    other = f.ProjectFactory(company=project.company)
    f.SubJobFactory(project=other, code="01-000")
    assert sub_job_create(project=project, user=admin, code="01-000", name="One").pk


def test_a_blank_code_and_name_are_refused(project: Any, admin: Any) -> None:
    with pytest.raises(ValidationError) as error:
        sub_job_create(project=project, user=admin, code="   ", name="")
    assert set(error.value.message_dict) == {"code", "name"}


def test_a_read_only_user_cannot_add_a_sub_job(project: Any, viewer: Any) -> None:
    with pytest.raises(PermissionDenied, match="Admin permission on the project's Admin tool"):
        sub_job_create(project=project, user=viewer, code="01", name="x")
    assert not SubJob.objects.exists()


def test_the_snapshot_is_what_the_erp_receives(sub_job: Any) -> None:
    assert sub_job.erp_snapshot() == {
        "kind": "sub_job",
        "code": sub_job.code,
        "name": sub_job.name,
        "project": {
            "number": sub_job.project.number,
            "name": sub_job.project.name,
            "erp_job_id": "JOB-1",
        },
    }
