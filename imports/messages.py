"""The core's user-visible message templates, marked here for translation.

The pure core cannot import Django, so its English templates are listed for makemessages;
``translate`` renders a stored (template, params) pair in the active language.
"""

from django.utils.translation import gettext, gettext_noop

from imports.core import events, profiles, reader

TEMPLATES = (
    gettext_noop("empty file"),
    gettext_noop("newline character not found"),
    gettext_noop("header size over {max_bytes} bytes"),
    gettext_noop("file maybe corrupt"),
    gettext_noop("unterminated quoted field starting on line {line}"),
    gettext_noop("row starting on line {line} is over {limit} bytes"),
    gettext_noop("empty columns"),
    gettext_noop("duplicate columns {names}"),
    gettext_noop("too many values"),
    gettext_noop("too few values"),
    gettext_noop("unknown column: {name}"),
    gettext_noop("missing columns: {names}"),
    gettext_noop("'user_id' is invalid"),
    gettext_noop("'event_name' is invalid"),
    gettext_noop("'event_properties' is invalid: {why}"),
    gettext_noop("not valid UTF-8"),
    gettext_noop("over {limit} bytes"),
    gettext_noop("not valid JSON"),
    gettext_noop("must be a JSON object"),
    gettext_noop("duplicate key '{key}'"),
    gettext_noop("key '{key}…' is longer than {limit} characters"),
    gettext_noop("key '{key}' contains a character that cannot be stored"),
    gettext_noop("value of '{key}' must be a string"),
    gettext_noop("value of '{key}' is longer than {limit} characters"),
    gettext_noop("value of '{key}' contains a character that cannot be stored"),
    gettext_noop("event '{name}' is turned off"),
    gettext_noop("event limit reached: '{name}' was added turned off"),
    gettext_noop("{key} should be UTF-8"),
    gettext_noop("{key}… is longer than {limit} characters"),
    gettext_noop("user_id column is required"),
    gettext_noop("{key} should be integer"),
    gettext_noop("{key} should be decimal"),
    gettext_noop("{key} should be iso8601 format"),
    gettext_noop("user_id is unregistered user"),
    gettext_noop("This app has exceeded the limit of enabled user profile({limit})"),
    gettext_noop("too many rows: {rows} (limit 1,000,000)"),
    gettext_noop("the file changed while it was being imported"),
    gettext_noop("The import stopped because of an internal error. Please try again or contact support."),
)

CORE_MODULES = (reader, events, profiles)


def translate(template: str, params: dict) -> str:
    return gettext(template).format(**params)
