"""Projects flagged synced before jobs existed keep their sync, now as a synced job.

Every project with erp_synced gets a Job in Synced with erp_id = its ERP job id, and an audit
row saying so; other projects get none (a job is created on the project's first send). The
audit row is a mark_synced with no adapter named, so erp_reconcile lists these jobs as synced
elsewhere instead of asking today's ERP for an id it never made. Approvers who may accept sub
jobs may accept jobs too.
"""

from django.db import migrations
from django.utils import timezone

MIGRATED = (
    "Migrated: the project was marked synced with the ERP as job {erp_id} before projects "
    "were sent as jobs."
)


def forwards(apps, schema_editor):
    project_model = apps.get_model("projects", "Project")
    job_model = apps.get_model("jobs", "Job")
    event_model = apps.get_model("erpsync", "ErpEvent")
    content_type_model = apps.get_model("contenttypes", "ContentType")
    right_model = apps.get_model("projects", "ExportRight")
    content_type, _ = content_type_model.objects.get_or_create(app_label="jobs", model="job")
    now = timezone.now()
    synced = project_model.objects.filter(erp_synced=True).exclude(erp_job_id="")
    for project in synced.iterator():
        if job_model.objects.filter(project_id=project.pk).exists():
            continue
        job = job_model.objects.create(
            project_id=project.pk, erp_state="synced", erp_id=project.erp_job_id, erp_changed_at=now
        )
        event_model.objects.create(
            content_type_id=content_type.pk,
            object_id=job.pk,
            company_id=project.company_id,
            action="mark_synced",
            from_state="not_sent",
            to_state="synced",
            reason=MIGRATED.format(erp_id=project.erp_job_id),
            details={"adapter": "", "migrated": True},
            created_at=now,
        )
    holders = right_model.objects.filter(kind="sub_job").values_list("membership_id", flat=True)
    have = set(right_model.objects.filter(kind="job").values_list("membership_id", flat=True))
    right_model.objects.bulk_create(
        right_model(membership_id=m, kind="job") for m in set(holders) - have
    )


def backwards(apps, schema_editor):
    # The project's own flag was never cleared: dropping the jobs loses nothing it needs.
    content_type = apps.get_model("contenttypes", "ContentType").objects.filter(
        app_label="jobs", model="job"
    )
    apps.get_model("erpsync", "ErpEvent").objects.filter(content_type__in=content_type).delete()
    apps.get_model("jobs", "Job").objects.all().delete()
    apps.get_model("projects", "ExportRight").objects.filter(kind="job").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0001_job"),
        ("erpsync", "0006_connector_claims"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
