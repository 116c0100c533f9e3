"""The project's "synced with the ERP" follows its job.

`Project.erp_synced` and `erp_job_id` stay on the project because `projects` sits below the
ERP core and every kind's preconditions read them; the job is their source: its sync sets
them, and its unlink (erpsync.unlink, the only transition out of Synced) clears them, in the
same transaction. The project's sub jobs and owner invoices then wait for the job again.
"""

from __future__ import annotations

from erpsync.events import ItemTransitioned, subscribe
from erpsync.states import ErpAction, ErpState
from jobs.models import Job
from projects.models import Project


def follow_job(message: ItemTransitioned) -> None:
    job = message.item
    if not isinstance(job, Job):
        return
    if message.event.to_state == ErpState.SYNCED:
        synced, job_id = True, job.erp_id
    elif message.action == ErpAction.UNLINK:
        synced, job_id = False, ""
    else:
        return
    Project.objects.filter(pk=job.project_id).update(erp_synced=synced, erp_job_id=job_id)
    job.project.erp_synced, job.project.erp_job_id = synced, job_id


def register() -> None:
    subscribe(ItemTransitioned, follow_job)
