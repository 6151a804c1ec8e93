"""Tenancy, credentials, import jobs and the analytics data they write (SPEC sections 1-4)."""

import secrets
import string

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from imports.messages import translate

APP_ID_ALPHABET = string.ascii_lowercase + string.digits
APP_ID_LENGTH = 10


def generate_app_id() -> str:
    """Short, lowercase and URL/S3-safe; 36**10 values make a collision practically impossible."""
    return "".join(secrets.choice(APP_ID_ALPHABET) for _ in range(APP_ID_LENGTH))


class Project(models.Model):
    name = models.CharField(_("name"), max_length=200)
    app_id = models.CharField(_("app ID"), max_length=32, unique=True, default=generate_app_id, editable=False)
    max_enabled_events = models.PositiveIntegerField(_("max enabled custom events"), default=1000)
    max_enabled_profile_keys = models.PositiveIntegerField(_("max enabled custom profile keys"), default=500)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="Membership", related_name="projects")
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("project")
        verbose_name_plural = _("projects")

    def __str__(self):
        return f"{self.name} ({self.app_id})"


class Membership(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    email_notifications = models.BooleanField(_("email notifications"), default=True)
    language = models.CharField(_("email language"), max_length=8, choices=settings.LANGUAGES, default="en")
    created_at = models.DateTimeField(_("joined"), auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "user"], name="membership_unique_user")]
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")

    def __str__(self):
        return f"{self.user} in {self.project}"


class ApiToken(models.Model):
    """The one active Repro API token of a project: only its SHA-256 and first characters are kept."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="api_token")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(_("begins with"), max_length=16, editable=False)
    created_at = models.DateTimeField(_("issued"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self):
        return f"{self.prefix}… ({self.project.app_id})"


class S3AccessKey(models.Model):
    """An access key for the import bucket, limited to the project's prefix; the secret is never stored."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="s3_access_keys")
    access_key_id = models.CharField(_("access key ID"), max_length=128, unique=True, editable=False)
    provider_user = models.CharField(max_length=128, blank=True, editable=False)
    created_at = models.DateTimeField(_("issued"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("S3 access key")
        verbose_name_plural = _("S3 access keys")

    def __str__(self):
        return self.access_key_id


class ImportJob(models.Model):
    class Kind(models.TextChoices):
        EVENTS = "events", _("Events")
        USER_PROFILES = "user_profiles", _("User profiles")

    class Source(models.TextChoices):
        DASHBOARD = "dashboard", _("Dashboard")
        S3 = "s3", _("Amazon S3")
        API_V2 = "api_v2", _("API v2")
        API_V3 = "api_v3", _("API v3")
        COMMAND = "command", _("Command")

    class State(models.TextChoices):
        AWAITING_UPLOAD = "awaiting_upload", _("Awaiting upload")
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        SUCCEEDED_WITH_ERRORS = "succeeded_with_errors", _("Succeeded with errors")
        FAILED = "failed", _("Failed")
        # A dry run ("Validate only") that checked every row; its counts say what would be imported.
        VALIDATED = "validated", _("Validated")

    FINAL_STATES = (State.SUCCEEDED, State.SUCCEEDED_WITH_ERRORS, State.FAILED, State.VALIDATED)

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="import_jobs")
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    source = models.CharField(_("source"), max_length=20, choices=Source.choices)
    dry_run = models.BooleanField(_("dry run"), default=False)
    file_name = models.CharField(_("file name"), max_length=1024)
    storage_key = models.CharField(_("storage key"), max_length=1024, blank=True)
    s3_etag = models.CharField(_("S3 ETag"), max_length=128, blank=True)
    byte_size = models.BigIntegerField(_("bytes"), null=True, blank=True)
    checksum = models.CharField(_("checksum"), max_length=128, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="import_jobs"
    )
    started_by = models.CharField(_("started by"), max_length=255, blank=True)
    state = models.CharField(_("state"), max_length=24, choices=State.choices, default=State.QUEUED)
    total_rows = models.BigIntegerField(_("rows in file"), null=True, blank=True)
    rows_read = models.BigIntegerField(_("rows read"), default=0)
    imported = models.BigIntegerField(_("imported"), default=0)
    failed = models.BigIntegerField(_("failed"), default=0)
    # The file is processed in parts (ImportPart); the one that completes the count finishes the job.
    parts_total = models.PositiveIntegerField(_("parts"), default=0)
    parts_done = models.PositiveIntegerField(_("parts done"), default=0)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    summary = models.JSONField(_("summary"), default=dict, blank=True)
    error_csv_key = models.CharField(_("error CSV"), max_length=1024, blank=True)
    failure_message = models.TextField(_("failure message"), blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    # Set once the completion email went out, so a re-run of a finished job never sends it twice.
    notified_at = models.DateTimeField(_("members notified"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["project", "kind", "-created_at"], name="job_project_kind_created")]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "storage_key", "s3_etag"],
                condition=~Q(s3_etag=""),
                name="job_unique_s3_object",
            )
        ]
        verbose_name = _("import job")
        verbose_name_plural = _("import jobs")

    def __str__(self):
        return f"#{self.pk} {self.kind} {self.file_name}"

    @property
    def is_final(self) -> bool:
        return self.state in self.FINAL_STATES

    def finished_state(self) -> str:
        """The state a job gets when its last row is done (a file-level failure is ``failed`` instead)."""
        if self.dry_run:
            return self.State.VALIDATED
        return self.State.SUCCEEDED_WITH_ERRORS if self.failed else self.State.SUCCEEDED

    @property
    def failure_text(self) -> str:
        """The file-level failure in the active language (the English text is kept in failure_message)."""
        failure = self.summary.get("failure")
        if not failure:
            return self.failure_message
        return translate(failure["template"], failure["params"])

    @property
    def profile_types(self) -> list[tuple[str, str]]:
        return sorted(self.summary.get("profile_types", {}).items())

    @property
    def duration(self):
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None


class ImportPart(models.Model):
    """Consecutive data rows of a job's file, run by one task with its own checkpoint.

    A file is cut at row starts found by the counting pass, so parts never split a quoted field;
    rows keep their file-wide numbers (``first_number`` rows come before the part).
    """

    class State(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="parts")
    index = models.PositiveIntegerField()
    rows = models.BigIntegerField()
    first_number = models.BigIntegerField()
    # Where processing resumes: byte offset in the decompressed file and physical lines before it.
    checkpoint_offset = models.BigIntegerField()
    checkpoint_line = models.BigIntegerField()
    rows_done = models.BigIntegerField(default=0)
    imported = models.BigIntegerField(default=0)
    failed = models.BigIntegerField(default=0)
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    worker = models.CharField(max_length=255, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["job", "index"]
        constraints = [models.UniqueConstraint(fields=["job", "index"], name="import_part_unique_index")]
        indexes = [models.Index(fields=["state", "heartbeat_at"], name="import_part_state_heartbeat")]

    def __str__(self):
        return f"job {self.job_id} part {self.index}"


class ImportRowError(models.Model):
    """A failed data row: its reasons, and its line of the error CSV (original bytes, reasons added)."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="row_errors")
    number = models.BigIntegerField()
    line = models.BigIntegerField()
    reasons = models.JSONField(default=list)
    csv_line = models.BinaryField()

    class Meta:
        ordering = ["job", "number"]
        constraints = [models.UniqueConstraint(fields=["job", "number"], name="row_error_unique_row")]


class EventDefinition(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="event_definitions")
    name = models.CharField(_("name"), max_length=191)
    display_name = models.CharField(_("display name"), max_length=191)
    enabled = models.BooleanField(_("on"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    created_by_job = models.ForeignKey(
        ImportJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="created_events"
    )

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="event_definition_unique_name")]
        verbose_name = _("event definition")
        verbose_name_plural = _("event definitions")

    def __str__(self):
        return self.name


class AppUser(models.Model):
    """A user of the analysed app; ``profile`` holds custom profile values as typed JSON."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="app_users")
    user_id = models.CharField(_("user ID"), max_length=191)
    profile = models.JSONField(_("profile"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "user_id"], name="app_user_unique_user_id")]
        verbose_name = _("app user")
        verbose_name_plural = _("app users")

    def __str__(self):
        return self.user_id


class TrackedEvent(models.Model):
    """The big table, written with COPY; the one index serves the dashboard's per-event queries."""

    id = models.BigAutoField(primary_key=True)
    # No constraints and no single-column indexes: each costs COPY throughput (docs/performance.md).
    project = models.ForeignKey(
        Project, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    app_user = models.ForeignKey(
        AppUser, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    event = models.ForeignKey(
        EventDefinition, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    job = models.ForeignKey(ImportJob, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+")
    properties = models.JSONField(default=dict)
    tracked_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["project", "event", "tracked_at"], name="tracked_event_project_event")]
        verbose_name = _("tracked event")
        verbose_name_plural = _("tracked events")


class ProfileKey(models.Model):
    class Type(models.TextChoices):
        STRING = "string", _("string")
        INT = "int", _("int")
        DECIMAL = "decimal", _("decimal")
        DATETIME = "datetime", _("datetime")

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="profile_keys")
    name = models.CharField(_("key"), max_length=255)
    type = models.CharField(_("type"), max_length=10, choices=Type.choices)
    enabled = models.BooleanField(_("on"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    created_by_job = models.ForeignKey(
        ImportJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="created_profile_keys"
    )

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="profile_key_unique_name")]
        verbose_name = _("profile key")
        verbose_name_plural = _("profile keys")

    def __str__(self):
        return f"{self.name} ({self.type})"


class S3ListingCursor(models.Model):
    """How far S3 discovery has listed one prefix of a project, so a big prefix is not re-listed every run."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20, choices=ImportJob.Kind.choices)
    # The next listing starts after this key; empty: list the prefix from its beginning.
    start_after = models.CharField(max_length=1024, blank=True)
    full_listed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "kind"], name="s3_listing_cursor_unique_prefix")]


class ApiRequestCount(models.Model):
    """Requests of one API token to one API feature in one fixed rate-limit window (SPEC 6).

    The count is kept in the database (unless Redis is configured) so that every web process sees it.
    """

    feature = models.CharField(max_length=64)
    token_digest = models.CharField(max_length=64)
    window_start = models.BigIntegerField()  # unix time
    requests = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["feature", "token_digest", "window_start"], name="api_request_count_unique_window"
            )
        ]
        indexes = [models.Index(fields=["window_start"], name="api_request_count_window")]
