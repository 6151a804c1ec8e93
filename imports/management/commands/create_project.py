from django.core.management.base import BaseCommand

from imports import services


class Command(BaseCommand):
    help = "Create a project owned by OWNER_EMAIL (created if missing) and print its app ID."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("owner_email")

    def handle(self, *args, name, owner_email, **options):
        owner = services.user_get_or_create(email=owner_email)
        project = services.project_create(name=name, owner=owner)
        self.stdout.write(project.app_id)
