"""The dashboard's strings in the Japanese catalogue are all translated (none left empty or fuzzy)."""

from pathlib import Path

import polib

CATALOGUE = Path(__file__).resolve().parents[2] / "locale" / "ja" / "LC_MESSAGES" / "django.po"
DASHBOARD_SOURCES = ("imports/dashboard/", "templates/dashboard/", "templates/base.html", "templates/registration/")


def test_every_dashboard_string_has_a_japanese_translation():
    untranslated = [
        entry.msgid
        for entry in polib.pofile(str(CATALOGUE))
        if not entry.obsolete
        and any(path.startswith(DASHBOARD_SOURCES) for path, _ in entry.occurrences)
        and (not entry.translated() or "fuzzy" in entry.flags)
    ]
    assert untranslated == []
