"""Dry runs get their own final state, ``validated``; finished dry runs take it over."""

from django.db import migrations, models

FINISHED = ("succeeded", "succeeded_with_errors")


def dry_runs_validated(apps, schema_editor):
    ImportJob = apps.get_model("imports", "ImportJob")
    ImportJob.objects.filter(dry_run=True, state__in=FINISHED).update(state="validated")


def dry_runs_succeeded(apps, schema_editor):
    jobs = apps.get_model("imports", "ImportJob").objects.filter(dry_run=True, state="validated")
    jobs.filter(failed__gt=0).update(state="succeeded_with_errors")
    jobs.filter(failed=0).update(state="succeeded")


class Migration(migrations.Migration):
    dependencies = [("imports", "0007_job_leases")]

    operations = [
        migrations.AlterField(
            model_name="importjob",
            name="state",
            field=models.CharField(
                choices=[
                    ("awaiting_upload", "Awaiting upload"),
                    ("queued", "Queued"),
                    ("running", "Running"),
                    ("succeeded", "Succeeded"),
                    ("succeeded_with_errors", "Succeeded with errors"),
                    ("failed", "Failed"),
                    ("validated", "Validated"),
                ],
                default="queued",
                max_length=24,
                verbose_name="state",
            ),
        ),
        migrations.RunPython(dry_runs_validated, dry_runs_succeeded),
    ]
