"""`add_webhook`: the id and the secret printed once, the URL rule, the limit."""

import pytest
from django.core.management import CommandError, call_command

from imports.models import WebhookEndpoint
from imports.webhooks.signing_secrets import secret_decrypt


def test_add_webhook_prints_id_and_secret(project, capsys):
    call_command("add_webhook", project.app_id, "https://hooks.example.com/repro", "--format", "slack")
    lines = dict(line.split(" = ") for line in capsys.readouterr().out.splitlines())
    endpoint = WebhookEndpoint.objects.get(pk=lines["webhook_id"], project=project)
    assert (endpoint.url, endpoint.format, endpoint.enabled) == ("https://hooks.example.com/repro", "slack", True)
    assert lines["signing_secret"].startswith("whsec_")
    assert lines["signing_secret"] not in endpoint.secret_encrypted
    assert secret_decrypt(endpoint.secret_encrypted) == lines["signing_secret"]
    assert endpoint.events == [
        "import.succeeded", "import.succeeded_with_errors", "import.failed", "dry_run.finished", "undo.finished"
    ]


def test_add_webhook_with_chosen_events(project, capsys):
    call_command("add_webhook", project.app_id, "https://hooks.example.com/", "--events", "dry_run.finished,import.failed")
    assert WebhookEndpoint.objects.get().events == ["import.failed", "dry_run.finished"]
    with pytest.raises(CommandError, match="unknown events: import.done"):
        call_command("add_webhook", project.app_id, "https://hooks.example.com/", "--events", "import.done")


def test_add_webhook_refuses_http_and_private_addresses(project, settings):
    settings.WEBHOOKS_ALLOW_INSECURE = False
    with pytest.raises(CommandError, match="Only https:// URLs"):
        call_command("add_webhook", project.app_id, "http://hooks.example.com/")
    with pytest.raises(CommandError, match="not on the public internet"):
        call_command("add_webhook", project.app_id, "https://192.168.0.10/")
    with pytest.raises(CommandError, match="no project with app ID nope"):
        call_command("add_webhook", "nope", "https://hooks.example.com/")
    assert not WebhookEndpoint.objects.exists()


def test_a_project_has_at_most_a_few_webhooks(project, settings, capsys):
    settings.WEBHOOKS_MAX_PER_PROJECT = 2
    for n in range(2):
        call_command("add_webhook", project.app_id, f"https://hooks.example.com/{n}")
    with pytest.raises(CommandError, match="has 2 webhooks already"):
        call_command("add_webhook", project.app_id, "https://hooks.example.com/3")
