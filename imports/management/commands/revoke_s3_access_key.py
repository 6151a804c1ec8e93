from django.core.management.base import BaseCommand, CommandError

from imports import selectors
from imports.credentials import s3_access_key_revoke


class Command(BaseCommand):
    help = "Revoke an Amazon S3 access key: it is deleted at the provider and stops working at once."

    def add_arguments(self, parser):
        parser.add_argument("access_key_id")

    def handle(self, *args, access_key_id, **options):
        key = selectors.s3_access_key_get(access_key_id=access_key_id)
        if key is None:
            raise CommandError(f"no S3 access key {access_key_id}")
        if key.revoked_at is not None:
            raise CommandError(f"S3 access key {access_key_id} was already revoked on {key.revoked_at:%Y-%m-%d %H:%M %Z}")
        s3_access_key_revoke(key=key)
        self.stdout.write(f"revoked {access_key_id} of project {key.project.app_id}")
