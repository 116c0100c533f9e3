"""A job's unlink racing a send of one of its project's items: the project's row orders them.

A send reads whether the project is synced; unlinking the project's job makes it not synced.
Both take the project's row first (erpsync.services.lock_project), so whichever comes second
waits for the first and then sees what it committed. Without that lock neither waits, and a
sub job could be sent under a job being unlinked (or the job unlinked under a sub job sent).
"""

from __future__ import annotations

from typing import Any

import pytest

from erpsync.services import erp_send
from erpsync.states import ErpActionRefused
from erpsync.unlink import erp_unlink
from jobs.models import Job
from projects.models import ToolLevel
from subjobs.models import SubJob
from tests import factories as f
from tests.test_concurrency import race
from tests.updating import synced_job

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def job(project: Any, admin: Any, approver: Any) -> Job:
    project.erp_synced, project.erp_job_id = False, ""
    project.save()
    return synced_job(project, admin, approver)


@pytest.fixture
def tool_admin(company: Any) -> Any:
    user = f.UserFactory()
    f.CompanyMembershipFactory(company=company, user=user, erp_tool_level=ToolLevel.ADMIN)
    return user


@pytest.fixture
def approved(project: Any, admin: Any) -> SubJob:
    return f.SubJobFactory(project=project, status="approved", created_by=admin)


def test_a_send_holding_the_project_makes_the_jobs_unlink_wait_and_refuse(
    job: Job, approved: SubJob, admin: Any, tool_admin: Any
) -> None:
    sent, unlinked = race(
        lambda: erp_send(item=approved, user=admin),
        lambda: erp_unlink(item=Job.objects.get(pk=job.pk), user=tool_admin),
    )
    assert isinstance(sent, SubJob) and sent.erp_state == "pending"
    assert isinstance(unlinked, ErpActionRefused), unlinked
    assert f"sub job {approved.code}" in unlinked.reasons[0]
    job.refresh_from_db()
    job.project.refresh_from_db()
    assert job.erp_state == "synced" and job.project.erp_synced


def test_an_unlink_holding_the_project_makes_a_send_wait_and_refuse(
    job: Job, approved: SubJob, admin: Any, tool_admin: Any
) -> None:
    unlinked, sent = race(
        lambda: erp_unlink(item=Job.objects.get(pk=job.pk), user=tool_admin),
        lambda: erp_send(item=SubJob.objects.get(pk=approved.pk), user=admin),
    )
    assert isinstance(unlinked, Job) and unlinked.erp_state == "not_sent"
    assert isinstance(sent, ErpActionRefused), sent
    assert "The project is not synced with the ERP." in sent.reasons
    approved.refresh_from_db()
    assert approved.erp_state == "not_sent"
