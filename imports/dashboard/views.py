"""Browser pages. Every page of a project resolves the member's membership first (404 otherwise)."""

from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from imports import selectors, services
from imports.models import ImportJob


def member_view(view):
    """Log-in required; resolves ``app_id`` to the user's membership or 404."""

    @login_required
    @wraps(view)
    def wrapper(request, app_id, **kwargs):
        membership = selectors.membership_get_for_user(user=request.user, app_id=app_id)
        request.membership = membership
        request.project = membership.project
        return view(request, membership.project, **kwargs)

    return wrapper


def _render(request, template, context=None, **kwargs):
    return render(request, template, {"project": request.project, **(context or {})}, **kwargs)


@login_required
def home(request):
    project = selectors.project_list_for_user(user=request.user).first()
    if project is None:
        return render(request, "dashboard/no_project.html")
    return redirect("dashboard:events_import", app_id=project.app_id)


@member_view
def project_home(request, project):
    return redirect("dashboard:events_import", app_id=project.app_id)


def _import_page(request, project, kind, template, s3_folder):
    jobs = Paginator(selectors.import_job_list(project=project, kind=kind), 20).get_page(request.GET.get("page"))
    context = {
        "jobs": jobs,
        "s3_path": f"s3://{settings.IMPORT_BUCKET_NAME}/{project.app_id}/{s3_folder}/",
        "s3_access_key": project.s3_access_keys.filter(revoked_at__isnull=True).first(),
    }
    return _render(request, template, context)


@member_view
def events_import(request, project):
    return _import_page(request, project, ImportJob.Kind.EVENTS, "dashboard/events_import.html", "event_bulk_tracking")


@member_view
def profiles_import(request, project):
    return _import_page(
        request, project, ImportJob.Kind.USER_PROFILES, "dashboard/profiles_import.html", "user_profile_bulk_import"
    )


@member_view
def event_settings(request, project):
    definitions = project.event_definitions.select_related("created_by_job")
    enabled = definitions.filter(enabled=True).count()
    return _render(request, "dashboard/event_settings.html", {"definitions": definitions, "enabled_count": enabled})


@member_view
def job_detail(request, project, job_id):
    job = selectors.import_job_get(project=project, job_id=job_id)
    return _render(request, "dashboard/job_detail.html", {"job": job})


@member_view
def job_error_csv(request, project, job_id):
    job = selectors.import_job_get(project=project, job_id=job_id)
    if not job.error_csv_key:
        raise Http404("This job has no error CSV.")
    download_name = f"errors-{job.pk}-{job.file_name.rsplit('.', 1)[0]}.csv"
    return FileResponse(
        default_storage.open(job.error_csv_key, "rb"),
        as_attachment=True,
        filename=download_name,
        content_type="text/csv",
    )


@member_view
def credentials(request, project):
    context = {
        "api_token": getattr(project, "api_token", None),
        "new_token": request.session.pop("new_api_token", None),
        "s3_access_keys": project.s3_access_keys.filter(revoked_at__isnull=True),
    }
    return _render(request, "dashboard/credentials.html", context)


@require_POST
@member_view
def api_token_reissue(request, project):
    # The full token survives exactly one page view: the redirect target pops it from the session.
    request.session["new_api_token"] = services.api_token_reissue(project=project, by=request.user)
    messages.success(request, _("A new API token was issued. The previous token no longer works."))
    return redirect("dashboard:credentials", app_id=project.app_id)


@member_view
def notifications(request, project):
    membership = request.membership
    if request.method == "POST":
        enabled = request.POST.get("email_notifications") == "on"
        services.membership_set_notifications(membership=membership, enabled=enabled)
        if enabled:
            messages.success(request, _("You will receive an email when an import finishes."))
        else:
            messages.success(request, _("You will no longer receive import emails for this project."))
        return redirect("dashboard:notifications", app_id=project.app_id)
    return _render(request, "dashboard/notifications.html", {"membership": membership})
