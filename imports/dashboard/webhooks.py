"""Settings › Webhooks: a project's endpoints, their delivery log, test events and resends."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from imports.dashboard.forms import WebhookEndpointForm
from imports.dashboard.views import member_view, project_render
from imports.webhooks import selectors, services


@never_cache
@member_view
def webhooks(request, project):
    """The list and the form to add one; a new endpoint's secret is shown in the answer to the POST
    itself (never stored in the session) and never again."""
    form = WebhookEndpointForm(request.POST or None, initial={"enabled": True, "events": services.DEFAULT_EVENTS})
    new_secret = None
    if request.method == "POST" and form.is_valid():
        try:
            endpoint, new_secret = services.webhook_endpoint_create(project=project, by=request.user, **form.cleaned_data)
        except services.EndpointLimitReached as exc:
            messages.error(request, _("A project can have at most %(limit)s webhooks. Delete one first.") % {"limit": exc.limit})
        else:
            messages.success(request, _("The webhook to %(url)s was added.") % {"url": endpoint.url})
            form = WebhookEndpointForm(initial={"enabled": True, "events": services.DEFAULT_EVENTS})
    context = {
        "endpoints": selectors.webhook_endpoint_list(project=project),
        "deliveries": selectors.webhook_delivery_log(project=project),
        "form": form,
        "new_secret": new_secret,
    }
    return project_render(request, "dashboard/webhooks.html", context, status=400 if form.errors else 200)


@member_view
def webhook_edit(request, project, endpoint_id):
    endpoint = selectors.webhook_endpoint_get(project=project, endpoint_id=endpoint_id)
    form = WebhookEndpointForm.for_endpoint(endpoint, request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.webhook_endpoint_update(endpoint=endpoint, **form.cleaned_data)
        messages.success(request, _("The webhook to %(url)s was saved.") % {"url": endpoint.url})
        return redirect("dashboard:webhooks", app_id=project.app_id)
    return project_render(request, "dashboard/webhook_edit.html", {"endpoint": endpoint, "form": form, "nav": "webhooks"},
                          status=400 if form.errors else 200)


@require_POST
@member_view
def webhook_delete(request, project, endpoint_id):
    endpoint = selectors.webhook_endpoint_get(project=project, endpoint_id=endpoint_id)
    services.webhook_endpoint_delete(endpoint=endpoint)
    messages.success(request, _("The webhook to %(url)s was deleted.") % {"url": endpoint.url})
    return redirect("dashboard:webhooks", app_id=project.app_id)


@require_POST
@member_view
def webhook_test(request, project, endpoint_id):
    endpoint = selectors.webhook_endpoint_get(project=project, endpoint_id=endpoint_id)
    services.webhook_test_send(endpoint=endpoint)
    messages.success(request, _("A test event is on its way to %(url)s. Its attempts appear in the delivery log.")
                     % {"url": endpoint.url})
    return redirect("dashboard:webhooks", app_id=project.app_id)


@require_POST
@member_view
def webhook_delivery_resend(request, project, delivery_id):
    delivery = selectors.webhook_delivery_get(project=project, delivery_id=delivery_id)
    if services.webhook_delivery_resend(delivery=delivery):
        messages.success(request, _("The delivery is being sent again."))
    else:
        messages.error(request, _("Only a failed delivery can be sent again."))
    return redirect("dashboard:webhooks", app_id=project.app_id)
