"""django-q2 entry points: take an id, call the pipeline."""

from imports import embedded_uploads, pipeline, s3_discovery


def import_job_run(job_id: int) -> str:
    return pipeline.run(job_id, inline=False).state


def import_part_run(part_id: int) -> str:
    return pipeline.run_part(part_id).state


def s3_imports_discover() -> int:
    return len(s3_discovery.s3_imports_discover())


def import_jobs_resume_stalled() -> int:
    return pipeline.resume_stalled() + len(embedded_uploads.expired_uploads_fail())
