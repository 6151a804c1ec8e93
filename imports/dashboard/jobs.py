"""Data Import pages: upload, import history with live progress, job detail and its reports."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_POST

from imports import jobs, s3, s3_discovery, selectors, undo
from imports.core.limits import MAX_ROWS
from imports.dashboard.file_templates import template_text
from imports.dashboard.forms import ImportUploadForm, size_text, too_large_message
from imports.dashboard.progress import job_progress
from imports.dashboard.reasons import reason_display, sample_values
from imports.dashboard.upload_checks import upload_kind_problem
from imports.dashboard.uploads import MULTIPART_OVERHEAD_BYTES, UploadLimitHandler
from imports.http import content_length
from imports.dashboard.views import member_view, project_render
from imports.models import ImportJob

JOBS_PER_PAGE = 20
LIVE_JOBS_MAX = 50
REASON_GROUPS_SHOWN = 20
NEW_ITEMS_SHOWN = 100
TEMPLATE_URLS = {ImportJob.Kind.EVENTS: "dashboard:events_template", ImportJob.Kind.USER_PROFILES: "dashboard:profiles_template"}
TEMPLATES = {
    ImportJob.Kind.EVENTS: "dashboard/events_import.html",
    ImportJob.Kind.USER_PROFILES: "dashboard/profiles_import.html",
}


# The upload handlers must be in place before anything reads the body, and the CSRF check reads
# it: so CSRF is exempted here and enforced by csrf_protect once the limit handler is installed.
@csrf_exempt
@member_view
def events_import(request, project):
    return _import_page(request, project, ImportJob.Kind.EVENTS)


@csrf_exempt
@member_view
def profiles_import(request, project):
    return _import_page(request, project, ImportJob.Kind.USER_PROFILES)


def _import_page(request, project, kind):
    if request.method != "POST":
        return _import_page_render(request, project, kind, ImportUploadForm())
    size = content_length(request)
    if size > settings.DASHBOARD_UPLOAD_MAX_BYTES + MULTIPART_OVERHEAD_BYTES:
        # Answered before the body is read: nothing of the file is stored.
        return _upload_refused(request, project, kind, [too_large_message(size)])
    limit = UploadLimitHandler(request, settings.DASHBOARD_UPLOAD_MAX_BYTES)
    request.upload_handlers.insert(0, limit)
    return _upload(request, project, kind, limit)


@csrf_protect
def _upload(request, project, kind, limit: UploadLimitHandler):
    form = ImportUploadForm(request.POST, request.FILES)
    if limit.too_large:
        return _upload_refused(request, project, kind, [too_large_message(content_length(request))])
    if not form.is_valid():
        return _upload_refused(request, project, kind, [e for errors in form.errors.values() for e in errors], form)
    upload = form.cleaned_data["file"]
    if problem := upload_kind_problem(upload, kind=kind, file_name=upload.name):
        return _upload_refused(request, project, kind, [problem], form)
    dry_run = form.cleaned_data["validate_only"]
    job = jobs.import_job_create(
        project=project,
        kind=kind,
        source=ImportJob.Source.DASHBOARD,
        file_name=upload.name,
        content=upload,
        created_by=request.user,
        dry_run=dry_run,
    )
    if dry_run:
        notice = _("“%(file)s” was uploaded and is being checked. Nothing is imported until you confirm.")
    else:
        notice = _(
            "“%(file)s” was uploaded and processing has started. This page shows its progress; "
            "members with email notifications on get an email when it finishes."
        )
    messages.success(request, notice % {"file": job.display_file_name})
    url = reverse("dashboard:job_detail", args=[project.app_id, job.pk])
    if _wants_json(request):
        return JsonResponse({"redirect": url})
    return redirect(url)


def _upload_refused(request, project, kind, errors, form=None):
    status = 413 if form is None else 400
    if _wants_json(request):
        return JsonResponse({"errors": [str(error) for error in errors]}, status=status)
    return _import_page_render(request, project, kind, ImportUploadForm(), status=status, upload_errors=errors)


def _wants_json(request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _import_page_render(request, project, kind, form, status=200, upload_errors=()):
    page = Paginator(selectors.import_job_list(project=project, kind=kind), JOBS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    for job in page:
        job.progress = job_progress(job)
    context = {
        "kind": kind,
        "form": form,
        "upload_errors": upload_errors,
        "max_upload_bytes": settings.DASHBOARD_UPLOAD_MAX_BYTES,
        "max_upload_text": size_text(settings.DASHBOARD_UPLOAD_MAX_BYTES),
        "max_rows": f"{MAX_ROWS:,}",
        "too_large_template": too_large_message("{size}"),
        "jobs": page,
        "template_csv": template_text(kind).rstrip("\n"),
        "template_url": reverse(TEMPLATE_URLS[kind], args=[project.app_id]),
        "s3_configured": s3.is_configured(),
        "s3_path": f"s3://{settings.IMPORT_BUCKET_NAME}/{s3_discovery.s3_prefix(project=project, kind=kind)}",
        "s3_access_key": selectors.s3_access_key_active(project=project),
    }
    return project_render(request, TEMPLATES[kind], context, status=status)


@require_GET
@member_view
def jobs_live(request, project):
    """The current rendering of the given jobs, for pages that poll while jobs are queued or running."""
    try:
        ids = [int(value) for value in request.GET.get("ids", "").split(",") if value][:LIVE_JOBS_MAX]
    except ValueError:
        ids = []
    template = "dashboard/_job_row.html" if request.GET.get("part") == "row" else "dashboard/_job_progress.html"
    payload = []
    for job in selectors.import_job_list_by_ids(project=project, job_ids=ids):
        job.progress = job_progress(job)
        html = render_to_string(template, {"job": job, "project": project}, request=request)
        payload.append({"id": job.pk, "state": job.state, "final": job.is_final, "html": html})
    return JsonResponse({"jobs": payload}, headers={"Cache-Control": "no-store"})


@member_view
def job_detail(request, project, job_id):
    job = selectors.import_job_get(project=project, job_id=job_id)
    job.progress = job_progress(job)
    context = {"job": job, "nav": _nav(job)}
    if job.failed and job.is_final:
        groups, total = _reason_groups(job)
        for group in groups:
            group.text = reason_display(group.reason)
            for sample in group.samples:
                sample.values = sample_values(sample, job.kind)
        context.update(reason_groups=groups, more_reasons=max(0, total - len(groups)))
    context.update(_definitions_report(project, job))
    if job.dry_run:
        context["imported_as"] = selectors.import_job_imported_from(job=job)
    context["undo_status"] = undo.undo_status(job)
    return project_render(request, "dashboard/job_detail.html", context)


def _nav(job) -> str:
    """The side navigation entry a job's pages belong to."""
    return "events_import" if job.kind == ImportJob.Kind.EVENTS else "profiles_import"


def _reason_groups(job):
    """Computed once per finished job: its row errors never change, and there can be a million."""
    if job.finished_at is None:
        return selectors.import_row_error_groups(job=job, limit=REASON_GROUPS_SHOWN)
    key = f"dashboard:reason-groups:{job.pk}:{job.finished_at.timestamp()}"
    groups = cache.get(key)
    if groups is None:
        groups = selectors.import_row_error_groups(job=job, limit=REASON_GROUPS_SHOWN)
        cache.set(key, groups, 3600)
    return groups


def _definitions_report(project, job) -> dict:
    """New events or profile keys of the file against the project's limits (dry run and real run)."""
    if job.kind == ImportJob.Kind.EVENTS:
        # A dry run keeps its plan on the job; a real run created the definitions themselves
        # (their On/Off is shown as it is now, since anyone may have switched them since).
        if job.dry_run:
            new_events = sorted(job.planned_events.items())
        else:
            new_events = selectors.event_definition_created_by(job=job)
        return {
            "new_events": new_events[:NEW_ITEMS_SHOWN],
            "new_events_count": len(new_events),
            "new_events_off": sum(1 for _, on in new_events if not on),
            "enabled_count": selectors.event_definition_enabled_count(project=project),
            "limit": project.max_enabled_events,
        }
    new_keys = set(job.new_profile_keys)
    return {
        "profile_keys": [(name, kind, name in new_keys) for name, kind in job.profile_types][:NEW_ITEMS_SHOWN],
        "profile_keys_count": len(job.profile_types),
        "new_keys_count": len(new_keys),
        "enabled_count": selectors.profile_key_enabled_count(project=project),
        "limit": project.max_enabled_profile_keys,
    }


@require_POST
@member_view
def job_import_dry_run(request, project, job_id):
    """Import for real the file a validate-only job checked."""
    dry_run = selectors.import_job_get(project=project, job_id=job_id)
    try:
        job, created = jobs.import_job_create_from_dry_run(job=dry_run, created_by=request.user)
    except ValueError:
        messages.error(request, _("Only a finished validation can be imported."))
        return redirect("dashboard:job_detail", app_id=project.app_id, job_id=dry_run.pk)
    if created:
        messages.success(request, _("The import of “%(file)s” has started.") % {"file": job.display_file_name})
    else:
        messages.info(request, _("This file has already been imported. Here is that import."))
    return redirect("dashboard:job_detail", app_id=project.app_id, job_id=job.pk)


@member_view
def job_error_csv(request, project, job_id):
    job = selectors.import_job_get(project=project, job_id=job_id)
    return _job_csv_download(request, job, job.error_csv_key, "errors")


@member_view
def job_remainder_csv(request, project, job_id):
    """The rows a failed job did not import, to upload as they are."""
    job = selectors.import_job_get(project=project, job_id=job_id)
    return _job_csv_download(request, job, job.remainder_csv_key, "remainder")


def _job_csv_download(request, job, key: str, what: str):
    if not key:
        raise Http404(f"This job has no {what} CSV.")
    try:
        # Local storage and django-storages' S3 both raise FileNotFoundError for a missing file.
        stored = default_storage.open(key, "rb")
    except FileNotFoundError:
        context = {"job": job, "nav": _nav(job)}
        return project_render(request, "dashboard/error_csv_missing.html", context, status=404)
    return FileResponse(
        stored,
        as_attachment=True,
        filename=f"{what}-{job.pk}-{job.display_file_name.rsplit('.', 1)[0]}.csv",
        content_type="text/csv",
    )
