"""django-q2 entry points: take an id, call the pipeline."""

from imports import embedded_uploads, jobs, pipeline, s3_discovery, undo
from imports.webhooks import delivery


def import_job_run(job_id: int) -> str:
    return pipeline.run(job_id, inline=False).state


def import_part_run(part_id: int) -> str:
    return pipeline.run_part(part_id).state


def s3_imports_discover() -> int:
    return len(s3_discovery.s3_imports_discover())


def import_jobs_resume_stalled() -> int:
    return jobs.import_jobs_resume_stalled() + len(embedded_uploads.expired_uploads_fail()) + undo.resume_stalled()


def webhook_delivery_send(delivery_id: int) -> str:
    return delivery.webhook_delivery_send(delivery_id)


def import_undo_run(undo_id: int) -> str:
    return undo.run(undo_id).state


def before_images_purge() -> int:
    return undo.before_images_purge()
