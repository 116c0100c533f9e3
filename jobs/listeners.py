"""The project's "synced with the ERP" follows its job.

`Project.erp_synced` and `erp_job_id` stay on the project because `projects` sits below the
ERP core and every kind's preconditions read them; the job is their source: its sync sets
them and any transition out of Synced (an unlink) clears the flag, in the same transaction.
"""

from __future__ import annotations

from erpsync.events import ItemTransitioned, subscribe
from erpsync.states import ErpState
from jobs.models import Job
from projects.models import Project


def follow_job(message: ItemTransitioned) -> None:
    job = message.item
    if not isinstance(job, Job):
        return
    event = message.event
    if event.to_state == ErpState.SYNCED:
        Project.objects.filter(pk=job.project_id).update(erp_synced=True, erp_job_id=job.erp_id)
        job.project.erp_synced, job.project.erp_job_id = True, job.erp_id
    elif event.from_state == ErpState.SYNCED:
        Project.objects.filter(pk=job.project_id).update(erp_synced=False)
        job.project.erp_synced = False


def register() -> None:
    subscribe(ItemTransitioned, follow_job)
