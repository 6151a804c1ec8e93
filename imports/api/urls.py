"""Mounted at the site root: the endpoints, the OpenAPI document, and the API's own 404 for any
other path under /v2/ and /v3/."""

from django.urls import path, re_path

from imports.api.direct_upload_views import direct_upload_put
from imports.api.views import api, not_found

app_name = "api"

# django-ninja adds a view for its root ("/"), which is the dashboard's; the API does not need it.
urlpatterns = [pattern for pattern in api.urls[0] if getattr(pattern, "name", None) != "api-root"] + [
    path("v3/direct_uploads/<int:job_id>", direct_upload_put, name="direct_upload_put"),
    re_path(r"^v[23]/", not_found, name="not_found"),
]
