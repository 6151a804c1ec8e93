from django.core.management.base import BaseCommand, CommandError

from imports.management.helpers import project_from_app_id
from imports.models import WebhookEndpoint
from imports.webhooks import services


class Command(BaseCommand):
    help = (
        "Add a completion webhook to a project (docs/webhooks.md); prints the endpoint's id and its "
        "signing secret, which is shown only this once."
    )

    def add_arguments(self, parser):
        parser.add_argument("app_id")
        parser.add_argument("url")
        parser.add_argument("--format", choices=WebhookEndpoint.Format.values, default=WebhookEndpoint.Format.JSON)
        parser.add_argument(
            "--events",
            help=f"comma-separated, of: {','.join(services.DEFAULT_EVENTS)} (default: all of them)",
        )

    def handle(self, *args, app_id, url, format, events, **options):
        project = project_from_app_id(app_id)
        chosen = None
        if events is not None:
            chosen = [event.strip() for event in events.split(",") if event.strip()]
            if unknown := sorted(set(chosen) - set(services.DEFAULT_EVENTS)):
                raise CommandError(f"unknown events: {', '.join(unknown)}")
        try:
            endpoint, secret = services.webhook_endpoint_create(project=project, url=url, format=format, events=chosen)
        except services.UrlRefused as exc:
            raise CommandError(f"{url}: {services.URL_REFUSAL_TEXTS[exc.code]}") from exc
        except services.EndpointLimitReached as exc:
            raise CommandError(f"the project has {exc.limit} webhooks already, the most it can have") from exc
        self.stdout.write(f"webhook_id = {endpoint.pk}\nsigning_secret = {secret}")
