"""A typed record of what a job did (fields and DirectUpload) instead of the free-form ImportJob.summary;
existing jobs are carried over, and back on reverse."""

import django.db.models.deletion
from django.db import migrations, models
from django.utils.dateparse import parse_datetime

# summary key -> field of the record
_PLAIN = {
    "error_header": "error_header",
    "profile_types": "profile_key_types",
    "new_profile_keys": "new_profile_keys",
    "ignored_keys": "ignored_profile_keys",
    "new_events": "planned_events",
}
_UPLOAD_TIMES = ("expires_at", "accept_until", "arrived_at")


def summary_to_record(apps, schema_editor):
    ImportJob = apps.get_model("imports", "ImportJob")
    DirectUpload = apps.get_model("imports", "DirectUpload")
    job_ids = set(ImportJob.objects.values_list("pk", flat=True))
    for job in ImportJob.objects.only("pk", "summary").iterator(chunk_size=1000):
        summary = job.summary or {}
        fields = {field: summary[key] for key, field in _PLAIN.items() if key in summary}
        if failure := summary.get("failure"):
            fields.update(failure_template=failure["template"], failure_params=failure["params"])
        if summary.get("dry_run_job") in job_ids:
            fields["dry_run_job_id"] = summary["dry_run_job"]
        if fields:
            ImportJob.objects.filter(pk=job.pk).update(**fields)
        if upload := summary.get("direct_upload"):
            times = {name: parse_datetime(upload[name]) for name in _UPLOAD_TIMES if upload.get(name)}
            DirectUpload.objects.create(job_id=job.pk, content_type=upload["content_type"], size=upload.get("size"),
                                        **times)


def record_to_summary(apps, schema_editor):
    ImportJob = apps.get_model("imports", "ImportJob")
    uploads = {upload.job_id: upload for upload in apps.get_model("imports", "DirectUpload").objects.all()}
    for job in ImportJob.objects.iterator(chunk_size=1000):
        summary = {key: getattr(job, field) for key, field in _PLAIN.items() if getattr(job, field)}
        if job.failure_template:
            summary["failure"] = {"template": job.failure_template, "params": job.failure_params}
        if job.dry_run_job_id:
            summary["dry_run_job"] = job.dry_run_job_id
        if upload := uploads.get(job.pk):
            summary["direct_upload"] = {"content_type": upload.content_type, "size": upload.size} | {
                name: getattr(upload, name).isoformat() for name in _UPLOAD_TIMES if getattr(upload, name)
            }
            if upload.size is None:
                del summary["direct_upload"]["size"]
        if summary:
            ImportJob.objects.filter(pk=job.pk).update(summary=summary)


class Migration(migrations.Migration):

    dependencies = [
        ('imports', '0004_api_request_count'),
    ]

    operations = [
        migrations.CreateModel(
            name='DirectUpload',
            fields=[
                ('job', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='direct_upload', serialize=False, to='imports.importjob')),
                ('content_type', models.CharField(max_length=64)),
                ('expires_at', models.DateTimeField()),
                ('accept_until', models.DateTimeField()),
                ('size', models.BigIntegerField(blank=True, null=True)),
                ('arrived_at', models.DateTimeField(blank=True, null=True)),
            ],
        ),
        migrations.AddField(
            model_name='importjob',
            name='dry_run_job',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='imports.importjob', verbose_name='validated in'),
        ),
        migrations.AddField(
            model_name='importjob',
            name='error_header',
            field=models.JSONField(blank=True, default=list, verbose_name='error CSV header'),
        ),
        migrations.AddField(
            model_name='importjob',
            name='failure_params',
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AddField(
            model_name='importjob',
            name='failure_template',
            field=models.TextField(blank=True),
        ),
        migrations.AddField(
            model_name='importjob',
            name='ignored_profile_keys',
            field=models.JSONField(blank=True, default=list, verbose_name='profile keys turned off'),
        ),
        migrations.AddField(
            model_name='importjob',
            name='new_profile_keys',
            field=models.JSONField(blank=True, default=list, verbose_name='new profile keys'),
        ),
        migrations.AddField(
            model_name='importjob',
            name='planned_events',
            field=models.JSONField(blank=True, default=dict, verbose_name='planned events'),
        ),
        migrations.AddField(
            model_name='importjob',
            name='profile_key_types',
            field=models.JSONField(blank=True, default=dict, verbose_name='profile key types'),
        ),
        migrations.RunPython(summary_to_record, record_to_summary),
        migrations.RemoveField(
            model_name='importjob',
            name='summary',
        ),
    ]
