from django.core.management.base import CommandError

from imports import selectors
from imports.models import Project


def project_from_app_id(app_id: str) -> Project:
    """Operators name projects by app ID; an unknown one stops the command with a clear message."""
    project = selectors.project_get_by_app_id(app_id=app_id)
    if project is None:
        raise CommandError(f"no project with app ID {app_id}")
    return project
