from django.core.management.base import BaseCommand

from imports import jobs, undo


class Command(BaseCommand):
    help = "Queue again the import jobs, parts and undos that made no progress for IMPORT_STALL_SECONDS (the watchdog)."

    def handle(self, *args, **options):
        self.stdout.write(f"{jobs.import_jobs_resume_stalled() + undo.resume_stalled()} task(s) queued again")
