"""Operator views of every model: searchable, filterable, audit fields read-only."""

from django.contrib import admin

from imports import models


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
    fields = ["index", "state", "rows", "rows_done", "imported", "failed", "attempts", "worker", "heartbeat_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(models.ImportPart)
class ImportPartAdmin(admin.ModelAdmin):
    list_display = ["job", "index", "state", "rows", "rows_done", "imported", "failed", "attempts", "worker",
                    "heartbeat_at"]
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
