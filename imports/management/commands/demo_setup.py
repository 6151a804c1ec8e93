from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from imports import services
from imports.models import Project

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo-password"
DEMO_PROJECT = "Demo project"


class Command(BaseCommand):
    help = "Create (once) a demo login and project for the embedded mode, and say how to log in."

    def handle(self, *args, **options):
        User = get_user_model()
        user = User.objects.filter(username=DEMO_USERNAME).first()
        if user is None:
            user = User.objects.create_superuser(DEMO_USERNAME, "demo@example.com", DEMO_PASSWORD)
        project = Project.objects.filter(memberships__user=user).first()
        if project is None:
            project = services.project_create(name=DEMO_PROJECT, owner=user)
        self.stdout.write(
            f"Log in as {DEMO_USERNAME} / {DEMO_PASSWORD} "
            f"(project {project.name}, app ID {project.app_id}; the same login opens /admin/)."
        )
        self.stdout.write(f"Links in emails point to {settings.SITE_URL}/ (SITE_URL).")
