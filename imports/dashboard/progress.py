"""How far a job has got, in words: percent done, rows per second, time left, how long it took."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone
from django.utils.translation import gettext as _

from imports.models import ImportJob


def duration_text(seconds: float) -> str:
    if seconds < 1:
        return _("under 1 s")
    seconds = round(seconds)
    if seconds < 60:
        return _("%(s)d s") % {"s": seconds}
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return _("%(m)d min %(s)d s") % {"m": minutes, "s": seconds}
    hours, minutes = divmod(minutes, 60)
    return _("%(h)d h %(m)d min") % {"h": hours, "m": minutes}


@dataclass
class Progress:
    percent: int | None  # None until the file-level checks have counted the rows
    rate: str  # "1,234 rows/s", "" when not known yet
    time_left: str  # "about 2 min 5 s left", "" when not known
    duration: str  # how long it ran (so far), "" before it started


def job_progress(job: ImportJob, now: datetime | None = None) -> Progress:
    now = now or timezone.now()
    percent = None
    if job.is_final and job.state != ImportJob.State.FAILED:
        percent = 100
    elif job.total_rows is not None:
        percent = 100 if job.total_rows == 0 else min(100, job.rows_read * 100 // job.total_rows)
    rate = time_left = duration = ""
    if job.started_at:
        elapsed = ((job.finished_at or now) - job.started_at).total_seconds()
        duration = duration_text(elapsed)
        if job.rows_read and elapsed > 0:
            rows_per_second = job.rows_read / elapsed
            rate = _("%(rate)s rows/s") % {"rate": f"{rows_per_second:,.0f}"}
            if job.state == ImportJob.State.RUNNING and job.total_rows is not None:
                time_left = _("about %(time)s left") % {
                    "time": duration_text((job.total_rows - job.rows_read) / rows_per_second)
                }
    return Progress(percent=percent, rate=rate, time_left=time_left, duration=duration)
