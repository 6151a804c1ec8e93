"""Undo an import (issue 16): take back what one import wrote, in the background, exactly once.

An undo goes in steps, each one transaction with its own checkpoint, so a killed worker's rerun
continues where it stopped and never repeats a step:

1. data: an events import's chunks are removed one at a time, each with its batch records (what
   is left of them *is* the checkpoint); a profiles import's before-images are applied newest
   first, each deleted as it is applied. A value a later import changed since is kept and noted.
2. users (events): the users the import created, unless anything else still refers to them
   (one statement, one pass over the project's events).
3. definitions: the event definitions or profile keys the import created, on the same terms.

Then the report of kept values is rendered, the audit record written and the members emailed.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import socket
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import Exists, Min, OuterRef, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django_q.tasks import async_task

from imports import imported_data, notifications, provenance, selectors
from imports.models import (
    AppUser,
    AuditRecord,
    EventDefinition,
    ImportedEventBatch,
    ImportJob,
    ImportUndo,
    ImportUndoKeptValue,
    ProfileBeforeImage,
    ProfileKey,
    Project,
    TrackedEvent,
    WebhookEvent,
)
from imports.webhooks import services as webhooks

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

logger = logging.getLogger(__name__)

REPORT_HEADER = ["user_id", "key", "value_kept", "set_by_import", "value_before_import", "reason"]
REPORT_REASON = "changed by import #{job} after this import"
MESSAGE_INTERNAL_ERROR = "The undo stopped because of an internal error. Please try again or contact support."
Phase = ImportUndo.Phase


class UndoRefused(Exception):
    """The import cannot be undone (now, or at all); the message says why, in the active language."""


# --- Whether, and what ---------------------------------------------------------------------


def undo_deadline(job: ImportJob) -> datetime:
    """Until when the import can be undone; after that its before-images may be purged."""
    return (job.finished_at or job.created_at) + timedelta(days=settings.IMPORT_UNDO_DAYS)


def undo_refusal(job: ImportJob) -> str:
    """Why ``job`` cannot be undone now, or "" when it can (a failed undo may be tried again)."""
    if job.dry_run:
        return _("A validation wrote nothing, so there is nothing to undo.")
    if not job.is_final:
        return _("An import can be undone once it has finished.")
    undo = ImportUndo.objects.filter(job=job).first()
    if undo is not None and undo.state == ImportUndo.State.SUCCEEDED:
        return _("This import has already been undone.")
    if undo is not None and undo.state != ImportUndo.State.FAILED:
        return _("This import is being undone.")
    if timezone.now() > undo_deadline(job):
        return _("This import finished more than %(days)s days ago, so it can no longer be undone.") % {
            "days": settings.IMPORT_UNDO_DAYS
        }
    created = _created_definitions(job)
    if not job.imported and not created.exists():
        return _("This import wrote nothing, so there is nothing to undo.")
    before_images_missing = undo is None and job.imported and not job.profile_before_images.exists()
    if job.kind == ImportJob.Kind.USER_PROFILES and before_images_missing:
        return _("This import was made before imports recorded what they overwrote, so it cannot be undone.")
    return ""


def undo_status(job: ImportJob) -> dict[str, Any]:
    """For the job's page: its undo (if any), why it cannot be undone now ("" if it can) and until when."""
    return {
        "undo": ImportUndo.objects.filter(job=job).first(),
        "refusal": "" if job.dry_run or not job.is_final else undo_refusal(job),
        "deadline": undo_deadline(job),
    }


def _created_definitions(job: ImportJob):
    model = EventDefinition if job.kind == ImportJob.Kind.EVENTS else ProfileKey
    return model.objects.filter(project_id=job.project_id, created_by_job=job)


def undo_preview(*, job: ImportJob) -> dict[str, Any]:
    """What undoing ``job`` would change, for the confirmation (cheap: from the provenance tables)."""
    definitions = list(_created_definitions(job).order_by("name").values_list("name", flat=True))
    if job.kind == ImportJob.Kind.EVENTS:
        return {
            "events": imported_data.import_job_event_count(job=job),
            "created_users": AppUser.objects.filter(project_id=job.project_id, created_by_job=job).count(),
            "definitions": definitions,
        }
    later = (
        selectors.import_job_list(project=job.project, kind=ImportJob.Kind.USER_PROFILES)
        .filter(dry_run=False, created_at__gt=job.created_at)
        .exclude(undo__state=ImportUndo.State.SUCCEEDED)
        .exclude(state=ImportJob.State.FAILED, imported=0)
    )
    keys = set(job.profile_key_types)
    return {
        "rows": job.imported,
        "keys": sorted(keys),
        "definitions": definitions,
        "later_imports": [other for other in later if keys & set(other.profile_key_types)],
    }


# --- Requesting and running ------------------------------------------------------------------


def import_undo_request(
    *, job: ImportJob, requested_by: AbstractBaseUser | None = None, started_by: str = "", enqueue: bool = True
) -> ImportUndo:
    """Queue the undo of ``job`` (UndoRefused if it cannot be undone); a failed undo is queued again.
    ``enqueue=False``: the caller runs it (``undo_import --sync``).

    The job row is locked, so two members clicking at once make one undo; the one-to-one row
    makes a second undo of the same import impossible.
    """
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().select_related("project").get(pk=job.pk)
        if refusal := undo_refusal(job):
            raise UndoRefused(refusal)
        undo = ImportUndo.objects.filter(job=job).first()
        if undo is None:
            undo = ImportUndo.objects.create(
                job=job, requested_by=requested_by, started_by=started_by, steps_total=_steps_total(job),
                heartbeat_at=timezone.now(),
            )
        else:  # a failed undo, tried again from where it stopped
            undo.state = ImportUndo.State.QUEUED
            undo.failure_message = ""
            undo.heartbeat_at = timezone.now()
            undo.save(update_fields=["state", "failure_message", "heartbeat_at"])
        _audit(undo, AuditRecord.Action.UNDO_REQUESTED, requested_by, started_by, {"file": job.file_name})
        if enqueue:
            import_undo_enqueue(undo=undo)
    return undo


def _steps_total(job: ImportJob) -> int:
    """Chunks (or before-images), then (events) the created users, then the definitions."""
    if job.kind == ImportJob.Kind.EVENTS:
        return ImportedEventBatch.objects.filter(job=job).values("first_number").distinct().count() + 2
    return job.profile_before_images.count() + 1


def import_undo_enqueue(*, undo: ImportUndo) -> None:
    transaction.on_commit(
        lambda: async_task("imports.tasks.import_undo_run", undo.pk, task_name=f"import-undo-{undo.job_id}")
    )


def run(undo_id: int) -> ImportUndo:
    """Run (or resume) an undo to its end; the members are emailed once when it is final."""
    undo = _claim(undo_id)
    if undo is not None:
        try:
            while _step(undo.pk):
                pass
            _finish(undo.pk)
        except (OperationalError, InterfaceError):
            logger.exception("undo %s: database unavailable, left to be resumed", undo_id)
            raise
        except Exception:
            _fail(undo.pk)
            raise
    undo = ImportUndo.objects.select_related("job__project").get(pk=undo_id)
    if undo.is_final and undo.notified_at is None:
        undo_finished_notify(undo=undo)
    return undo


def _claim(undo_id: int) -> ImportUndo | None:
    with transaction.atomic():
        undo = ImportUndo.objects.select_for_update().get(pk=undo_id)
        if undo.state not in (ImportUndo.State.QUEUED, ImportUndo.State.RUNNING):
            return None
        undo.state = ImportUndo.State.RUNNING
        undo.attempts += 1
        undo.worker = f"{socket.gethostname()}:{os.getpid()}"
        undo.started_at = undo.started_at or timezone.now()
        undo.heartbeat_at = timezone.now()
        undo.save(update_fields=["state", "attempts", "worker", "started_at", "heartbeat_at"])
    return undo


def _step(undo_id: int) -> bool:
    """One checkpointed step in one transaction; False when no step is left.

    The undo row is locked first, so two runs of the same undo (a redelivered task) take turns,
    and each finds the previous one's work gone from its checkpoint.
    """
    with transaction.atomic():
        undo = ImportUndo.objects.select_for_update().select_related("job__project").get(pk=undo_id)
        if undo.state != ImportUndo.State.RUNNING:
            return False
        job = undo.job
        if undo.phase == Phase.DATA:
            moved = _events_chunk_remove(undo, job) if job.kind == ImportJob.Kind.EVENTS else _image_apply(undo, job)
            if not moved:
                undo.phase = Phase.USERS if job.kind == ImportJob.Kind.EVENTS else Phase.DEFINITIONS
        elif undo.phase == Phase.USERS:
            _users_remove(undo, job)
            undo.phase = Phase.DEFINITIONS
        elif undo.phase == Phase.DEFINITIONS:
            _definitions_remove(undo, job)
            undo.phase = Phase.DONE
        else:
            return False
        undo.heartbeat_at = timezone.now()
        undo.save()
        return True


def _events_chunk_remove(undo: ImportUndo, job: ImportJob) -> bool:
    """The job's first chunk still there: its events (found exactly by the events index) and its batches."""
    first = ImportedEventBatch.objects.filter(job=job).aggregate(n=Min("first_number"))["n"]
    if first is None:
        return False
    batches = ImportedEventBatch.objects.filter(job=job, first_number=first)
    removed = 0
    for tracked_at, event_ids in _by_tracked_at(batches.values_list("tracked_at", "event_id")).items():
        removed += TrackedEvent.objects.filter(
            project_id=job.project_id, event_id__in=event_ids, tracked_at=tracked_at, job_id=job.pk
        ).delete()[0]
    batches.delete()
    undo.events_removed += removed
    undo.steps_done += 1
    return True


def _by_tracked_at(pairs) -> dict[datetime, list[int]]:
    grouped: dict[datetime, list[int]] = {}
    for tracked_at, event_id in pairs:
        grouped.setdefault(tracked_at, []).append(event_id)
    return grouped


def _image_apply(undo: ImportUndo, job: ImportJob) -> bool:
    """Apply the newest before-image left: each value the job set goes back to what it was, unless a
    later import has set it since (then it stays, and the report lists it)."""
    image = ProfileBeforeImage.objects.filter(job=job).order_by("-first_number").first()
    if image is None:
        return False
    users = AppUser.objects.select_for_update().filter(project_id=job.project_id, pk__in=[int(pk) for pk in image.old_profiles])
    undone = _undone_jobs(job)
    changed: dict[int, AppUser] = {}
    kept: list[ImportUndoKeptValue] = []
    for user in users.only("pk", "user_id", "profile", "profile_set_by"):
        old_profile, old_set_by = image.old_profiles[str(user.pk)], image.old_set_by[str(user.pk)]
        for key in image.key_sets[image.user_key_sets[str(user.pk)]]:
            old, setter = old_profile.get(key), user.profile_set_by.get(key)
            if setter != job.pk:
                kept.append(ImportUndoKeptValue(undo=undo, user_id=user.user_id, key=key, value=user.profile.get(key),
                                                set_by_job=setter, value_before=old, set_by_before=old_set_by.get(key)))
                continue
            old, old_setter = _before_undone_imports(user.user_id, key, old, old_set_by.get(key), undone)
            _put(user.profile, key, old)
            _put(user.profile_set_by, key, old_setter)
            changed[user.pk] = user
            # A user in several chunks of the job: only the oldest image's value is from before it.
            if old_setter != job.pk:
                undo.values_restored += 1
    _profiles_replace(list(changed.values()))
    # Images go newest first: the last one written for a value holds what was there before the job.
    ImportUndoKeptValue.objects.bulk_create(
        kept, update_conflicts=True, unique_fields=["undo", "user_id", "key"],
        update_fields=["value_before", "set_by_before"],
    )
    image.delete()
    undo.steps_done += 1
    return True


def _undone_jobs(job: ImportJob) -> set[int]:
    return set(
        ImportUndo.objects.filter(job__project_id=job.project_id, state=ImportUndo.State.SUCCEEDED).values_list(
            "job_id", flat=True
        )
    )


def _before_undone_imports(user_id: str, key: str, value, setter: int | None, undone: set[int]):
    """The value to restore, skipping imports undone already: an import undone out of order (A, then
    B over A's values, undo A, undo B) must not bring A's value back. The undo of each such import
    kept the value it found and noted what it would have restored; that is what was there before."""
    while setter in undone:
        kept = ImportUndoKeptValue.objects.filter(undo__job_id=setter, user_id=user_id, key=key).first()
        if kept is None:
            break
        value, setter = kept.value_before, kept.set_by_before
    return value, setter


def _put(mapping: dict, key: str, value) -> None:
    """A null in a before-image means the key was absent."""
    if value is None:
        mapping.pop(key, None)
    else:
        mapping[key] = value


def _profiles_replace(users: list[AppUser]) -> None:
    if not users:
        return
    if connection.vendor == "postgresql":
        rows = {str(user.pk): {"profile": user.profile, "set_by": user.profile_set_by} for user in users}
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {AppUser._meta.db_table} AS u SET profile = r.value -> 'profile', "
                "profile_set_by = r.value -> 'set_by' FROM jsonb_each(%s::jsonb) AS r WHERE u.id = r.key::bigint",
                [json.dumps(rows)],
            )
        return
    AppUser.objects.bulk_update(users, ["profile", "profile_set_by"], batch_size=1000)


def _users_remove(undo: ImportUndo, job: ImportJob) -> None:
    """The users the job created, removed unless an event or a profile value still refers to them.

    One statement: the project's events are read once, matched against the (few) created users,
    so no index on the events' user is needed (it would cost every import; docs/performance.md).
    The exclusive references lock waits for every events chunk in flight in the project and keeps
    new ones out until this commits, so no chunk can refer to a user removed here.
    """
    provenance.references_lock_exclusive(project_id=job.project_id)
    with connection.cursor() as cursor:
        cursor.execute(_DELETE_UNREFERENCED_USERS, {"project": job.project_id, "job": job.pk})
        undo.users_removed += cursor.rowcount
    undo.steps_done += 1


_CREATED_USERS = (
    f"SELECT id FROM {AppUser._meta.db_table} WHERE project_id = %(project)s AND created_by_job_id = %(job)s"
)
# Not a WITH statement: SQLite reports no row count for those. '{}' is an empty profile on both.
_DELETE_UNREFERENCED_USERS = f"""
DELETE FROM {AppUser._meta.db_table} AS u
WHERE u.id IN ({_CREATED_USERS}) AND u.profile = '{{}}' AND NOT EXISTS (
    SELECT 1 FROM (
        SELECT DISTINCT e.app_user_id AS id FROM {TrackedEvent._meta.db_table} AS e
        WHERE e.project_id = %(project)s AND e.app_user_id IN ({_CREATED_USERS})
    ) AS referenced WHERE referenced.id = u.id
)
"""


def _definitions_remove(undo: ImportUndo, job: ImportJob) -> None:
    """The event definitions (or profile keys) the job created that nothing refers to any more.

    The project row is locked as importers lock it before adding definitions; a profile key stays
    while another profiles import of the project is running (it may be about to set it).
    """
    provenance.references_lock_exclusive(project_id=job.project_id)
    project = Project.objects.select_for_update().get(pk=job.project_id)
    created = _created_definitions(job)
    if job.kind == ImportJob.Kind.EVENTS:
        unused = created.exclude(Exists(TrackedEvent.objects.filter(project=project, event_id=OuterRef("pk"))))
    else:
        running = ImportJob.objects.filter(
            project=project, kind=ImportJob.Kind.USER_PROFILES, state=ImportJob.State.RUNNING, dry_run=False
        ).exclude(pk=job.pk)
        if running.exists():
            unused = created.none()
        else:
            in_use = [key.pk for key in created if AppUser.objects.filter(project=project, profile__has_key=key.name).exists()]
            unused = created.exclude(pk__in=in_use)
    undo.definitions_removed += unused.delete()[1].get(unused.model._meta.label, 0)
    undo.steps_done += 1


def _finish(undo_id: int) -> None:
    """Render the report of kept values, then mark the undo done and write the audit record."""
    undo = ImportUndo.objects.select_related("job__project").get(pk=undo_id)
    if undo.state != ImportUndo.State.RUNNING or undo.phase != Phase.DONE:
        return
    key = _report_render(undo) if undo.kept_values.exists() else ""
    with transaction.atomic():
        locked = ImportUndo.objects.select_for_update().get(pk=undo_id)
        if locked.state != ImportUndo.State.RUNNING:
            return
        locked.report_key = key
        locked.values_kept = locked.kept_values.count()
        locked.state = ImportUndo.State.SUCCEEDED
        locked.finished_at = timezone.now()
        locked.save(update_fields=["report_key", "values_kept", "state", "finished_at"])
        _audit(locked, AuditRecord.Action.UNDO_FINISHED, locked.requested_by, locked.started_by, undo_counts(locked))


def _fail(undo_id: int) -> None:
    with transaction.atomic():
        undo = ImportUndo.objects.select_for_update().get(pk=undo_id)
        if undo.is_final:
            return
        undo.state = ImportUndo.State.FAILED
        undo.failure_message = MESSAGE_INTERNAL_ERROR
        undo.finished_at = timezone.now()
        undo.save(update_fields=["state", "failure_message", "finished_at"])
        _audit(undo, AuditRecord.Action.UNDO_FAILED, undo.requested_by, undo.started_by, undo_counts(undo))


def undo_counts(undo: ImportUndo) -> dict[str, int]:
    return {
        "events_removed": undo.events_removed,
        "users_removed": undo.users_removed,
        "definitions_removed": undo.definitions_removed,
        "values_restored": undo.values_restored,
        "values_kept": undo.values_kept,
    }


def _audit(undo: ImportUndo, action: str, actor, started_by: str, details: dict) -> None:
    AuditRecord.objects.create(
        project_id=undo.job.project_id,
        actor=actor,
        actor_label=actor.get_username() if actor else started_by,
        action=action,
        job_id=undo.job_id,
        details={"undo": undo.pk, **details},
    )


def _report_render(undo: ImportUndo) -> str:
    """The kept values as CSV, in the order they were met (newest chunk first)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(REPORT_HEADER)
    for kept in undo.kept_values.order_by("id").iterator():
        writer.writerow([kept.user_id, kept.key, _cell(kept.value), _cell(kept.set_by_job), _cell(kept.value_before),
                         REPORT_REASON.format(job=kept.set_by_job)])
    key = f"undo-reports/{undo.job.project.app_id}/{undo.job_id}/undo-report.csv"
    if default_storage.exists(key):
        default_storage.delete(key)
    return default_storage.save(key, ContentFile(out.getvalue().encode()))


def _cell(value) -> str:
    return "" if value is None else str(value)


# --- Watchdog, email, purge ------------------------------------------------------------------


def resume_stalled() -> int:
    """Queue again every unfinished undo without progress for IMPORT_STALL_SECONDS (rerunning is safe)."""
    cutoff = timezone.now() - timedelta(seconds=settings.IMPORT_STALL_SECONDS)
    with transaction.atomic():
        stalled = list(
            ImportUndo.objects.select_for_update(skip_locked=True).filter(
                state__in=[ImportUndo.State.QUEUED, ImportUndo.State.RUNNING], heartbeat_at__lt=cutoff
            )
        )
        ImportUndo.objects.filter(pk__in=[undo.pk for undo in stalled]).update(heartbeat_at=timezone.now())
        for undo in stalled:
            import_undo_enqueue(undo=undo)
    if stalled:
        logger.warning("watchdog: queued again %d stalled undo(s)", len(stalled))
    return len(stalled)


def undo_finished_notify(*, undo: ImportUndo) -> int:
    """Email the undo's outcome to the members with notifications on, once (marked first, as imports do)."""
    with transaction.atomic():
        locked = ImportUndo.objects.select_for_update().get(pk=undo.pk)
        if locked.notified_at is not None or not locked.is_final:
            return 0
        locked.notified_at = timezone.now()  # marked first: a crash then loses an email, never repeats one
        locked.save(update_fields=["notified_at"])
    job, project = locked.job, locked.job.project
    if locked.state == ImportUndo.State.SUCCEEDED:
        webhooks.webhook_event_enqueue(job=job, event=WebhookEvent.UNDO_FINISHED)
    context = {"undo": locked, "job": job,
               "job_url": settings.SITE_URL + reverse("dashboard:job_detail", args=[project.app_id, job.pk])}
    if locked.report_key:
        context["report_url"] = settings.SITE_URL + reverse("dashboard:job_undo_report", args=[project.app_id, job.pk])
    return notifications.members_email(project=project, template="emails/undo_finished", context=context)


def before_images_purge(now: datetime | None = None) -> int:
    """Delete the before-images of imports whose undo window has passed; returns how many."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.IMPORT_UNDO_DAYS)
    expired = ProfileBeforeImage.objects.filter(
        Q(job__finished_at__lt=cutoff) | Q(job__finished_at__isnull=True, job__created_at__lt=cutoff)
    ).exclude(job__undo__state__in=[ImportUndo.State.QUEUED, ImportUndo.State.RUNNING])
    return expired.delete()[0]

