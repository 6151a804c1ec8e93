from django.core.management.base import BaseCommand

from imports import services
from imports.management.helpers import project_from_app_id


class Command(BaseCommand):
    help = "Issue a new Repro API token for APP_ID and print it once; the previous token stops working."

    def add_arguments(self, parser):
        parser.add_argument("app_id")

    def handle(self, *args, app_id, **options):
        project = project_from_app_id(app_id)
        self.stdout.write(services.api_token_reissue(project=project))
