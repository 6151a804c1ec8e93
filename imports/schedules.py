"""The django-q2 schedules the app relies on, kept in line with the settings after every migrate."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from imports import s3


def schedules_sync(*, using: str = "default", **kwargs: Any) -> None:
    """post_migrate handler: create, update or remove each schedule (ready() must not touch the DB)."""
    from django_q.models import Schedule

    wanted = {
        "import-watchdog": ("imports.tasks.import_jobs_resume_stalled", settings.IMPORT_WATCHDOG_MINUTES, True),
        "s3-discovery": ("imports.tasks.s3_imports_discover", settings.S3_DISCOVERY_INTERVAL_MINUTES,
                         s3.is_configured()),
        "before-images-purge": ("imports.tasks.before_images_purge", 60, True),
    }
    for name, (func, minutes, enabled) in wanted.items():
        schedules = Schedule.objects.using(using).filter(name=name)
        if not enabled:
            schedules.delete()
            continue
        values = {"func": func, "schedule_type": Schedule.MINUTES, "minutes": minutes, "repeats": -1}
        if not schedules.update(**values):
            Schedule.objects.using(using).create(name=name, **values)
