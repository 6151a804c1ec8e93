"""Login throttling (django-axes) on the dashboard's and the admin's login: a lockout page after
LOGIN_FAILURE_LIMIT failures from one address or for one user name, until the cool-off ends."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.test import RequestFactory
from django.urls import reverse

from imports.dashboard.login_throttle import client_ip

LOCKED = "Too many failed log-in attempts. For your security, logging in is blocked for 15 minutes."


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def login(client):
    def post(username, password, address="127.0.0.2", url=None):
        return client.post(url or reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address)

    return post


def fail(login, times, username="alice", **kwargs):
    """`times` wrong passwords, each answered with the form again (under the limit)."""
    for _ in range(times):
        assert login(username, "wrong", **kwargs).status_code == 200


def test_the_fifth_failure_for_one_user_name_locks_it_out_from_any_address(login, alice):
    fail(login, 4, address="127.0.0.2")
    response = login("alice", "wrong", address="127.0.0.3")
    assert response.status_code == 429
    assert LOCKED in response.content.decode()
    response = login("alice", "pw-alice", address="127.0.0.4")
    assert response.status_code == 429
    assert "_auth_user_id" not in response.wsgi_request.session


def test_the_fifth_failure_from_one_address_locks_out_every_user_name_from_it(login, make_user):
    make_user("bob")
    for name in ("a", "b", "c", "d"):
        assert login(name, "wrong", address="127.0.0.5").status_code == 200
    assert login("e", "wrong", address="127.0.0.5").status_code == 429
    assert login("bob", "pw-bob", address="127.0.0.5").status_code == 429
    assert login("bob", "pw-bob", address="127.0.0.6").status_code == 302


def test_lockout_ends_after_the_cool_off(login, alice):
    fail(login, 4)
    assert login("alice", "wrong").status_code == 429
    AccessAttempt.objects.update(attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(minutes=15, seconds=1))
    assert login("alice", "pw-alice").status_code == 302


def test_a_failure_during_the_lockout_starts_the_cool_off_again(login, alice):
    fail(login, 4)
    assert login("alice", "wrong").status_code == 429
    AccessAttempt.objects.update(attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(minutes=14))
    assert login("alice", "wrong").status_code == 429
    AccessAttempt.objects.update(attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(minutes=14))
    assert login("alice", "pw-alice").status_code == 429


def test_a_success_under_the_limit_starts_the_count_again(login, alice):
    fail(login, 4)
    assert login("alice", "pw-alice").status_code == 302
    fail(login, 4)
    assert login("alice", "pw-alice").status_code == 302


def test_admin_login_is_throttled_too(login, make_user):
    make_user("root", is_staff=True, is_superuser=True)
    admin_login = reverse("admin:login")
    fail(login, 4, username="root", url=admin_login)
    response = login("root", "wrong", url=admin_login)
    assert response.status_code == 429
    assert LOCKED in response.content.decode()
    assert login("root", "pw-root", url=admin_login).status_code == 429


def test_lockout_page_in_japanese(client, alice):
    for _ in range(4):
        client.post(reverse("login"), {"username": "alice", "password": "wrong"})
    response = client.post(reverse("login"), {"username": "alice", "password": "wrong"}, HTTP_ACCEPT_LANGUAGE="ja")
    assert response.status_code == 429
    assert "15 分間ログインできません" in response.content.decode()


@pytest.mark.parametrize(
    "proxies, forwarded, expected",
    [
        (0, "", "127.0.0.9"),
        (0, "127.0.0.7", "127.0.0.9"),  # no proxy: the header is the client's own claim
        (1, "127.0.0.7", "127.0.0.7"),
        (1, "127.0.0.66, 127.0.0.7", "127.0.0.7"),  # what the client prepended is ignored
        (2, "127.0.0.66, 127.0.0.7, 127.0.0.8", "127.0.0.7"),
        (2, "127.0.0.7", "127.0.0.9"),  # fewer entries than proxies: not behind them after all
    ],
)
def test_client_address_behind_trusted_proxies(settings, proxies, forwarded, expected):
    settings.TRUSTED_PROXY_COUNT = proxies
    request = RequestFactory().get("/login/", REMOTE_ADDR="127.0.0.9", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected
