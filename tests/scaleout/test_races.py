"""The races parts bring, settled by PostgreSQL: run the same writes from two threads at once, each
with its own connection and transaction, as two parts on two hosts would."""

import threading

import pytest
from django.db import connection, connections, transaction

from imports import importers, services, sinks
from imports.models import AppUser, EventDefinition, ImportJob

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent transactions need PostgreSQL (bin/test runs it when postgresql is installed)"),
    pytest.mark.django_db(transaction=True),
]


def at_once(*calls):
    """Run the calls in threads that start together; each commits its own transaction."""
    barrier = threading.Barrier(len(calls))
    results, errors = [None] * len(calls), []

    def run(index, call):
        try:
            barrier.wait()
            with transaction.atomic():
                results[index] = call()
        except Exception as exc:  # reported below, with the thread's own traceback
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return results


def job_for(project):
    return ImportJob.objects.create(project=project, kind="events", source="command", file_name="f.csv")


def test_two_parts_creating_the_same_new_users_make_each_once(project):
    ids = {f"u{i}" for i in range(3000)}
    first, second = at_once(lambda: sinks.app_user_ids(project, set(ids)), lambda: sinks.app_user_ids(project, set(ids)))
    assert first == second and set(first) == ids
    assert AppUser.objects.filter(project=project).count() == 3000


def test_two_parts_creating_new_events_never_pass_the_limit(project):
    project.max_enabled_events = 5
    project.save()
    job = job_for(project)
    names_a = [f"a{i}" for i in range(4)] + ["shared"]
    names_b = [f"b{i}" for i in range(4)] + ["shared"]
    found_a, found_b = at_once(lambda: importers.event_definitions(job, names_a),
                               lambda: importers.event_definitions(job, names_b))
    assert EventDefinition.objects.filter(project=project).count() == 9  # "shared" made once
    assert EventDefinition.objects.filter(project=project, enabled=True).count() == 5
    assert found_a["shared"] == found_b["shared"]
    turned_off = [d for d in (*found_a.values(), *found_b.values()) if not d.enabled]
    assert turned_off and all(d.added_off for d in turned_off)  # their rows get the limit message


def test_a_click_and_an_import_cannot_both_take_the_last_place(project, alice):
    project.max_enabled_events = 1
    project.save()
    off = EventDefinition.objects.create(project=project, name="old", display_name="old", enabled=False)
    job = job_for(project)

    def click():
        try:
            return services.event_definition_set_enabled(definition=off, enabled=True)
        except services.EnabledLimitReached:
            return "refused"

    planned, clicked = at_once(lambda: importers.event_definitions(job, ["new"]), click)
    assert EventDefinition.objects.filter(project=project, enabled=True).count() == 1
    assert planned["new"].enabled != (clicked != "refused")  # exactly one of them got the place
