import json
import sys
import traceback

from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandError

from imports import jobs, pipeline, selectors
from imports.management.helpers import project_from_app_id
from imports.models import ImportJob


class Command(BaseCommand):
    help = (
        "Import a local CSV (or gzip) file into a project. With --sync the job runs here and the last "
        "line printed is a JSON summary; otherwise it is queued for a worker and its id printed."
    )

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=[ImportJob.Kind.EVENTS, ImportJob.Kind.USER_PROFILES])
        parser.add_argument("path")
        parser.add_argument("--project", required=True, metavar="APP_ID")
        parser.add_argument("--sync", action="store_true", help="run the import in this process")
        parser.add_argument("--dry-run", action="store_true", help="validate the whole file, write nothing")
        parser.add_argument(
            "--errors-out", metavar="FILE",
            help="also write the error CSV to FILE (with --sync); for a job that failed part-way, its remainder CSV",
        )

    def handle(self, *args, kind, path, project, sync, dry_run, errors_out, **options):
        if errors_out and not sync:
            raise CommandError("--errors-out needs --sync")
        project = project_from_app_id(project)
        try:
            content = open(path, "rb")
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror}") from exc
        with content:
            job = jobs.import_job_create(
                project=project, kind=kind, source=ImportJob.Source.COMMAND, file_name=path.rsplit("/", 1)[-1],
                content=content, started_by="import_csv", dry_run=dry_run, enqueue=not sync,
            )
        if not sync:
            self.stdout.write(str(job.pk))
            return
        try:
            job = pipeline.run(job.pk, progress=self._progress if sys.stderr.isatty() else None)
        except Exception:
            # A bug failed the job (the pipeline did that): report it like any failure, with what it committed.
            job = ImportJob.objects.get(pk=job.pk)
            if not job.is_final:
                raise
            traceback.print_exc(file=sys.stderr)
        if sys.stderr.isatty():
            sys.stderr.write("\n")
        if errors_out and (written := job.error_csv_key or job.remainder_csv_key):
            with default_storage.open(written, "rb") as source, open(errors_out, "wb") as target:
                for block in iter(lambda: source.read(1 << 20), b""):
                    target.write(block)
        self.stdout.write(json.dumps(job_summary(job), ensure_ascii=False))
        if job.state == ImportJob.State.FAILED:
            sys.exit(1)

    def _progress(self, job: ImportJob) -> None:
        total = job.total_rows or 0
        width = 30
        done = int(width * job.rows_read / total) if total else width
        sys.stderr.write(f"\r[{'#' * done}{'.' * (width - done)}] {job.rows_read:,}/{total:,} rows")
        sys.stderr.flush()


def job_summary(job: ImportJob) -> dict:
    summary = {
        "job": job.pk,
        "state": job.state,
        "rows": job.rows_read,
        "imported": job.imported,
        "failed": job.failed,
        "message": job.failure_message,
    }
    if job.partly_imported:
        # Never "nothing was imported" when something was: say how much, and where the rest is.
        summary["message"] += (
            f" {job.imported:,} row(s) were imported before the import stopped and stay imported;"
            " the rows that were not are in the job's remainder CSV (--errors-out FILE, or the job's page),"
            " to import as it is."
        )
        summary["remainder_csv"] = bool(job.remainder_csv_key)
    if job.dry_run:
        summary.update(dry_run=True, **dry_run_report(job))
    return summary


def dry_run_report(job: ImportJob) -> dict:
    """What the file would create, against the project's remaining limits."""
    project = job.project
    if job.kind == ImportJob.Kind.EVENTS:
        return {
            "new_events": job.planned_events,
            "enabled_events": selectors.event_definition_enabled_count(project=project),
            "max_enabled_events": project.max_enabled_events,
        }
    return {
        "profile_types": job.profile_key_types,
        "new_profile_keys": job.new_profile_keys,
        "enabled_profile_keys": selectors.profile_key_enabled_count(project=project),
        "max_enabled_profile_keys": project.max_enabled_profile_keys,
    }
