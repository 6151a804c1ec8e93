"""Tenancy, credentials, import jobs and the analytics data they write (SPEC sections 1-4)."""

import secrets
import string
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from imports.core.limits import MAX_NAME_CHARS
from imports.core.names import display_name
from imports.core.profiles import MAX_KEY_CHARS
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
    # What the job found and planned, beyond its counts: set by jobs.import_job_plan and chunk_commit.
    error_header = models.JSONField(_("error CSV header"), default=list, blank=True)
    profile_key_types = models.JSONField(_("profile key types"), default=dict, blank=True)  # without keys turned Off
    new_profile_keys = models.JSONField(_("new profile keys"), default=list, blank=True)
    ignored_profile_keys = models.JSONField(_("profile keys turned off"), default=list, blank=True)
    planned_events = models.JSONField(_("planned events"), default=dict, blank=True)  # a dry run's: name -> On
    dry_run_job = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("validated in")
    )
    error_csv_key = models.CharField(_("error CSV"), max_length=1024, blank=True)
    # A job that failed after committing rows: the rows it did not import, to upload as they are.
    remainder_csv_key = models.CharField(_("remainder CSV"), max_length=1024, blank=True)
    failure_message = models.TextField(_("failure message"), blank=True)
    # The same failure as a template and its parameters, to show it in the reader's language.
    failure_template = models.TextField(blank=True)
    failure_params = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    # Set once the completion email went out, so a re-run of a finished job never sends it twice.
    notified_at = models.DateTimeField(_("members notified"), null=True, blank=True)
    # The run that may work on the job until the lease expires (jobs.py renews it as it works); a
    # second run finds it live and leaves, the watchdog queues again only a job whose lease expired.
    lease_owner = models.CharField(_("lease owner"), max_length=255, blank=True)
    lease_expires_at = models.DateTimeField(_("lease expires"), null=True, blank=True)

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
    def display_file_name(self) -> str:
        """The file name as it can be shown, in a page or an email header (no control characters)."""
        return display_name(self.file_name)

    @property
    def partly_imported(self) -> bool:
        """Failed after committing rows: those stay imported, the others are in the remainder CSV."""
        return self.state == self.State.FAILED and not self.dry_run and self.imported > 0

    @property
    def failure_text(self) -> str:
        """The file-level failure in the active language (the English text is kept in failure_message)."""
        if not self.failure_template:
            return self.failure_message
        return translate(self.failure_template, self.failure_params)

    @property
    def profile_types(self) -> list[tuple[str, str]]:
        return sorted(self.profile_key_types.items())

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
    # As on the job: the run that owns the part until the lease expires ("" while it is queued).
    lease_owner = models.CharField(max_length=255, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["job", "index"]
        constraints = [models.UniqueConstraint(fields=["job", "index"], name="import_part_unique_index")]
        indexes = [models.Index(fields=["state", "lease_expires_at"], name="import_part_state_lease")]

    def __str__(self):
        return f"job {self.job_id} part {self.index}"


class DirectUpload(models.Model):
    """An API v3 job's upload (SPEC 6): the content type its URL was signed for, until when an upload
    is accepted, and what arrived. Size and checksum declared by the request are on the job."""

    job = models.OneToOneField(ImportJob, on_delete=models.CASCADE, primary_key=True, related_name="direct_upload")
    content_type = models.CharField(max_length=64)
    expires_at = models.DateTimeField()
    accept_until = models.DateTimeField()  # expires_at plus a grace for clock skew
    # The PUT URL is this server's own (no S3): the server receives the file (imports.embedded_uploads).
    embedded = models.BooleanField(default=False)
    size = models.BigIntegerField(null=True, blank=True)
    arrived_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"upload of job {self.job_id}"


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
    name = models.CharField(_("name"), max_length=MAX_NAME_CHARS)
    display_name = models.CharField(_("display name"), max_length=MAX_NAME_CHARS)
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
    user_id = models.CharField(_("user ID"), max_length=MAX_NAME_CHARS)
    profile = models.JSONField(_("profile"), default=dict, blank=True)
    # Which import last set each profile key ({key: import job id}), merged with the values.
    # A database default too, so rows inserted by hand (benchmarks, scripts) need not name it.
    profile_set_by = models.JSONField(
        _("profile keys set by"), default=dict, db_default=models.Value({}, models.JSONField()), blank=True
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    # Neither indexed nor a database constraint: every index on this table costs each profile
    # import's UPDATE of every row it sets (measured, docs/performance.md), and a constraint would
    # make deleting a job scan the users; only an undo looks users up by it, once.
    created_by_job = models.ForeignKey(
        ImportJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="created_users",
        db_index=False, db_constraint=False,
    )

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
    name = models.CharField(_("key"), max_length=MAX_KEY_CHARS)
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


# --- Completion webhooks (docs/webhooks.md) -----------------------------------------------------


class WebhookEvent(models.TextChoices):
    IMPORT_SUCCEEDED = "import.succeeded", _("Import succeeded")
    IMPORT_SUCCEEDED_WITH_ERRORS = "import.succeeded_with_errors", _("Import succeeded with errors")
    IMPORT_FAILED = "import.failed", _("Import failed")
    DRY_RUN_FINISHED = "dry_run.finished", _("Validation finished")
    UNDO_FINISHED = "undo.finished", _("Undo finished")
    TEST = "test", _("Test event")


class WebhookEndpoint(models.Model):
    """A URL of the project's that is told when imports end.

    The signing secret must be readable to sign each request (HMAC), so unlike API tokens it is
    kept, encrypted with a key derived from SECRET_KEY (imports/webhooks/signing_secrets.py).
    """

    class Format(models.TextChoices):
        JSON = "json", _("JSON (signed)")
        SLACK = "slack", _("Slack message")

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(_("URL"), max_length=2000)
    format = models.CharField(_("format"), max_length=10, choices=Format.choices, default=Format.JSON)
    enabled = models.BooleanField(_("on"), default=True)
    events = models.JSONField(_("events"), default=list, blank=True)
    secret_encrypted = models.TextField(editable=False)
    # Why the endpoint was last turned Off by the app (a 410 answer), shown beside its switch.
    disabled_reason = models.CharField(_("turned Off because"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")

    def __str__(self):
        return f"{self.url} ({self.project.app_id})"


class WebhookDelivery(models.Model):
    """One event for one endpoint: its body is fixed when the event happens, then attempted until
    the receiver answers 2xx or the attempts run out. At most one per endpoint, event and job."""

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        SUCCEEDED = "succeeded", _("Delivered")
        FAILED = "failed", _("Failed")

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    job = models.ForeignKey(ImportJob, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    event = models.CharField(_("event"), max_length=40, choices=WebhookEvent.choices)
    # Sent as X-Repro-Delivery and in the payload: receivers drop a delivery they have already seen.
    delivery_id = models.UUIDField(_("delivery ID"), unique=True, default=uuid.uuid4, editable=False)
    body = models.TextField(editable=False)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.PENDING)
    # Attempts since the delivery was (re)started; the bound WEBHOOKS_MAX_ATTEMPTS applies to these.
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    # Set while a worker is sending, so a duplicated task does not send the same attempt twice.
    sending_since = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "event", "job"], condition=Q(job__isnull=False), name="webhook_delivery_unique_event"
            )
        ]
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")

    def __str__(self):
        return f"{self.event} → {self.endpoint.url} ({self.delivery_id})"


class WebhookAttempt(models.Model):
    """One request of a delivery, as the delivery log shows it."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField(_("attempt"))
    started_at = models.DateTimeField(_("sent"))
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), default=0)
    status_code = models.PositiveSmallIntegerField(_("status"), null=True, blank=True)
    # The first bytes of the answer, or why there was none (timeout, refused address, …).
    response_excerpt = models.TextField(_("answer"), blank=True)
    error = models.CharField(_("error"), max_length=255, blank=True)

    class Meta:
        ordering = ["delivery", "number"]
        constraints = [models.UniqueConstraint(fields=["delivery", "number"], name="webhook_attempt_unique_number")]
        verbose_name = _("webhook attempt")
        verbose_name_plural = _("webhook attempts")

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


# --- What an import wrote, and undoing it (issue 16) -----------------------------------------


class ImportedEventBatch(models.Model):
    """The rows of one event that one chunk of an events import tracked.

    A chunk's events share one ``tracked_at``, so (project, event, tracked_at) — the events
    table's own index — finds exactly them; an undo removes a batch and its rows together.
    """

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="event_batches")
    event = models.ForeignKey(EventDefinition, on_delete=models.CASCADE, related_name="+")
    first_number = models.BigIntegerField()  # the chunk's first data row: identifies and orders the chunk
    tracked_at = models.DateTimeField()
    row_count = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job", "first_number", "event"], name="imported_event_batch_unique")
        ]
        indexes = [models.Index(fields=["event", "tracked_at"], name="imported_event_batch_event")]


class ProfileBeforeImage(models.Model):
    """What one chunk of a profiles import overwrote: each user's profile and ``profile_set_by``
    as they were, and which keys the chunk set for them. Written in the chunk's transaction by the
    same statement as the merge (whole columns are copied: no per-user work); undo applies them
    newest first."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="profile_before_images")
    first_number = models.BigIntegerField()
    old_profiles = models.JSONField()  # {app user pk: profile before the chunk}
    old_set_by = models.JSONField()  # {app user pk: profile_set_by before the chunk}
    key_sets = models.JSONField()  # [[key, …], …]: the distinct sets of keys the chunk set
    user_key_sets = models.JSONField()  # {app user pk: index into key_sets}

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job", "first_number"], name="profile_before_image_unique")
        ]


class ImportUndo(models.Model):
    """Taking an import back, run in the background in checkpointed steps; at most one per import."""

    class State(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Undone")
        FAILED = "failed", _("Failed")

    class Phase(models.TextChoices):
        DATA = "data", _("Removing events or restoring profile values")
        USERS = "users", _("Removing users the import created")
        DEFINITIONS = "definitions", _("Removing event definitions or profile keys the import created")
        DONE = "done", _("Done")

    FINAL_STATES = (State.SUCCEEDED, State.FAILED)

    job = models.OneToOneField(ImportJob, on_delete=models.CASCADE, related_name="undo")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_by = models.CharField(_("started by"), max_length=255, blank=True)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.QUEUED)
    phase = models.CharField(_("phase"), max_length=12, choices=Phase.choices, default=Phase.DATA)
    steps_total = models.PositiveIntegerField(_("steps"), default=0)
    steps_done = models.PositiveIntegerField(_("steps done"), default=0)
    events_removed = models.BigIntegerField(_("events removed"), default=0)
    users_removed = models.BigIntegerField(_("users removed"), default=0)
    definitions_removed = models.PositiveIntegerField(_("event definitions or profile keys removed"), default=0)
    values_restored = models.BigIntegerField(_("profile values restored"), default=0)
    values_kept = models.BigIntegerField(_("profile values kept"), default=0)
    report_key = models.CharField(_("undo report"), max_length=1024, blank=True)
    failure_message = models.TextField(_("failure message"), blank=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    worker = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(_("requested"), auto_now_add=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    notified_at = models.DateTimeField(_("members notified"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["state", "heartbeat_at"], name="import_undo_state_heartbeat")]
        verbose_name = _("import undo")
        verbose_name_plural = _("import undos")

    def __str__(self):
        return f"undo of import #{self.job_id}"

    @property
    def is_final(self) -> bool:
        return self.state in self.FINAL_STATES


class ImportUndoKeptValue(models.Model):
    """A profile value the undo left as it is because a later import changed it: a line of the report."""

    undo = models.ForeignKey(ImportUndo, on_delete=models.CASCADE, related_name="kept_values")
    user_id = models.CharField(max_length=MAX_NAME_CHARS)
    key = models.CharField(max_length=MAX_KEY_CHARS)
    value = models.JSONField(null=True)  # the value kept
    set_by_job = models.BigIntegerField(null=True)  # the import that set it
    value_before = models.JSONField(null=True)  # what the undo would have restored (null: absent)
    set_by_before = models.BigIntegerField(null=True)  # and the import that had set that

    class Meta:
        ordering = ["undo", "id"]
        constraints = [
            models.UniqueConstraint(fields=["undo", "user_id", "key"], name="import_undo_kept_value_unique")
        ]


class AuditRecord(models.Model):
    """Who did what to a project's data, and when; written by the service that does it, never edited."""

    class Action(models.TextChoices):
        UNDO_REQUESTED = "undo_requested", _("Undo requested")
        UNDO_FINISHED = "undo_finished", _("Undo finished")
        UNDO_FAILED = "undo_failed", _("Undo failed")

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="audit_records")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(_("by"), max_length=255, blank=True)
    action = models.CharField(_("action"), max_length=32, choices=Action.choices)
    job = models.ForeignKey(ImportJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_records")
    details = models.JSONField(_("details"), default=dict, blank=True)
    created_at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("audit record")
        verbose_name_plural = _("audit records")

    def __str__(self):
        return f"{self.get_action_display()} · {self.actor_label}"
