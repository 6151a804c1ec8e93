"""Undo an import from its page: a confirmation that says what will change, then a background undo."""

from __future__ import annotations

from django.contrib import messages
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404
from django.shortcuts import redirect
from django.utils.translation import gettext as _

from imports import selectors
from imports import undo as undo_service
from imports.dashboard.views import member_view, project_render
from imports.models import ImportJob


@member_view
def job_undo(request, project, job_id):
    """GET: what undoing the import would change, or why it cannot be undone. POST: undo it."""
    job = selectors.import_job_get(project=project, job_id=job_id)
    if request.method == "POST":
        try:
            undo_service.import_undo_request(job=job, requested_by=request.user)
        except undo_service.UndoRefused as refused:
            messages.error(request, str(refused))
        else:
            messages.success(
                request,
                _("Undoing “%(file)s” has started. This page shows its progress; members with email "
                  "notifications on get an email when it finishes.") % {"file": job.file_name},
            )
        return redirect("dashboard:job_detail", app_id=project.app_id, job_id=job.pk)
    refusal = undo_service.undo_refusal(job)
    context = {
        "job": job,
        "refusal": refusal,
        "preview": None if refusal else undo_service.undo_preview(job=job),
        "deadline": undo_service.undo_deadline(job),
        "nav": "events_import" if job.kind == ImportJob.Kind.EVENTS else "profiles_import",
    }
    return project_render(request, "dashboard/job_undo.html", context)


@member_view
def job_undo_report(request, project, job_id):
    """The profile values the undo kept because a later import had changed them, as CSV."""
    job = selectors.import_job_get(project=project, job_id=job_id)
    undo = getattr(job, "undo", None)
    if undo is None or not undo.report_key:
        raise Http404("This import has no undo report.")
    return FileResponse(
        default_storage.open(undo.report_key, "rb"),
        as_attachment=True,
        filename=f"undo-report-{job.pk}.csv",
        content_type="text/csv",
    )
