"""Events > Event settings and User Profiles > Profile settings: On/Off within the project's limits."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from imports import selectors, services
from imports.core.limits import MAX_NAME_CHARS
from imports.dashboard.forms import DisplayNameForm
from imports.dashboard.views import member_view, project_render

PER_PAGE = 50


@member_view
def event_settings(request, project):
    search = request.GET.get("q", "").strip()
    return _list_page(
        request,
        "dashboard/event_settings.html",
        selectors.event_definition_list(project=project, search=search),
        used=selectors.event_definition_enabled_count(project=project),
        limit=project.max_enabled_events,
        usage_label=_("events turned On"),
        update_url_name="dashboard:event_definition_update",
        search=search,
        max_name_chars=MAX_NAME_CHARS,
    )


@require_POST
@member_view
def event_definition_update(request, project, definition_id):
    definition = selectors.event_definition_get(project=project, definition_id=definition_id)
    if "enabled" in request.POST:
        off = _("“%(name)s” is Off. Rows with this event will fail until it is turned On again.")
        _switch(request, services.event_definition_set_enabled, definition=definition, name=definition.name, off=off)
    else:
        form = DisplayNameForm(request.POST)
        if form.is_valid():
            definition = services.event_definition_rename(
                definition=definition, display_name=form.cleaned_data["display_name"]
            )
            messages.success(
                request,
                _("“%(name)s” is now shown as “%(display)s”.")
                % {"name": definition.name, "display": definition.display_name},
            )
        else:
            messages.error(request, _("A display name can be at most %(limit)s characters.") % {"limit": MAX_NAME_CHARS})
    return _back(request, "dashboard:event_settings", project)


@member_view
def profile_settings(request, project):
    return _list_page(
        request,
        "dashboard/profile_settings.html",
        selectors.profile_key_list(project=project),
        used=selectors.profile_key_enabled_count(project=project),
        limit=project.max_enabled_profile_keys,
        usage_label=_("profile keys turned On"),
        update_url_name="dashboard:profile_key_update",
    )


@require_POST
@member_view
def profile_key_update(request, project, key_id):
    key = selectors.profile_key_get(project=project, key_id=key_id)
    _switch(request, services.profile_key_set_enabled, key=key, name=key.name, off=_("“%(name)s” is Off."))
    return _back(request, "dashboard:profile_settings", project)


def _list_page(request, template, items, **context):
    """A settings list, a page at a time, with how many are On (``used``) against the ``limit``."""
    page = Paginator(items, PER_PAGE).get_page(request.GET.get("page"))
    return project_render(request, template, {"items": page, **context})


def _switch(request, service, *, name, off, **item):
    enabled = request.POST["enabled"] == "on"
    try:
        service(**item, enabled=enabled)
    except services.EnabledLimitReached as exc:
        messages.error(
            request,
            _(
                "“%(name)s” stays Off: %(limit)s of %(limit)s are already On, the most this project allows. "
                "Turn another one Off first, or ask an operator to raise the limit."
            )
            % {"name": name, "limit": f"{exc.limit:,}"},
        )
        return
    if enabled:
        messages.success(request, _("“%(name)s” is On.") % {"name": name})
    else:
        messages.success(request, off % {"name": name})


def _back(request, url_name, project):
    """To the list page the form was on (its page number and search are posted along)."""
    query = {k: request.POST[k] for k in ("page", "q") if request.POST.get(k)}
    url = reverse(url_name, args=[project.app_id])
    return redirect(f"{url}?{urlencode(query)}" if query else url)
