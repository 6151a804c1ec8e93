"""Event settings and Profile settings: On/Off within the project's limits, display names."""

import pytest
from django.urls import reverse

from imports import services
from imports.models import EventDefinition, ProfileKey


@pytest.fixture
def events(project):
    return {
        name: EventDefinition.objects.create(project=project, name=name, display_name=name, enabled=on)
        for name, on in (("signup", True), ("purchase", True), ("share", False))
    }


def update(client, definition, **data):
    url = reverse("dashboard:event_definition_update", args=[definition.project.app_id, definition.pk])
    return client.post(url, data, follow=True)


def test_event_settings_lists_events_and_the_count_of_those_on(alice_client, project, events):
    response = alice_client.get(reverse("dashboard:event_settings", args=[project.app_id]))
    assert [d.name for d in response.context["items"]] == ["purchase", "share", "signup"]
    assert (response.context["used"], response.context["limit"]) == (2, 1000)
    assert "<strong>2</strong> / 1,000" in response.content.decode()


def test_event_settings_search(alice_client, project, events):
    events["purchase"].display_name = "Checkout done"
    events["purchase"].save()
    url = reverse("dashboard:event_settings", args=[project.app_id])
    assert [d.name for d in alice_client.get(url, {"q": "checkout"}).context["items"]] == ["purchase"]
    assert "No event matches “nothing”." in alice_client.get(url, {"q": "nothing"}).content.decode()


def test_turning_an_event_off_and_on(alice_client, events):
    response = update(alice_client, events["signup"], enabled="off")
    assert "“signup” is Off. Rows with this event will fail until it is turned On again." in response.content.decode()
    assert EventDefinition.objects.get(name="signup").enabled is False
    update(alice_client, events["signup"], enabled="on")
    assert EventDefinition.objects.get(name="signup").enabled is True


def test_turning_an_event_on_is_refused_at_the_limit(alice_client, project, events):
    project.max_enabled_events = 2
    project.save()
    response = update(alice_client, events["share"], enabled="on")
    assert "“share” stays Off: 2 of 2 are already On" in response.content.decode()
    assert EventDefinition.objects.get(name="share").enabled is False
    update(alice_client, events["signup"], enabled="off")
    update(alice_client, events["share"], enabled="on")
    assert EventDefinition.objects.get(name="share").enabled is True


def test_limit_service_raises_and_turning_off_is_always_allowed(project, events):
    project.max_enabled_events = 1
    project.save()
    with pytest.raises(services.EnabledLimitReached) as refused:
        services.event_definition_set_enabled(definition=events["share"], enabled=True)
    assert refused.value.limit == 1
    assert services.event_definition_set_enabled(definition=events["signup"], enabled=False).enabled is False
    # Already over the limit (lowered in admin): switching an event that is On "On" again changes nothing.
    assert services.event_definition_set_enabled(definition=events["purchase"], enabled=True).enabled is True


def test_display_name_is_edited_and_blank_goes_back_to_the_name(alice_client, events):
    response = update(alice_client, events["signup"], display_name="  Sign-up completed ")
    assert EventDefinition.objects.get(name="signup").display_name == "Sign-up completed"
    assert "“signup” is now shown as “Sign-up completed”." in response.content.decode()
    update(alice_client, events["signup"], display_name="")
    assert EventDefinition.objects.get(name="signup").display_name == "signup"
    update(alice_client, events["signup"], display_name="x" * 192)
    assert EventDefinition.objects.get(name="signup").display_name == "signup"


def test_after_a_change_the_list_stays_on_its_page_and_search(alice_client, events):
    url = reverse("dashboard:event_definition_update", args=[events["signup"].project.app_id, events["signup"].pk])
    response = alice_client.post(url, {"enabled": "off", "page": "2", "q": "sig"})
    assert response.url.endswith("/events/settings/?page=2&q=sig")


def test_profile_settings_lists_keys_with_types_and_toggles_within_the_limit(alice_client, project):
    plan = ProfileKey.objects.create(project=project, name="plan", type="string")
    points = ProfileKey.objects.create(project=project, name="points", type="int", enabled=False)
    project.max_enabled_profile_keys = 1
    project.save()
    url = reverse("dashboard:profile_settings", args=[project.app_id])
    response = alice_client.get(url)
    assert [(k.name, k.get_type_display()) for k in response.context["items"]] == [("plan", "string"), ("points", "int")]
    assert (response.context["used"], response.context["limit"]) == (1, 1)
    toggle = reverse("dashboard:profile_key_update", args=[project.app_id, points.pk])
    refused = alice_client.post(toggle, {"enabled": "on"}, follow=True).content.decode()
    assert "“points” stays Off: 1 of 1 are already On" in refused
    alice_client.post(reverse("dashboard:profile_key_update", args=[project.app_id, plan.pk]), {"enabled": "off"})
    alice_client.post(toggle, {"enabled": "on"})
    assert list(ProfileKey.objects.filter(enabled=True).values_list("name", flat=True)) == ["points"]


def test_profile_key_types_cannot_be_changed_from_the_page(alice_client, project):
    key = ProfileKey.objects.create(project=project, name="points", type="int")
    alice_client.post(reverse("dashboard:profile_key_update", args=[project.app_id, key.pk]), {"enabled": "on", "type": "string"})
    assert ProfileKey.objects.get().type == "int"


def test_empty_settings_pages_say_what_to_do(alice_client, project):
    events_page = alice_client.get(reverse("dashboard:event_settings", args=[project.app_id])).content.decode()
    assert "No events yet. An event appears here the first time an import records it." in events_page
    keys_page = alice_client.get(reverse("dashboard:profile_settings", args=[project.app_id])).content.decode()
    assert "No profile keys yet." in keys_page
