"""Settings: every value comes from the environment, with safe defaults for the embedded mode.

Embedded mode (nothing set): SQLite and uploaded files under ``var/``, django-q2 on the ORM
broker, mail written to the console. Production changes environment variables only
(SPEC section 8); a bad value raises ImproperlyConfigured naming the variable.
"""

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()


def _env(name, cast, default):
    """Read one variable; a value that does not parse names the variable in the error."""
    try:
        return env(name, cast=cast, default=default)
    except (ValueError, TypeError, ImproperlyConfigured) as exc:
        raise ImproperlyConfigured(f"{name}: invalid value ({exc})") from exc


def _env_url(name, parser, default, schemes):
    raw = env.str(name, default=default)
    if raw.split("://", 1)[0] not in schemes:
        raise ImproperlyConfigured(f"{name}: unsupported scheme in {raw!r} (one of: {', '.join(sorted(schemes))})")
    try:
        return parser(raw)
    except (ValueError, TypeError, KeyError, ImproperlyConfigured) as exc:
        raise ImproperlyConfigured(f"{name}: invalid URL {raw!r} ({exc})") from exc


def _env_int(name, default, minimum=1):
    value = _env(name, int, default)
    if value < minimum:
        raise ImproperlyConfigured(f"{name}: must be at least {minimum}, got {value}")
    return value


def _env_proxy_ssl_header(name):
    """``X-Forwarded-Proto: https``, as the proxy sends it, to Django's ``("HTTP_X_FORWARDED_PROTO", "https")``."""
    raw = env.str(name, default="")
    if not raw:
        return None
    header, _colon, value = (part.strip() for part in raw.partition(":"))
    if not header or not value or " " in header:
        raise ImproperlyConfigured(f"{name}: expected 'Header-Name: value', e.g. 'X-Forwarded-Proto: https', got {raw!r}")
    return "HTTP_" + header.upper().replace("-", "_"), value


VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))

DEBUG = _env("DEBUG", bool, False)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY: required when DEBUG is off (set DEBUG=1 for development)")
    SECRET_KEY = "insecure-development-key-only-used-when-DEBUG-is-on"
ALLOWED_HOSTS = _env("ALLOWED_HOSTS", list, ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = _env("CSRF_TRUSTED_ORIGINS", list, [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_q",
    "axes",
    # Installed so that /api/docs serves Swagger UI from django-ninja's own static files, not a CDN.
    "ninja",
    "imports",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "repro_dashboard.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "imports.dashboard.context_processors.projects",
            ],
        },
    },
]

WSGI_APPLICATION = "repro_dashboard.wsgi.application"

# --- Database -------------------------------------------------------------------------------
DATABASES = {
    "default": _env_url(
        "DATABASE_URL", env.db_url_config, f"sqlite:///{VAR_DIR / 'db.sqlite3'}", {"sqlite", "postgres", "postgresql"}
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web process and the worker share the file: wait for locks instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 30, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and task queue -------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# A 1,000,000-row file takes well under a minute here; the timeout leaves ample room on slow
# hosts, and retry must exceed timeout so a running task is never handed out twice.
IMPORT_TASK_TIMEOUT = _env_int("IMPORT_TASK_TIMEOUT", 3600)
Q_CLUSTER = {
    "name": "repro_dashboard",
    "workers": _env_int("Q_WORKERS", 2),
    "timeout": IMPORT_TASK_TIMEOUT,
    "retry": IMPORT_TASK_TIMEOUT + 600,
    "max_attempts": _env_int("Q_MAX_ATTEMPTS", 3),
    "ack_failures": True,
    "catch_up": False,
    "save_limit": 1000,
    # Tests set Q_SYNC=1: django-q2 reads this once at import, so it cannot be overridden later.
    "sync": _env("Q_SYNC", bool, False),
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# --- Files ----------------------------------------------------------------------------------
IMPORT_BUCKET = env.str("IMPORT_BUCKET", default="")
AWS_S3_ENDPOINT_URL = env.str("AWS_S3_ENDPOINT_URL", default="") or None
AWS_S3_REGION_NAME = env.str("AWS_S3_REGION_NAME", default="us-east-1")
AWS_ACCESS_KEY_ID = env.str("AWS_ACCESS_KEY_ID", default="") or None
AWS_SECRET_ACCESS_KEY = env.str("AWS_SECRET_ACCESS_KEY", default="") or None
# The bucket name users see in S3 paths; the same bucket stores dashboard uploads when set.
IMPORT_BUCKET_NAME = IMPORT_BUCKET or "repro-data-store"
# S3 access keys for customers are made through this provider's API (docs/operations.md).
S3_ACCESS_KEY_PROVIDER = env.str("S3_ACCESS_KEY_PROVIDER", default="imports.s3.IamAccessKeyProvider")
# Empty means AWS IAM itself; an S3-compatible server with an IAM API names its endpoint here.
AWS_IAM_ENDPOINT_URL = env.str("AWS_IAM_ENDPOINT_URL", default="") or None
# Discovery lists new objects every S3_DISCOVERY_INTERVAL_MINUTES; a prefix with more objects than
# one listing page is listed from its beginning again every S3_DISCOVERY_FULL_LIST_MINUTES, which is
# when an object re-uploaded under a name listed before is found (docs/operations.md).
S3_DISCOVERY_INTERVAL_MINUTES = _env_int("S3_DISCOVERY_INTERVAL_MINUTES", 1)
S3_DISCOVERY_FULL_LIST_MINUTES = _env_int("S3_DISCOVERY_FULL_LIST_MINUTES", 10)
# SPEC 3 and 4: the largest S3 object each kind imports.
S3_OBJECT_MAX_BYTES = {"events": 500 * 1024 * 1024, "user_profiles": 1024 * 1024 * 1024}
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "files")))
MEDIA_URL = "/media/"
if IMPORT_BUCKET:
    default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": IMPORT_BUCKET,
            "endpoint_url": AWS_S3_ENDPOINT_URL,
            "region_name": AWS_S3_REGION_NAME,
            "access_key": AWS_ACCESS_KEY_ID,
            "secret_key": AWS_SECRET_ACCESS_KEY,
            "file_overwrite": False,
            "default_acl": None,
            "querystring_auth": True,
        },
    }
else:
    default_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
STORAGES = {
    "default": default_storage,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]

# Uploads bigger than this spool to a temporary file instead of memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DASHBOARD_UPLOAD_MAX_BYTES = _env_int("DASHBOARD_UPLOAD_MAX_BYTES", 150 * 1024 * 1024)
IMPORT_CHUNK_ROWS = _env_int("IMPORT_CHUNK_ROWS", 10_000)
# Bounds by bytes (issue 12): a chunk also closes at this many bytes of rows (up to three chunks
# are in memory at once: read, queued, being written; 8 MiB keeps a worker of 100 KB rows under
# 200 MB, docs/performance.md); a file whose content passes this many bytes once decompressed
# fails; a failed row's values are kept in the error CSV up to this many bytes, cut beyond
# (docs/decisions-core.md).
IMPORT_CHUNK_BYTES = _env_int("IMPORT_CHUNK_BYTES", 8 * 1024 * 1024)
IMPORT_MAX_DECOMPRESSED_BYTES = _env_int("IMPORT_MAX_DECOMPRESSED_BYTES", 4 * 1024**3)
IMPORT_ERROR_ROW_BYTES = _env_int("IMPORT_ERROR_ROW_BYTES", 64 * 1024)
# An events file of at least this many bytes is cut into parts of this many rows, run in parallel.
IMPORT_SPLIT_MIN_BYTES = _env_int("IMPORT_SPLIT_MIN_BYTES", 32 * 1024 * 1024)
IMPORT_PART_ROWS = _env_int("IMPORT_PART_ROWS", 200_000)
# A run leases its job or part for this long and renews the lease as it works (every chunk, and
# every few seconds of the counting pass): a lease not renewed for this long means the run died,
# and the watchdog queues the work again (the Redis broker does not redeliver the task of a killed
# worker; checkpoints make a rerun safe). A live lease is never run twice.
IMPORT_STALL_SECONDS = _env_int("IMPORT_STALL_SECONDS", 600)
IMPORT_WATCHDOG_MINUTES = _env_int("IMPORT_WATCHDOG_MINUTES", 1)
# Runs of one job (or one part of it) before it is given up: a task killed by IMPORT_TASK_TIMEOUT
# every time ends ``failed`` with the rows it committed, instead of being queued again for ever.
IMPORT_MAX_ATTEMPTS = _env_int("IMPORT_MAX_ATTEMPTS", 3)
# API v2 answers after reading at most this much of a body's content (decompressed) for at most
# this long: its header and the rows type inference takes; the job checks the whole file.
API_V2_CHECK_BYTES = _env_int("API_V2_CHECK_BYTES", 8 * 1024 * 1024, minimum=1024 * 1024)
API_V2_CHECK_SECONDS = _env_int("API_V2_CHECK_SECONDS", 2)
# An import can be undone for this many days after it finished; then its before-images are purged.
IMPORT_UNDO_DAYS = _env_int("IMPORT_UNDO_DAYS", 30)

# --- Completion webhooks (docs/webhooks.md) --------------------------------------------------
# http:// URLs and loopback or private addresses are refused unless DEBUG or this is on.
WEBHOOKS_ALLOW_INSECURE = _env("WEBHOOKS_ALLOW_INSECURE", bool, False)
WEBHOOKS_MAX_PER_PROJECT = _env_int("WEBHOOKS_MAX_PER_PROJECT", 5)
# Attempts per delivery; after attempt n fails the next waits WEBHOOKS_RETRY_BASE_SECONDS * 2**(n-1)
# (0: at once, which the tests use to drive attempts without a clock).
WEBHOOKS_MAX_ATTEMPTS = _env_int("WEBHOOKS_MAX_ATTEMPTS", 8)
WEBHOOKS_RETRY_BASE_SECONDS = _env_int("WEBHOOKS_RETRY_BASE_SECONDS", 30, minimum=0)
WEBHOOKS_TIMEOUT_SECONDS = _env_int("WEBHOOKS_TIMEOUT_SECONDS", 5)
# Certificates of https receivers are checked against the system's CAs, or this PEM file's.
WEBHOOKS_CA_BUNDLE = env.str("WEBHOOKS_CA_BUNDLE", default="") or None

# --- Mail -----------------------------------------------------------------------------------
EMAIL_URL = env.str("EMAIL_URL", default="")
if EMAIL_URL:
    globals().update(_env_url("EMAIL_URL", env.email_url_config, EMAIL_URL, set(env.EMAIL_SCHEMES)))
    if EMAIL_URL.startswith("filemail:"):
        # django-environ drops the leading "/" of filemail:///abs/path; mail goes to that folder.
        EMAIL_FILE_PATH = urlparse(EMAIL_URL).path or str(VAR_DIR / "mail")
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Repro Dashboard <noreply@localhost>")
# Links in emails point here (no request is at hand in a worker).
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

# --- Auth, i18n -----------------------------------------------------------------------------
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard:home"
LOGOUT_REDIRECT_URL = "login"
# django-axes counts failed logins (dashboard and admin alike) per client address and per user name,
# in the database so that every web host sees them; either reaching the limit locks out for the
# cool-off, which a further failure starts again.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = _env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=_env_int("LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "imports.dashboard.login_throttle.lockout_response"
AXES_CLIENT_IP_CALLABLE = "imports.dashboard.login_throttle.client_ip"
AXES_VERBOSE = False  # no banner on every start; failures and lockouts are still logged
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("ja", _("Japanese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- HTTPS (docs/operations.md) -------------------------------------------------------------
# Secure by default when DEBUG is off. A plain-HTTP setup (a test, a private network) turns
# SECURE_SSL_REDIRECT and SESSION_COOKIE_SECURE off; behind a TLS-terminating proxy,
# SECURE_PROXY_SSL_HEADER names the header that proxy sets, or every redirect would loop.
SECURE_SSL_REDIRECT = _env("SECURE_SSL_REDIRECT", bool, not DEBUG)
SECURE_PROXY_SSL_HEADER = _env_proxy_ssl_header("SECURE_PROXY_SSL_HEADER")
SESSION_COOKIE_SECURE = _env("SESSION_COOKIE_SECURE", bool, not DEBUG)
CSRF_COOKIE_SECURE = LANGUAGE_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = _env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 365 * 24 * 3600, minimum=0)
# Covers only the dashboard host's own subdomains (e.g. www.repro.example for repro.example).
SECURE_HSTS_INCLUDE_SUBDOMAINS = _env("SECURE_HSTS_INCLUDE_SUBDOMAINS", bool, True)
# Preloading builds the domain into browsers and takes months to undo: an operator's opt-in, so its
# deploy-check advice is silenced while it is off (docs/decisions.md).
SECURE_HSTS_PRELOAD = _env("SECURE_HSTS_PRELOAD", bool, False)
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
# Proxies in front that append the client's address to X-Forwarded-For (0: the peer is the client).
TRUSTED_PROXY_COUNT = _env_int("TRUSTED_PROXY_COUNT", 0, minimum=0)

# /api/docs and /api/openapi.json; off, both answer 404.
API_DOCS = _env("API_DOCS", bool, True)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}
