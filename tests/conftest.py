import pytest
from django.contrib.auth import get_user_model

from imports import services


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    """Each test stores files in its own folder."""
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def make_user(db):
    def make(username="alice", **extra):
        extra.setdefault("email", f"{username}@example.com")
        return get_user_model().objects.create_user(username=username, password="pw-" + username, **extra)

    return make


@pytest.fixture
def make_project(db, make_user):
    def make(name="Shop", owner=None):
        return services.project_create(name=name, owner=owner or make_user(name.lower() + "-owner"))

    return make


@pytest.fixture
def alice(make_user):
    return make_user("alice")


@pytest.fixture
def project(make_project, alice):
    return make_project("Shop", owner=alice)


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client
