"""Operator views of every model: searchable, filterable, audit fields read-only."""

from django import forms
from django.conf import settings
from django.contrib import admin, messages

from imports import models
from imports.webhooks import services as webhooks


class MembershipInline(admin.TabularInline):
    model = models.Membership
    extra = 0
    autocomplete_fields = ["user"]
    readonly_fields = ["created_at"]


@admin.register(models.Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "app_id", "max_enabled_events", "max_enabled_profile_keys", "created_at"]
    search_fields = ["name", "app_id"]
    readonly_fields = ["app_id", "created_at"]
    inlines = [MembershipInline]


@admin.register(models.Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "project", "email_notifications", "created_at"]
    list_filter = ["email_notifications"]
    search_fields = ["user__username", "user__email", "project__name", "project__app_id"]
    autocomplete_fields = ["user", "project"]
    readonly_fields = ["created_at"]


@admin.register(models.ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are issued from the dashboard or `reissue_api_token`; here they can only be seen or revoked."""

    list_display = ["project", "prefix", "created_at", "created_by"]
    search_fields = ["project__name", "project__app_id", "prefix"]
    readonly_fields = ["project", "prefix", "created_at", "created_by"]
    exclude = ["token_hash"]

    def has_add_permission(self, request):
        return False


@admin.register(models.S3AccessKey)
class S3AccessKeyAdmin(admin.ModelAdmin):
    list_display = ["access_key_id", "project", "created_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["access_key_id", "project__name", "project__app_id"]
    readonly_fields = ["project", "access_key_id", "provider_user", "created_at", "created_by", "revoked_at"]

    def has_add_permission(self, request):
        return False


class ImportPartInline(admin.TabularInline):
    model = models.ImportPart
    extra = 0
    can_delete = False
    fields = ["index", "state", "rows", "rows_done", "imported", "failed", "attempts", "worker", "heartbeat_at",
              "lease_expires_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(models.ImportPart)
class ImportPartAdmin(admin.ModelAdmin):
    list_display = ["job", "index", "state", "rows", "rows_done", "imported", "failed", "attempts", "worker",
                    "heartbeat_at", "lease_expires_at"]
    list_filter = ["state"]
    search_fields = ["job__id", "job__file_name", "worker"]
    list_select_related = ["job"]
    readonly_fields = [field.name for field in models.ImportPart._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(models.S3ListingCursor)
class S3ListingCursorAdmin(admin.ModelAdmin):
    list_display = ["project", "kind", "start_after", "full_listed_at"]
    list_filter = ["kind"]
    search_fields = ["project__app_id", "start_after"]
    readonly_fields = ["project", "kind"]

    def has_add_permission(self, request):
        return False


@admin.register(models.ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    inlines = [ImportPartInline]
    list_display = ["id", "project", "kind", "source", "file_name", "state", "dry_run", "rows_read", "imported",
                    "failed", "created_at", "finished_at"]
    list_filter = ["state", "kind", "source", "dry_run", "created_at"]
    search_fields = ["file_name", "storage_key", "project__name", "project__app_id", "failure_message"]
    date_hierarchy = "created_at"
    list_select_related = ["project"]
    readonly_fields = [field.name for field in models.ImportJob._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(models.ImportRowError)
class ImportRowErrorAdmin(admin.ModelAdmin):
    list_display = ["job", "number", "line", "reasons"]
    search_fields = ["job__file_name"]
    list_select_related = ["job"]
    readonly_fields = ["job", "number", "line", "reasons", "csv_line"]

    def has_add_permission(self, request):
        return False


@admin.register(models.EventDefinition)
class EventDefinitionAdmin(admin.ModelAdmin):
    list_display = ["name", "display_name", "project", "enabled", "created_at", "created_by_job"]
    list_filter = ["enabled"]
    search_fields = ["name", "display_name", "project__name", "project__app_id"]
    list_select_related = ["project"]
    readonly_fields = ["project", "name", "created_at", "created_by_job"]


@admin.register(models.AppUser)
class AppUserAdmin(admin.ModelAdmin):
    list_display = ["user_id", "project", "created_at"]
    search_fields = ["user_id", "project__app_id"]
    list_select_related = ["project"]
    readonly_fields = ["project", "user_id", "created_at"]


@admin.register(models.TrackedEvent)
class TrackedEventAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "event", "app_user", "job", "tracked_at"]
    list_filter = ["tracked_at"]
    search_fields = ["app_user__user_id", "event__name"]
    list_select_related = ["project", "event", "app_user", "job"]
    readonly_fields = ["project", "app_user", "event", "job", "properties", "tracked_at"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False


@admin.register(models.ProfileKey)
class ProfileKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "type", "project", "enabled", "created_at"]
    list_filter = ["type", "enabled"]
    search_fields = ["name", "project__name", "project__app_id"]
    list_select_related = ["project"]
    readonly_fields = ["project", "name", "type", "created_at", "created_by_job"]


@admin.register(models.ApiRequestCount)
class ApiRequestCountAdmin(admin.ModelAdmin):
    """Rate-limit windows: read-only, for seeing who hits the API how often."""

    list_display = ["feature", "token_digest", "window_start", "requests"]
    list_filter = ["feature"]
    readonly_fields = ["feature", "token_digest", "window_start", "requests"]

    def has_add_permission(self, request):
        return False


# --- Completion webhooks (docs/webhooks.md) -----------------------------------------------------


class WebhookEndpointAdminForm(forms.ModelForm):
    url = forms.CharField(max_length=2000, help_text="https:// and a public address (docs/webhooks.md)")
    events = forms.MultipleChoiceField(
        choices=[(e, label) for e, label in models.WebhookEvent.choices if e in webhooks.DEFAULT_EVENTS],
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )

    class Meta:
        model = models.WebhookEndpoint
        fields = ["project", "url", "format", "events", "enabled", "disabled_reason"]

    def clean_url(self):
        try:
            return webhooks.webhook_url_check(self.cleaned_data["url"])
        except webhooks.UrlRefused as exc:
            raise forms.ValidationError(webhooks.URL_REFUSAL_TEXTS[exc.code]) from exc

    def clean(self):
        project = self.cleaned_data.get("project")
        limit = settings.WEBHOOKS_MAX_PER_PROJECT
        if self.instance.pk is None and project and project.webhook_endpoints.count() >= limit:
            raise forms.ValidationError(f"This project has {limit} webhooks already, the most it can have.")
        return self.cleaned_data


@admin.register(models.WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    """Added here, an endpoint's signing secret is shown once in the confirmation message."""

    form = WebhookEndpointAdminForm
    list_display = ["url", "project", "format", "enabled", "disabled_reason", "created_at"]
    list_filter = ["enabled", "format"]
    search_fields = ["url", "project__name", "project__app_id"]
    list_select_related = ["project"]
    autocomplete_fields = ["project"]
    actions = ["send_test_event"]

    def get_readonly_fields(self, request, obj=None):
        return ["project", "created_at", "created_by"] if obj else []

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        endpoint, secret = webhooks.webhook_endpoint_create(
            project=obj.project, url=obj.url, format=obj.format, events=obj.events, enabled=obj.enabled, by=request.user
        )
        obj.pk, obj.secret_encrypted, obj.created_at = endpoint.pk, endpoint.secret_encrypted, endpoint.created_at
        obj._state.adding = False
        messages.warning(request, f"Signing secret of webhook {endpoint.pk}: {secret} (copy it now, it is not shown again)")

    @admin.action(description="Send a test event")
    def send_test_event(self, request, queryset):
        for endpoint in queryset:
            webhooks.webhook_test_send(endpoint=endpoint)
        self.message_user(request, f"{queryset.count()} test events queued.")


class WebhookAttemptInline(admin.TabularInline):
    model = models.WebhookAttempt
    extra = 0
    can_delete = False
    fields = ["number", "started_at", "status_code", "duration_ms", "error", "response_excerpt"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(models.WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    """The delivery log: every attempt with its status, duration and the first bytes of the answer."""

    inlines = [WebhookAttemptInline]
    list_display = ["delivery_id", "event", "endpoint", "job", "state", "attempts", "created_at", "finished_at"]
    list_filter = ["state", "event", "created_at"]
    search_fields = ["delivery_id", "endpoint__url", "endpoint__project__app_id"]
    list_select_related = ["endpoint__project", "job"]
    readonly_fields = [field.name for field in models.WebhookDelivery._meta.fields]
    actions = ["resend"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Resend failed deliveries")
    def resend(self, request, queryset):
        restarted = sum(webhooks.webhook_delivery_resend(delivery=delivery) for delivery in queryset)
        self.message_user(request, f"{restarted} failed deliveries are being sent again.")


# --- issue 16: what imports wrote, undos and the audit trail: read-only records ------------------


class ReadOnlyAdmin(admin.ModelAdmin):
    """Written only by services (an import, an undo); an operator may look, never change."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ImportUndoKeptValueInline(admin.TabularInline):
    model = models.ImportUndoKeptValue
    extra = 0
    fields = ["user_id", "key", "value", "set_by_job", "value_before", "set_by_before"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(models.ImportUndo)
class ImportUndoAdmin(ReadOnlyAdmin):
    inlines = [ImportUndoKeptValueInline]
    list_display = ["job", "state", "phase", "steps_done", "steps_total", "events_removed", "users_removed",
                    "values_restored", "values_kept", "requested_by", "created_at", "finished_at"]
    list_filter = ["state", "phase", "created_at"]
    search_fields = ["job__id", "job__file_name", "job__project__app_id", "requested_by__username", "started_by"]
    list_select_related = ["job", "requested_by"]
    date_hierarchy = "created_at"


@admin.register(models.AuditRecord)
class AuditRecordAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "project", "action", "actor_label", "job"]
    list_filter = ["action", "created_at"]
    search_fields = ["project__app_id", "project__name", "actor_label", "job__id"]
    list_select_related = ["project", "job"]
    date_hierarchy = "created_at"


@admin.register(models.ImportedEventBatch)
class ImportedEventBatchAdmin(ReadOnlyAdmin):
    list_display = ["job", "first_number", "event", "tracked_at", "row_count"]
    search_fields = ["job__id", "event__name"]
    list_select_related = ["job", "event"]
    show_full_result_count = False


@admin.register(models.ProfileBeforeImage)
class ProfileBeforeImageAdmin(ReadOnlyAdmin):
    list_display = ["job", "first_number"]
    search_fields = ["job__id"]
    list_select_related = ["job"]
    show_full_result_count = False
