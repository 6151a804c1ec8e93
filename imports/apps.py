from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class ImportsConfig(AppConfig):
    name = "imports"
    verbose_name = _("Repro Dashboard imports")

    def ready(self):
        from imports import checks, schedules  # noqa: F401  (checks registers itself)

        # After every migrate rather than here: ready() must not touch the database.
        post_migrate.connect(schedules.schedules_sync, sender=self, dispatch_uid="imports.schedules")
