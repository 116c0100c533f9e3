"""The project's "synced with the ERP" follows its job.

`Project.erp_synced` and `erp_job_id` stay on the project because `projects` sits below the
ERP core and every kind's preconditions read them; the job is their source: its sync sets
them, in the same transaction. Synced is final (no transition leaves it), so nothing here
clears them; a transition out of Synced, if one is ever added, must clear erp_synced here.
"""

from __future__ import annotations

from erpsync.events import ItemTransitioned, subscribe
from erpsync.states import ErpState
from jobs.models import Job
from projects.models import Project


def follow_job(message: ItemTransitioned) -> None:
    job = message.item
    if not isinstance(job, Job) or message.event.to_state != ErpState.SYNCED:
        return
    Project.objects.filter(pk=job.project_id).update(erp_synced=True, erp_job_id=job.erp_id)
    job.project.erp_synced, job.project.erp_job_id = True, job.erp_id


def register() -> None:
    subscribe(ItemTransitioned, follow_job)
