from django.core.management.base import BaseCommand

from imports import services
from imports.management.helpers import project_from_app_id


class Command(BaseCommand):
    help = "Add the user with EMAIL (created if missing) to the project APP_ID."

    def add_arguments(self, parser):
        parser.add_argument("app_id")
        parser.add_argument("email")

    def handle(self, *args, app_id, email, **options):
        project = project_from_app_id(app_id)
        services.membership_add(project=project, user=services.user_get_or_create(email=email))
        self.stdout.write(f"{email} is a member of {project.name} ({app_id})")
