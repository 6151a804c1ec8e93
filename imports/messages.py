"""The core's user-visible message templates, in the active language.

The core marks its English templates where it defines them (``imports.core.i18n``), which is where
makemessages finds them; ``translate`` renders a stored (template, params) pair in the active language.
"""

from django.utils.translation import gettext

from imports.core import events, i18n, limits, profiles, reader

CORE_MODULES = (reader, events, profiles, limits)
TEMPLATES = tuple(dict.fromkeys(i18n.MARKED))


def translate(template: str, params: dict) -> str:
    return gettext(template).format(**params)
