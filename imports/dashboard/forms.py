"""Forms of the dashboard pages."""

from __future__ import annotations

import re

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from imports.models import WebhookEndpoint, WebhookEvent
from imports.webhooks import services as webhooks
from imports.core.limits import MAX_NAME_CHARS


def size_text(size: int) -> str:
    """Django's file size in words, without a trailing ".0" ("150 MB", "151.5 MB")."""
    return re.sub(r"[.,]0(?=\D*$)", "", str(filesizeformat(size)))


def too_large_message(size: int | str) -> str:
    """``size`` in bytes, or a placeholder the page's script fills in before anything is sent."""
    size = size_text(size) if isinstance(size, int) else size
    return _(
        "This file is %(size)s, but files uploaded here can be at most %(max)s. "
        "Split it into smaller files, or upload it through Amazon S3."
    ) % {"size": size, "max": size_text(settings.DASHBOARD_UPLOAD_MAX_BYTES)}


class ImportUploadForm(forms.Form):
    """Rendered by hand in _upload_form.html, whose script checks the size before sending."""

    file = forms.FileField(
        error_messages={
            "required": _("Choose a file to upload."),
            "empty": _("This file is empty. Choose a CSV file with a header line and at least one row."),
        },
    )
    validate_only = forms.BooleanField(required=False)

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > settings.DASHBOARD_UPLOAD_MAX_BYTES:
            raise forms.ValidationError(too_large_message(upload.size), code="too_large")
        return upload


class DisplayNameForm(forms.Form):
    display_name = forms.CharField(max_length=MAX_NAME_CHARS, required=False)


class NotificationsForm(forms.Form):
    email_notifications = forms.BooleanField(required=False)
    language = forms.ChoiceField(choices=settings.LANGUAGES, required=False)


class WebhookEndpointForm(forms.Form):
    """Settings › Webhooks: the URL (https and public, docs/webhooks.md), format, events, On/Off."""

    url = forms.CharField(label=_("URL"), max_length=2000)
    format = forms.ChoiceField(label=_("Format"), choices=WebhookEndpoint.Format.choices)
    events = forms.MultipleChoiceField(
        label=_("Send when"),
        choices=[(event, label) for event, label in WebhookEvent.choices if event in webhooks.DEFAULT_EVENTS],
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    enabled = forms.BooleanField(label=_("On"), required=False)

    def clean_url(self):
        try:
            return webhooks.webhook_url_check(self.cleaned_data["url"])
        except webhooks.UrlRefused as exc:
            raise forms.ValidationError(webhooks.URL_REFUSAL_TEXTS[exc.code], code=exc.code) from exc

    @classmethod
    def for_endpoint(cls, endpoint: WebhookEndpoint, data=None) -> WebhookEndpointForm:
        initial = {"url": endpoint.url, "format": endpoint.format, "events": endpoint.events, "enabled": endpoint.enabled}
        return cls(data, initial=initial)
