"""django-q2 entry points: take an id, call the pipeline."""

from imports import pipeline


def import_job_run(job_id: int) -> str:
    return pipeline.run(job_id).state
