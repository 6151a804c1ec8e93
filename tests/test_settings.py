"""Settings parse the environment with safe defaults and name the variable when a value is bad."""

import os
import secrets
import shlex
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from django.conf import settings
from moto.server import ThreadedMotoServer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_settings(**env):
    """Import the settings module in a fresh interpreter with exactly these variables."""
    code = (
        "import json, repro_dashboard.settings as s;"
        "print(json.dumps({'db': s.DATABASES['default']['ENGINE'], 'storage': s.STORAGES['default']['BACKEND'],"
        "'email': s.EMAIL_BACKEND, 'q': sorted(k for k in ('orm', 'redis') if k in s.Q_CLUSTER),"
        "'cache': s.CACHES['default']['BACKEND'], 'hosts': s.ALLOWED_HOSTS, 'debug': s.DEBUG}))"
    )
    clean = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True)


def test_embedded_defaults():
    result = load_settings(DEBUG="1")
    assert result.returncode == 0, result.stderr
    assert '"db": "django.db.backends.sqlite3"' in result.stdout
    assert '"storage": "django.core.files.storage.FileSystemStorage"' in result.stdout
    assert '"email": "django.core.mail.backends.console.EmailBackend"' in result.stdout
    assert '"q": ["orm"]' in result.stdout


def test_production_values_switch_backends():
    result = load_settings(
        SECRET_KEY="s" * 50,
        DATABASE_URL="postgres://u:p@db.example:5432/repro",
        IMPORT_BUCKET="imports",
        EMAIL_URL="smtp+tls://user:pass@mail.example:587",
        REDIS_URL="redis://127.0.0.1:6379/0",
        ALLOWED_HOSTS="repro.example,api.repro.example",
    )
    assert result.returncode == 0, result.stderr
    assert '"db": "django.db.backends.postgresql"' in result.stdout
    assert '"storage": "storages.backends.s3.S3Storage"' in result.stdout
    assert '"email": "django.core.mail.backends.smtp.EmailBackend"' in result.stdout
    assert '"q": ["redis"]' in result.stdout
    assert '"cache": "django.core.cache.backends.redis.RedisCache"' in result.stdout
    assert '"hosts": ["repro.example", "api.repro.example"]' in result.stdout
    assert '"debug": false' in result.stdout


@pytest.mark.parametrize(
    "env, variable",
    [
        ({"DEBUG": "maybe"}, "DEBUG"),
        ({"DEBUG": "1", "DATABASE_URL": "nosuchdb://x"}, "DATABASE_URL"),
        ({"DEBUG": "1", "EMAIL_URL": "pigeon://x"}, "EMAIL_URL"),
        ({"DEBUG": "1", "IMPORT_CHUNK_ROWS": "lots"}, "IMPORT_CHUNK_ROWS"),
        ({"DEBUG": "1", "IMPORT_CHUNK_ROWS": "0"}, "IMPORT_CHUNK_ROWS"),
        ({"DEBUG": "1", "SECURE_PROXY_SSL_HEADER": "https"}, "SECURE_PROXY_SSL_HEADER"),
        ({"DEBUG": "1", "SECURE_HSTS_SECONDS": "-1"}, "SECURE_HSTS_SECONDS"),
        ({"DEBUG": "1", "LOGIN_FAILURE_LIMIT": "0"}, "LOGIN_FAILURE_LIMIT"),
        ({"DEBUG": "1", "IMPORT_UNDO_DAYS": "a month"}, "IMPORT_UNDO_DAYS"),
        ({}, "SECRET_KEY"),
    ],
)
def test_bad_value_names_the_variable(env, variable):
    result = load_settings(**env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert variable in result.stderr


def test_django_q_retry_exceeds_timeout():
    assert settings.Q_CLUSTER["retry"] > settings.Q_CLUSTER["timeout"]


def test_filemail_url_keeps_its_absolute_folder(tmp_path):
    code = "import repro_dashboard.settings as s; print(s.EMAIL_BACKEND, s.EMAIL_FILE_PATH)"
    clean = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                            env={**clean, "DEBUG": "1", "EMAIL_URL": f"filemail://{tmp_path}/mail"})
    assert result.stdout.split() == ["django.core.mail.backends.filebased.EmailBackend", f"{tmp_path}/mail"]


def documented_production_environment() -> dict[str, str]:
    """The variables of docs/operations.md's "Production settings" block, with a real SECRET_KEY."""
    text = (Path(ROOT) / "docs" / "operations.md").read_text()
    block = text.split("<!-- production-environment")[1].split("```sh\n")[1].split("```")[0]
    variables = dict(word.split("=", 1) for line in block.splitlines() for word in shlex.split(line, comments=True))
    assert {"DEBUG", "SECRET_KEY", "SECURE_PROXY_SSL_HEADER"} <= set(variables)
    return {**variables, "SECRET_KEY": secrets.token_urlsafe(50)}


def only(**env) -> dict[str, str]:
    """A subprocess's environment: these variables and nothing of the test run's own."""
    return {**{k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}, **env}


@pytest.fixture(scope="module")
def documented_bucket():
    """The documented IMPORT_BUCKET, existing on an S3 server on 127.0.0.1: the deploy check also
    checks the bucket (imports.checks), and must never reach out to AWS. The AWS_* variables."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        env = {"AWS_S3_ENDPOINT_URL": f"http://127.0.0.1:{server.get_host_and_port()[1]}", "AWS_ACCESS_KEY_ID": "key",
               "AWS_SECRET_ACCESS_KEY": "secret", "AWS_S3_REGION_NAME": "us-east-1"}
        bucket = documented_production_environment()["IMPORT_BUCKET"]
        boto3.client("s3", endpoint_url=env["AWS_S3_ENDPOINT_URL"], region_name="us-east-1", aws_access_key_id="key",
                     aws_secret_access_key="secret").create_bucket(Bucket=bucket)
        yield env
    finally:
        server.stop()


def deploy_check(**env):
    command = [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"]
    return subprocess.run(command, cwd=ROOT, env=only(**env), capture_output=True, text=True)


def test_deploy_check_is_clean_with_the_documented_production_settings(documented_bucket):
    result = deploy_check(**documented_production_environment(), **documented_bucket)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize(
    "override, warning",
    [
        ({"SECURE_SSL_REDIRECT": "0"}, "security.W008"),
        ({"SESSION_COOKIE_SECURE": "0"}, "security.W012"),
        ({"SECURE_HSTS_SECONDS": "0"}, "security.W004"),
        ({"SECURE_HSTS_INCLUDE_SUBDOMAINS": "0"}, "security.W005"),
    ],
)
def test_deploy_check_warns_when_a_safeguard_is_turned_off(override, warning, documented_bucket):
    result = deploy_check(**{**documented_production_environment(), **documented_bucket, **override})
    assert result.returncode != 0
    assert warning in result.stderr


def https_settings(**env):
    code = (
        "import json, repro_dashboard.settings as s; print(json.dumps([s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE,"
        " s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS, s.SECURE_PROXY_SSL_HEADER]))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=only(**env), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_https_is_on_by_default_when_debug_is_off_and_off_in_debug():
    assert https_settings(SECRET_KEY="s" * 50) == "[true, true, true, 31536000, null]"
    assert https_settings(DEBUG="1") == "[false, false, false, 0, null]"
    plain_http = https_settings(SECRET_KEY="s" * 50, SECURE_SSL_REDIRECT="0", SESSION_COOKIE_SECURE="0",
                                SECURE_HSTS_SECONDS="300", SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto: https")
    assert plain_http == '[false, false, false, 300, ["HTTP_X_FORWARDED_PROTO", "https"]]'


def test_proxy_ssl_header_marks_requests_secure(client, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/login/").status_code == 301  # plain HTTP: redirected to https://
    assert client.get("/login/", HTTP_X_FORWARDED_PROTO="https").status_code == 200
