"""Writes to jobs: the first send creates the project's job; the rest is the ERP core's."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from erpsync.services import erp_send
from jobs.models import Job
from projects.models import Project


@transaction.atomic
def job_send(*, project: Project, user: Any) -> Job:
    """Send the project to the ERP as its job, creating the job on the first send. A refused
    send (ErpActionRefused) rolls the new job back with it: nothing half-saved."""
    # The project's row serialises two first sends: one creates the job, the other finds it.
    Project.objects.select_for_update().filter(pk=project.pk).first()
    job, _ = Job.objects.get_or_create(project=project)
    return erp_send(item=job, user=user)
