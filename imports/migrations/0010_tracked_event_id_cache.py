"""The tracked-event id's sequence hands each session 1,000 values at a time (issue 13): a COPY of
10,000 events then takes the sequence's lock 10 times instead of 10,000. Ids stay unique; across
concurrent imports they are no longer in commit order (nothing reads them in order)."""

from django.db import migrations

FORWARD = (
    "DO $$ BEGIN EXECUTE 'ALTER SEQUENCE ' || pg_get_serial_sequence('imports_trackedevent', 'id') || ' CACHE {}'; END $$"
)


def cache(size: int):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(FORWARD.format(size))

    return run


class Migration(migrations.Migration):
    dependencies = [("imports", "0009_direct_upload_embedded")]

    operations = [migrations.RunPython(cache(1000), cache(1))]
