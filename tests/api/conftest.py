"""The API over real HTTP: pytest-django's live_server, requests made with urllib, and (for v3)
the session's moto server from tests/s3."""

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import Message

import pytest

from imports import services
from imports.api import ratelimit
from imports.models import AppUser
from tests.s3.conftest import moto_url, s3_bucket  # noqa: F401  (fixtures reused, not copied)

# Middle of a rate-limit window, so no test ever straddles two windows.
NOW = 1_800_000_300.0
WINDOW_END = 1_800_000_600


@dataclass
class Reply:
    status: int
    headers: Message
    body: bytes

    def json(self):
        return json.loads(self.body)


def http(url: str, method: str = "POST", body: bytes | None = b"", headers: dict | None = None) -> Reply:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return Reply(response.status, response.headers, response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return Reply(exc.code, exc.headers, exc.read())


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    # Every test makes a project owner with a password; the default hasher costs ~0.3 s each.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def stopped_clock(monkeypatch):
    monkeypatch.setattr(ratelimit, "clock", lambda: NOW)


@pytest.fixture
def token(project):
    return services.api_token_reissue(project=project)


@pytest.fixture
def api(live_server, token):
    """POST (or another method) to a path of the running server, with the project's token by default."""

    def call(path, body=b"", *, content_type=None, token=token, method="POST", headers=None):
        sent = dict(headers or {})
        if token is not None:
            sent["X-Repro-Token"] = token
        if content_type is not None:
            sent["Content-Type"] = content_type
        return http(live_server.url + path, method, body, sent)

    return call


@pytest.fixture
def registered(project):
    """Users u1 and u2 exist (a profile import never creates users)."""
    return [AppUser.objects.create(project=project, user_id=uid) for uid in ("u1", "u2")]


def profile_of(project, user_id):
    return AppUser.objects.get(project=project, user_id=user_id).profile
