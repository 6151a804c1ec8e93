"""System checks: run by `manage.py check` and when runserver or migrate start, so an operator who
switched S3 on hears at once that the bucket is missing or not writable, not at the first upload."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Warning, register

from imports import s3

_WHERE = "{bucket} at {endpoint}"
_MESSAGES = {
    "missing": ("imports.W001", "The import bucket {where} does not exist ({detail}).",
                "Create it, e.g. `aws s3 mb s3://{bucket}` (with --endpoint-url for an S3-compatible server), "
                "or correct IMPORT_BUCKET."),
    "unreadable": ("imports.W002", "The import bucket {where} cannot be reached or read ({detail}).",
                   "Check AWS_S3_ENDPOINT_URL, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY and the app's policy "
                   "(docs/operations.md)."),
    "unwritable": ("imports.W003", "The app cannot write to the import bucket {where} ({detail}).",
                   "Give the app's credentials s3:PutObject and s3:DeleteObject on the bucket (docs/operations.md)."),
}


@register("s3")
def import_bucket_check(app_configs=None, **kwargs) -> list[Warning]:
    """The configured bucket exists and the app may write to it (nothing to check without S3)."""
    if not s3.is_configured():
        return []
    problem = s3.bucket_problem()
    if problem is None:
        return []
    check_id, message, hint = _MESSAGES[problem.code]
    bucket = settings.IMPORT_BUCKET
    where = _WHERE.format(bucket=repr(bucket), endpoint=settings.AWS_S3_ENDPOINT_URL or "AWS")
    return [
        Warning(message.format(where=where, detail=problem.detail), hint=hint.format(bucket=bucket), id=check_id)
    ]
