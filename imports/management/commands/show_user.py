import json

from django.core.management.base import BaseCommand, CommandError

from imports import imported_data
from imports.management.helpers import project_from_app_id


class Command(BaseCommand):
    help = "Print a user's profile values (with their types and the import that set each) and last 20 events as JSON."

    def add_arguments(self, parser):
        parser.add_argument("app_id")
        parser.add_argument("user_id")

    def handle(self, *args, app_id, user_id, **options):
        project = project_from_app_id(app_id)
        user = imported_data.app_user_get(project=project, user_id=user_id)
        if user is None:
            raise CommandError(f"no user {user_id!r} in project {app_id}")
        profile = {
            value.key: {
                "value": value.value,
                "type": value.type or None,
                "set_by_import": value.set_by.pk if value.set_by else None,
                "set_at": _iso(value.set_by.finished_at or value.set_by.created_at) if value.set_by else None,
            }
            for value in imported_data.profile_values(project=project, user=user)
        }
        events = [
            {"event": event.event.name, "properties": event.properties, "tracked_at": _iso(event.tracked_at),
             "import": event.job_id}
            for event in imported_data.tracked_event_recent(project=project, user=user)
        ]
        self.stdout.write(json.dumps(
            {"app_id": project.app_id, "user_id": user.user_id, "created_at": _iso(user.created_at),
             "profile": profile, "events": events},
            ensure_ascii=False,
        ))


def _iso(moment) -> str:
    return moment.isoformat()
