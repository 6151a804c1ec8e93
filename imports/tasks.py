"""django-q2 entry points: take an id, call the pipeline."""

from imports import pipeline


def import_job_run(job_id: int) -> str:
    return pipeline.run(job_id, inline=False).state


def import_part_run(part_id: int) -> str:
    return pipeline.run_part(part_id).state
