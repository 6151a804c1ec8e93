from django.conf import settings
from django.core.management.base import BaseCommand

from imports import selectors, services

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo-password"
DEMO_PROJECT = "Demo project"


class Command(BaseCommand):
    help = "Create (once) a demo login and project for the embedded mode, and say how to log in."

    def handle(self, *args, **options):
        user = selectors.user_get_by_username(username=DEMO_USERNAME)
        if user is None:
            user = services.superuser_create(username=DEMO_USERNAME, email="demo@example.com", password=DEMO_PASSWORD)
        project = selectors.project_list_for_user(user=user).first()
        if project is None:
            project = services.project_create(name=DEMO_PROJECT, owner=user)
        self.stdout.write(
            f"Log in as {DEMO_USERNAME} / {DEMO_PASSWORD} "
            f"(project {project.name}, app ID {project.app_id}; the same login opens /admin/)."
        )
        self.stdout.write(f"Links in emails point to {settings.SITE_URL}/ (SITE_URL).")
