from django.urls import path

from imports.dashboard import data, definitions, file_templates, jobs, undo, views, webhooks
from imports.models import ImportJob

app_name = "dashboard"

urlpatterns = [
    path("", views.home, name="home"),
    path("p/<slug:app_id>/", views.project_home, name="project"),
    path("p/<slug:app_id>/events/import/", jobs.events_import, name="events_import"),
    path(
        "p/<slug:app_id>/events/import/template.csv",
        file_templates.template_download,
        {"kind": ImportJob.Kind.EVENTS},
        name="events_template",
    ),
    path("p/<slug:app_id>/events/settings/", definitions.event_settings, name="event_settings"),
    path(
        "p/<slug:app_id>/events/settings/<int:definition_id>/",
        definitions.event_definition_update,
        name="event_definition_update",
    ),
    path("p/<slug:app_id>/user-profiles/import/", jobs.profiles_import, name="profiles_import"),
    path(
        "p/<slug:app_id>/user-profiles/import/template.csv",
        file_templates.template_download,
        {"kind": ImportJob.Kind.USER_PROFILES},
        name="profiles_template",
    ),
    path("p/<slug:app_id>/user-profiles/settings/", definitions.profile_settings, name="profile_settings"),
    path("p/<slug:app_id>/user-profiles/settings/<int:key_id>/", definitions.profile_key_update, name="profile_key_update"),
    path("p/<slug:app_id>/jobs/live/", jobs.jobs_live, name="jobs_live"),
    path("p/<slug:app_id>/jobs/<int:job_id>/", jobs.job_detail, name="job_detail"),
    path("p/<slug:app_id>/jobs/<int:job_id>/import/", jobs.job_import_dry_run, name="job_import_dry_run"),
    path("p/<slug:app_id>/jobs/<int:job_id>/errors.csv", jobs.job_error_csv, name="job_error_csv"),
    path("p/<slug:app_id>/jobs/<int:job_id>/remainder.csv", jobs.job_remainder_csv, name="job_remainder_csv"),
    path("p/<slug:app_id>/settings/credentials/", views.credentials, name="credentials"),
    path("p/<slug:app_id>/settings/credentials/reissue-token/", views.api_token_reissue, name="api_token_reissue"),
    path("p/<slug:app_id>/settings/credentials/s3-keys/", views.s3_access_key_issue, name="s3_access_key_issue"),
    path(
        "p/<slug:app_id>/settings/credentials/s3-keys/<str:access_key_id>/revoke/",
        views.s3_access_key_revoke,
        name="s3_access_key_revoke",
    ),
    path("p/<slug:app_id>/settings/notifications/", views.notifications, name="notifications"),
    path("p/<slug:app_id>/settings/webhooks/", webhooks.webhooks, name="webhooks"),
    path("p/<slug:app_id>/settings/webhooks/<int:endpoint_id>/", webhooks.webhook_edit, name="webhook_edit"),
    path("p/<slug:app_id>/settings/webhooks/<int:endpoint_id>/delete/", webhooks.webhook_delete, name="webhook_delete"),
    path("p/<slug:app_id>/settings/webhooks/<int:endpoint_id>/test/", webhooks.webhook_test, name="webhook_test"),
    path(
        "p/<slug:app_id>/settings/webhooks/deliveries/<uuid:delivery_id>/resend/",
        webhooks.webhook_delivery_resend,
        name="webhook_delivery_resend",
    ),
    # issue 16: the imported data, and undo
    path("p/<slug:app_id>/users/", data.users, name="users"),
    path("p/<slug:app_id>/users/user/", data.user_detail, name="user_detail"),
    path("p/<slug:app_id>/events/explorer/", data.explorer, name="explorer"),
    path("p/<slug:app_id>/events/explorer/<int:definition_id>/", data.explorer_event, name="explorer_event"),
    path("p/<slug:app_id>/jobs/<int:job_id>/data/", data.job_data, name="job_data"),
    path("p/<slug:app_id>/jobs/<int:job_id>/undo/", undo.job_undo, name="job_undo"),
    path("p/<slug:app_id>/jobs/<int:job_id>/undo-report.csv", undo.job_undo_report, name="job_undo_report"),
]
