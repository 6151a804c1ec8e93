"""The template CSV of each kind: shown as the example on its Data Import page and downloadable
from there, so both always agree."""

from __future__ import annotations

from django.http import HttpResponse

from imports.dashboard.views import member_view
from imports.models import ImportJob

TEMPLATES = {
    ImportJob.Kind.EVENTS: (
        "events-template.csv",
        'user_id,event_name,event_properties\nuser-001,purchase,"{""item"":""shoes"",""price"":""120""}"\n'
        "user-002,signup,\n",
    ),
    ImportJob.Kind.USER_PROFILES: (
        "user-profiles-template.csv",
        "user_id,plan,points,birthday\nuser-001,gold,120,1990-04-01T00:00:00+09:00\nuser-002,silver,,\n",
    ),
}


def template_text(kind: str) -> str:
    return TEMPLATES[kind][1]


@member_view
def template_download(request, project, kind):
    name, text = TEMPLATES[kind]
    return HttpResponse(
        text.encode(), content_type="text/csv; charset=utf-8", headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )
