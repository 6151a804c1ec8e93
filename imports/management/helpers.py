from django.core.management.base import CommandError

from imports.models import Project


def project_from_app_id(app_id: str) -> Project:
    """Operators name projects by app ID; an unknown one stops the command with a clear message."""
    project = Project.objects.filter(app_id=app_id).first()
    if project is None:
        raise CommandError(f"no project with app ID {app_id}")
    return project
