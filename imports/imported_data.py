"""Reads of the imported data: users, their profiles and events, what one import wrote, and the
events explorer. Selectors like those in ``selectors.py``: every read takes the project."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.expressions import RawSQL
from django.db.models.functions import Collate, TruncDate
from django.utils import timezone

from imports.models import (
    AppUser,
    EventDefinition,
    ImportedEventBatch,
    ImportJob,
    ProfileBeforeImage,
    ProfileKey,
    Project,
    TrackedEvent,
)

RECENT_EVENTS = 20


def _user_id_order():
    """User IDs in code-point order on every database, whatever PostgreSQL's collation."""
    return Collate("user_id", "C") if connection.vendor == "postgresql" else F("user_id")


def app_user_get(*, project: Project, user_id: str) -> AppUser | None:
    return AppUser.objects.filter(project=project, user_id=user_id).first()


def app_user_search(*, project: Project, prefix: str, after: str = "", limit: int = 50) -> list[AppUser]:
    """The project's users whose ID starts with ``prefix``, in ID order, the first ``limit`` after ``after``.

    A range over the IDs in code-point order rather than LIKE: exact whatever the database's
    collation, and an index on ``(project_id, (user_id COLLATE "C"))`` serves it if a site adds one
    (it is not created: it would cost every profile import, docs/performance.md).
    """
    order = _user_id_order()
    users = AppUser.objects.filter(project=project).annotate(sort_key=order)
    if prefix:
        users = users.filter(sort_key__gte=prefix)
        if upper := _prefix_upper_bound(prefix):
            users = users.filter(sort_key__lt=upper)
    if after:
        users = users.filter(sort_key__gt=after)
    return list(users.order_by("sort_key").only("pk", "user_id", "profile", "created_at")[:limit])


def _prefix_upper_bound(prefix: str) -> str:
    """The least string after every string that starts with ``prefix`` ("" when there is none)."""
    while prefix and ord(prefix[-1]) >= 0x10FFFF:
        prefix = prefix[:-1]
    if not prefix:
        return ""
    last = ord(prefix[-1]) + 1
    if 0xD800 <= last <= 0xDFFF:  # surrogates are not characters
        last = 0xE000
    return prefix[:-1] + chr(last)


@dataclass
class ProfileValue:
    key: str
    value: Any
    type: str  # the key's type, "" for a key that no longer exists
    enabled: bool
    set_by: ImportJob | None  # None: set before imports were recorded, or by an import since deleted


def profile_values(*, project: Project, user: AppUser) -> list[ProfileValue]:
    """The user's profile values by key, with each key's type and the import that last set it."""
    keys = {key.name: key for key in ProfileKey.objects.filter(project=project, name__in=list(user.profile))}
    jobs = ImportJob.objects.filter(project=project).in_bulk(set(user.profile_set_by.values()))
    values = []
    for name in sorted(user.profile):
        key = keys.get(name)
        values.append(
            ProfileValue(
                key=name,
                value=user.profile[name],
                type=key.type if key else "",
                enabled=key.enabled if key else False,
                set_by=jobs.get(user.profile_set_by.get(name)),
            )
        )
    return values


def tracked_event_recent(*, project: Project, user: AppUser, limit: int = RECENT_EVENTS) -> list[TrackedEvent]:
    """The user's most recent events, newest first (the (app_user, tracked_at) index)."""
    return list(
        TrackedEvent.objects.filter(project=project, app_user=user)
        .select_related("event", "job")
        .order_by("-tracked_at", "-id")[:limit]
    )


# --- What one import wrote -------------------------------------------------------------------


def import_job_event_count(*, job: ImportJob) -> int:
    """Events the job tracked that are still there (its batches go when it is undone)."""
    return ImportedEventBatch.objects.filter(job=job).aggregate(n=Sum("row_count"))["n"] or 0


def import_job_events(*, job: ImportJob, after: tuple[int, int] | None = None, limit: int = 50):
    """The events the job tracked in file order, the first ``limit`` after the cursor
    ``after`` = (chunk's first row number, event id); and the next page's cursor (None on the last).
    Each chunk's rows are found through the events index: its events at its ``tracked_at``."""
    chunks: dict[int, tuple[datetime, list[int]]] = {}
    batches = ImportedEventBatch.objects.filter(job=job)
    if after:
        batches = batches.filter(first_number__gte=after[0])
    for first_number, tracked_at, event_id in batches.order_by("first_number").values_list(
        "first_number", "tracked_at", "event_id"
    ).iterator():
        chunks.setdefault(first_number, (tracked_at, []))[1].append(event_id)
    found: list[tuple[tuple[int, int], TrackedEvent]] = []
    for first_number, (tracked_at, event_ids) in chunks.items():
        events = TrackedEvent.objects.filter(
            project_id=job.project_id, event_id__in=event_ids, tracked_at=tracked_at, job_id=job.pk
        )
        if after and first_number == after[0]:
            events = events.filter(id__gt=after[1])
        for event in events.select_related("event", "app_user").order_by("id")[: limit + 1 - len(found)]:
            found.append(((first_number, event.pk), event))
        if len(found) > limit:
            break
    cursor = found[limit - 1][0] if len(found) > limit else None
    return [event for _, event in found[:limit]], cursor


def import_job_user_ids(*, job: ImportJob) -> list[str]:
    """The IDs of the users the job touched, in code-point order. An events import: the users of
    its events (all its rows are read: about a second per million); a profiles import: the users
    whose values it set (from its before-images)."""
    if job.kind == ImportJob.Kind.EVENTS:
        users = AppUser.objects.filter(pk__in=RawSQL(_JOB_EVENT_USERS, [job.project_id, job.pk, job.pk]))
    else:
        users = AppUser.objects.filter(pk__in=_before_image_user_pks(job))
    users = users.filter(project_id=job.project_id).annotate(sort_key=_user_id_order())
    return list(users.order_by("sort_key").values_list("user_id", flat=True))


def app_users_by_id(*, project: Project, user_ids: list[str]) -> list[AppUser]:
    """The project's users with these IDs, in the order given."""
    found = {user.user_id: user for user in AppUser.objects.filter(project=project, user_id__in=user_ids)}
    return [found[user_id] for user_id in user_ids if user_id in found]


# From the job's batches to its rows through the events index: (project, event, tracked_at) equal.
_JOB_EVENT_USERS = (
    f"SELECT e.app_user_id FROM {ImportedEventBatch._meta.db_table} b JOIN {TrackedEvent._meta.db_table} e "
    "ON e.project_id = %s AND e.event_id = b.event_id AND e.tracked_at = b.tracked_at "
    "WHERE b.job_id = %s AND e.job_id = %s"
)


def _before_image_user_pks(job: ImportJob) -> list[int]:
    pks: set[int] = set()
    for users in ProfileBeforeImage.objects.filter(job=job).values_list("user_key_sets", flat=True).iterator():
        pks.update(int(pk) for pk in users)
    return list(pks)


# --- Events explorer -------------------------------------------------------------------------

EXPLORER_DEFAULT_DAYS = 30
EXPLORER_MAX_DAYS = 366


@dataclass
class EventSeries:
    definition: EventDefinition
    days: list[date]
    counts: list[int]
    total: int = 0
    imports: list[tuple[ImportJob, int]] = field(default_factory=list)  # (import, events in the range)


def explorer_range(start: date | None, end: date | None, today: date | None = None) -> tuple[date, date]:
    """The days shown: ``start``..``end`` inclusive, by default the last 30 days; at most 366."""
    today = today or timezone.localdate()
    end = end or today
    start = start or end - timedelta(days=EXPLORER_DEFAULT_DAYS - 1)
    if start > end:
        start, end = end, start
    if (end - start).days >= EXPLORER_MAX_DAYS:
        start = end - timedelta(days=EXPLORER_MAX_DAYS - 1)
    return start, end


def event_series(*, project: Project, definitions: list[EventDefinition], start: date, end: date) -> list[EventSeries]:
    """Events per day for each definition over ``start``..``end`` (the current time zone's days),
    with their totals and the imports that tracked them.

    The counts are one GROUP BY over the (project, event, tracked_at) index; the imports come from
    the small batches table, not from the events.
    """
    since, until = _day_bounds(start, end)
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    series = {d.pk: EventSeries(d, days, [0] * len(days)) for d in definitions}
    counts = (
        TrackedEvent.objects.filter(project=project, event_id__in=list(series), tracked_at__gte=since, tracked_at__lt=until)
        .annotate(day=TruncDate("tracked_at"))
        .values_list("event_id", "day")
        .annotate(n=Count("*"))
        .order_by()
    )
    for event_id, day, n in counts:
        one = series[event_id]
        one.counts[(day - start).days] += n
        one.total += n
    contributions = (
        ImportedEventBatch.objects.filter(event_id__in=list(series), tracked_at__gte=since, tracked_at__lt=until)
        .values_list("event_id", "job_id")
        .annotate(n=Sum("row_count"))
        .order_by()
    )
    contributions = list(contributions)
    jobs = ImportJob.objects.filter(project=project).in_bulk({job_id for _, job_id, _ in contributions})
    for event_id, job_id, n in contributions:
        if job_id in jobs:
            series[event_id].imports.append((jobs[job_id], n))
    for one in series.values():
        one.imports.sort(key=lambda pair: pair[0].pk, reverse=True)
    return list(series.values())


def _day_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    zone = timezone.get_current_timezone()
    since = timezone.make_aware(datetime.combine(start, datetime.min.time()), zone)
    until = timezone.make_aware(datetime.combine(end + timedelta(days=1), datetime.min.time()), zone)
    return since, until


def tracked_event_sample(*, project: Project, definition: EventDefinition, limit: int = RECENT_EVENTS) -> list[TrackedEvent]:
    """The event's most recent occurrences, newest first (the (project, event, tracked_at) index)."""
    return list(
        TrackedEvent.objects.filter(project=project, event=definition)
        .select_related("app_user", "job")
        .order_by("-tracked_at", "-id")[:limit]
    )


def event_definitions_page(*, project: Project, search: str = "") -> QuerySet[EventDefinition]:
    definitions = EventDefinition.objects.filter(project=project)
    if search:
        definitions = definitions.filter(Q(name__icontains=search) | Q(display_name__icontains=search))
    return definitions.order_by("name")
