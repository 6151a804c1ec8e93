"""Every user-visible template of the core is marked for translation and translated to Japanese."""

from django.utils import translation

from imports import messages, pipeline


def core_templates():
    for module in (*messages.CORE_MODULES, pipeline):
        for name, value in vars(module).items():
            if name.startswith(("MESSAGE_", "WHY_")) and isinstance(value, str):
                yield f"{module.__name__}.{name}", value


def test_every_core_template_is_listed_for_translation():
    missing = [name for name, template in core_templates() if template not in messages.TEMPLATES]
    assert missing == []


def test_every_template_has_a_japanese_translation():
    with translation.override("ja"):
        untranslated = [t for t in messages.TEMPLATES if translation.gettext(t) == t]
    assert untranslated == []


def test_seed_wording_in_japanese():
    with translation.override("ja"):
        assert messages.translate("'user_id' is invalid", {}) == "'user_id' が不正な値です"
