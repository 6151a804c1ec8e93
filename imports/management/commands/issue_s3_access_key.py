from django.core.management.base import BaseCommand, CommandError

from imports import s3
from imports.credentials import s3_access_key_issue
from imports.management.helpers import project_from_app_id


class Command(BaseCommand):
    help = (
        "Issue an Amazon S3 access key that may write only under APP_ID's prefix of the import bucket; "
        "prints the key ID and the secret once, as lines of an AWS credentials file."
    )

    def add_arguments(self, parser):
        parser.add_argument("app_id")

    def handle(self, *args, app_id, **options):
        project = project_from_app_id(app_id)
        try:
            key, secret = s3_access_key_issue(project=project)
        except s3.NotConfigured as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"aws_access_key_id = {key.access_key_id}\naws_secret_access_key = {secret}")
