import json
import sys

from django.core.management.base import BaseCommand, CommandError
from django.utils import translation

from imports import undo as undo_service
from imports.models import ImportJob, ImportUndo


class Command(BaseCommand):
    help = (
        "Undo an import: remove the events it tracked (and the users and event definitions it created that "
        "nothing else refers to), or restore the profile values it set. With --sync the undo runs here (or "
        "resumes, if it was stopped) and the last line printed is a JSON summary; otherwise it is queued."
    )

    def add_arguments(self, parser):
        parser.add_argument("job_id", type=int)
        parser.add_argument("--sync", action="store_true", help="run the undo in this process")

    def handle(self, *args, job_id, sync, **options):
        with translation.override("en"):  # operators' and scripts' output, like import_csv's
            self._undo(job_id, sync)

    def _undo(self, job_id, sync):
        job = ImportJob.objects.filter(pk=job_id).first()
        if job is None:
            raise CommandError(f"no import job {job_id}")
        undo = ImportUndo.objects.filter(job=job).first()
        resumable = undo is not None and undo.state in (ImportUndo.State.QUEUED, ImportUndo.State.RUNNING)
        if not (sync and resumable):
            try:
                undo = undo_service.import_undo_request(job=job, started_by="undo_import", enqueue=not sync)
            except undo_service.UndoRefused as refused:
                self._summary(job, undo, message=str(refused))
                sys.exit(1)
        if not sync:
            self.stdout.write(str(undo.pk))
            return
        undo = undo_service.run(undo.pk)
        self._summary(job, undo, message=undo.failure_message)
        if undo.state != ImportUndo.State.SUCCEEDED:
            sys.exit(1)

    def _summary(self, job, undo, message):
        summary = {"job": job.pk, "undo": undo.pk if undo else None, "state": undo.state if undo else None}
        if undo:
            summary.update(undo_service.undo_counts(undo), report=undo.report_key)
        summary["message"] = message
        self.stdout.write(json.dumps(summary, ensure_ascii=False))
