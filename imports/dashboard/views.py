"""Browser pages. Every page of a project resolves the member's membership first (404 otherwise)."""

import logging
from functools import wraps

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from imports import credentials as credentials_services
from imports import s3, selectors, services
from imports.dashboard.forms import NotificationsForm

logger = logging.getLogger(__name__)


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


def project_render(request, template, context=None, **kwargs):
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


# Every page of credentials is never_cache (Cache-Control: no-store): a new token or secret is shown
# only in the answer to the POST that made it, which no cache or back button may keep.
@never_cache
@member_view
def credentials(request, project):
    return _credentials_page(request, project)


def _credentials_page(request, project, new_token=None, new_s3_key=None):
    context = {
        "api_token": getattr(project, "api_token", None),
        "new_token": new_token,
        "s3_configured": s3.is_configured(),
        "s3_path": f"s3://{settings.IMPORT_BUCKET_NAME}/{project.app_id}/",
        "s3_access_keys": selectors.s3_access_key_list_active(project=project),
        "new_s3_key": new_s3_key,
    }
    return project_render(request, "dashboard/credentials.html", context)


@never_cache
@require_POST
@member_view
def api_token_reissue(request, project):
    """Answers the POST with the page itself: the token must not pass through the session (stored)."""
    had_token = selectors.api_token_exists(project=project)
    token = services.api_token_reissue(project=project, by=request.user)
    if had_token:
        messages.success(request, _("A new API token was issued. The previous token no longer works."))
    else:
        messages.success(request, _("The project's API token was issued."))
    return _credentials_page(request, project, new_token=token)


@never_cache
@require_POST
@member_view
def s3_access_key_issue(request, project):
    """Answers the POST with the page itself: the secret must not pass through the session (stored)."""
    if not s3.is_configured():
        raise Http404("Amazon S3 is not configured on this server.")
    try:
        key, secret = credentials_services.s3_access_key_issue(project=project, by=request.user)
    except (BotoCoreError, ClientError):
        logger.exception("issuing an S3 access key for %s failed", project.app_id)
        messages.error(request, _("The Amazon S3 access key could not be issued. Please try again later."))
        return redirect("dashboard:credentials", app_id=project.app_id)
    return _credentials_page(request, project, new_s3_key={"access_key_id": key.access_key_id, "secret": secret})


@require_POST
@member_view
def s3_access_key_revoke(request, project, access_key_id):
    key = selectors.s3_access_key_get_active(project=project, access_key_id=access_key_id)
    try:
        credentials_services.s3_access_key_revoke(key=key)
    except (BotoCoreError, ClientError):
        logger.exception("revoking S3 access key %s failed", access_key_id)
        messages.error(request, _("The Amazon S3 access key could not be revoked. Please try again later."))
    else:
        message = _("The Amazon S3 access key %(key)s was revoked. It no longer works.") % {"key": access_key_id}
        messages.success(request, message)
    return redirect("dashboard:credentials", app_id=project.app_id)


@member_view
def notifications(request, project):
    membership = request.membership
    form = NotificationsForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        enabled = form.cleaned_data["email_notifications"]
        services.membership_set_notifications(membership=membership, enabled=enabled)
        language = form.cleaned_data["language"] or membership.language
        services.membership_set_language(membership=membership, language=language)
        if enabled:
            messages.success(request, _("Saved. You will receive an email when an import of this project finishes."))
        else:
            messages.success(request, _("Saved. You will no longer receive import emails for this project."))
        return redirect("dashboard:notifications", app_id=project.app_id)
    return project_render(request, "dashboard/notifications.html", {"membership": membership, "form": form})
