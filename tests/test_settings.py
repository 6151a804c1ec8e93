"""Settings parse the environment with safe defaults and name the variable when a value is bad."""

import os
import subprocess
import sys

import pytest
from django.conf import settings

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
