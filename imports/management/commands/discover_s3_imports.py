from django.core.management.base import BaseCommand, CommandError

from imports import s3
from imports.s3_discovery import s3_imports_discover


class Command(BaseCommand):
    help = "List every project's S3 prefixes once and create (and queue) a job for each new object."

    def handle(self, *args, **options):
        try:
            jobs = s3_imports_discover()
        except s3.NotConfigured as exc:
            raise CommandError(str(exc)) from exc
        for job in jobs:
            self.stdout.write(f"job {job.pk}: {job.project.app_id} {job.kind} {job.storage_key} ({job.state})")
        self.stdout.write(f"{len(jobs)} new job(s)")
