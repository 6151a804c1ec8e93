"""Pages that show the imported data: the users page, what one import wrote, the events explorer."""

from __future__ import annotations

import bisect
import json
from datetime import UTC, date, datetime, time

from django.core.cache import cache
from django.core.paginator import Paginator
from django.http import Http404
from django.utils import timezone
from django.utils.dateparse import parse_date

from imports import imported_data, selectors
from imports.dashboard.views import member_view, project_render
from imports.models import ImportJob

USERS_PER_PAGE = 50
ITEMS_PER_PAGE = 50
EXPLORER_EVENTS_PER_PAGE = 20


@member_view
def users(request, project):
    """Look a user up by exact ID, and list the users whose ID starts with what was typed."""
    query = request.GET.get("q", "")
    after = request.GET.get("after", "")
    exact = imported_data.app_user_get(project=project, user_id=query) if query else None
    found = imported_data.app_user_search(project=project, prefix=query, after=after, limit=USERS_PER_PAGE + 1)
    context = {
        "query": query,
        "exact": exact,
        "found": found[:USERS_PER_PAGE],
        "next_after": found[USERS_PER_PAGE - 1].user_id if len(found) > USERS_PER_PAGE else "",
        "after": after,
    }
    return project_render(request, "dashboard/users.html", {"nav": "users", **context})


@member_view
def user_detail(request, project):
    """A user (``?user_id=``: IDs may hold any character): profile values by key and recent events."""
    user = imported_data.app_user_get(project=project, user_id=request.GET.get("user_id", ""))
    if user is None:
        raise Http404("No such user in this project.")
    context = {
        "app_user": user,
        "values": imported_data.profile_values(project=project, user=user),
        "events": _with_properties_text(imported_data.tracked_event_recent(project=project, user=user)),
        "nav": "users",
    }
    return project_render(request, "dashboard/user_detail.html", context)


@member_view
def job_data(request, project, job_id):
    """What one import wrote: the users it touched and (events) its events, a page at a time."""
    job = selectors.import_job_get(project=project, job_id=job_id)
    show = "events" if job.kind == ImportJob.Kind.EVENTS and request.GET.get("show") == "events" else "users"
    context = {"job": job, "show": show, "nav": _import_nav(job)}
    if show == "events":
        events, cursor = imported_data.import_job_events(job=job, after=_event_cursor(request), limit=ITEMS_PER_PAGE)
        context.update(events=_with_properties_text(events), next_after=",".join(map(str, cursor)) if cursor else "")
    else:
        user_ids = _touched_user_ids(job)
        start = bisect.bisect_right(user_ids, request.GET.get("after", ""))
        page = user_ids[start : start + ITEMS_PER_PAGE]
        more = start + ITEMS_PER_PAGE < len(user_ids)
        context.update(
            touched_users=imported_data.app_users_by_id(project=project, user_ids=page),
            next_after=page[-1] if more else "",
        )
    context["first_page"] = not request.GET.get("after")
    if job.kind == ImportJob.Kind.EVENTS:
        context["event_count"] = imported_data.import_job_event_count(job=job)
    return project_render(request, "dashboard/job_data.html", context)


def _touched_user_ids(job: ImportJob) -> list[str]:
    """Read once per finished import and state of its undo, then cached an hour: for an events
    import it takes reading all its rows (docs/performance.md), and paging must not repeat that."""
    undo = getattr(job, "undo", None)
    if not job.is_final or (undo is not None and not undo.is_final):
        return imported_data.import_job_user_ids(job=job)
    key = f"dashboard:touched-users:{job.pk}:{job.finished_at.timestamp()}:{undo.state if undo else ''}"
    user_ids = cache.get(key)
    if user_ids is None:
        user_ids = imported_data.import_job_user_ids(job=job)
        cache.set(key, user_ids, 3600)
    return user_ids


def _event_cursor(request) -> tuple[int, int] | None:
    try:
        first_number, event_pk = (int(part) for part in request.GET.get("after", "").split(","))
    except ValueError:
        return None
    return first_number, event_pk


def _import_nav(job: ImportJob) -> str:
    return "events_import" if job.kind == ImportJob.Kind.EVENTS else "profiles_import"


def _with_properties_text(events):
    for event in events:
        event.properties_text = json.dumps(event.properties, ensure_ascii=False, sort_keys=True)
    return events


@member_view
def explorer(request, project):
    """Every event (On and Off) a page at a time, each with its daily counts over the range."""
    start, end = _range(request)
    search = request.GET.get("q", "").strip()
    page = Paginator(
        imported_data.event_definitions_page(project=project, search=search), EXPLORER_EVENTS_PER_PAGE
    ).get_page(request.GET.get("page"))
    series = imported_data.event_series(project=project, definitions=list(page), start=start, end=end)
    context = {
        "items": page,
        "series": [(one, _chart_data(one)) for one in series],
        "start": start,
        "end": end,
        "search": search,
        "TIME_ZONE_NAME": timezone.get_current_timezone_name(),
        "range_query": f"from={start.isoformat()}&to={end.isoformat()}",
        "nav": "explorer",
    }
    return project_render(request, "dashboard/explorer.html", context)


@member_view
def explorer_event(request, project, definition_id):
    """One event: its chart, the imports that tracked it, and a sample of its recent occurrences."""
    definition = selectors.event_definition_get(project=project, definition_id=definition_id)
    start, end = _range(request)
    (one,) = imported_data.event_series(project=project, definitions=[definition], start=start, end=end)
    context = {
        "one": one,
        "chart": _chart_data(one),
        "sample": _with_properties_text(imported_data.tracked_event_sample(project=project, definition=definition)),
        "start": start,
        "end": end,
        "search": None,
        "TIME_ZONE_NAME": timezone.get_current_timezone_name(),
        "range_query": f"from={start.isoformat()}&to={end.isoformat()}",
        "nav": "explorer",
    }
    return project_render(request, "dashboard/explorer_event.html", context)


def _range(request) -> tuple[date, date]:
    def day(name):
        try:
            return parse_date(request.GET.get(name, ""))
        except ValueError:
            return None

    return imported_data.explorer_range(day("from"), day("to"))


def _chart_data(one: imported_data.EventSeries) -> dict:
    """What the chart script draws: days as Unix seconds (noon UTC, so no zone moves a bar) and counts."""
    return {
        "id": f"chart-{one.definition.pk}",
        "data": {
            "days": [int(datetime.combine(day, time(12), tzinfo=UTC).timestamp()) for day in one.days],
            "counts": one.counts,
            "label": one.definition.display_name,
        },
    }

