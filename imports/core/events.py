"""Event Bulk Tracking rules (SPEC 3): which columns a file has, whether a row is a
valid event, and which new event definitions get turned on."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Annotated

from imports.core.i18n import gettext_noop
from imports.core.limits import MAX_NAME_CHARS
import msgspec

from imports.core.chunks import Chunk, Row
from imports.core.reader import (
    ERRORS_COLUMN,
    MESSAGE_DUPLICATE_COLUMNS,
    MESSAGE_EMPTY_COLUMNS,
    MESSAGE_TOO_MANY_VALUES,
    FileFormatError,
    Header,
    Message,
    Record,
    duplicates,
    has_bad_utf8,
    printable,
)

EVENT_COLUMNS = ("user_id", "event_name", "event_properties")
RESERVED_PREFIX = "___repro___"
MAX_PROPERTY_KEY_CHARS = 48
MAX_PROPERTY_VALUE_CHARS = 191
MAX_PROPERTIES_BYTES = 10_240

MESSAGE_UNKNOWN_COLUMN = gettext_noop("unknown column: {name}")
MESSAGE_MISSING_COLUMNS = gettext_noop("missing columns: {names}")
MESSAGE_TOO_FEW_VALUES = gettext_noop("too few values")
MESSAGE_USER_ID_INVALID = gettext_noop("'user_id' is invalid")
MESSAGE_EVENT_NAME_INVALID = gettext_noop("'event_name' is invalid")
# `why` is itself a Message built from one of the WHY_ templates.
MESSAGE_PROPERTIES_INVALID = gettext_noop("'event_properties' is invalid: {why}")
WHY_NOT_UTF8 = gettext_noop("not valid UTF-8")
WHY_TOO_LARGE = gettext_noop("over {limit} bytes")
WHY_NOT_JSON = gettext_noop("not valid JSON")
WHY_NOT_OBJECT = gettext_noop("must be a JSON object")
WHY_DUPLICATE_KEY = gettext_noop("duplicate key '{key}'")
WHY_KEY_TOO_LONG = gettext_noop("key '{key}…' is longer than {limit} characters")
WHY_KEY_UNSTORABLE = gettext_noop("key '{key}' contains a character that cannot be stored")
WHY_VALUE_NOT_STRING = gettext_noop("value of '{key}' must be a string")
WHY_VALUE_TOO_LONG = gettext_noop("value of '{key}' is longer than {limit} characters")
WHY_VALUE_UNSTORABLE = gettext_noop("value of '{key}' contains a character that cannot be stored")
MESSAGE_EVENT_OFF = gettext_noop("event '{name}' is turned off")
MESSAGE_EVENT_LIMIT = gettext_noop("event limit reached: '{name}' was added turned off")


@dataclass(frozen=True, slots=True)
class EventColumns:
    user_id: int
    event_name: int
    event_properties: int
    width: int  # header columns, an ignored REPRO_ERRORS included


@dataclass(frozen=True, slots=True)
class ValidEvent:
    user_id: str
    event_name: str
    properties: dict[str, str]
    # The JSON as written ("{}" when empty), stored without re-encoding; not part of equality.
    properties_json: str = field(default="{}", compare=False)


def event_columns(header: Header) -> EventColumns:
    """Where the three event columns are; any other column fails the file."""
    names = [name for name in header.names if name != ERRORS_COLUMN]
    for name in names:
        if not name:
            raise FileFormatError(Message(MESSAGE_EMPTY_COLUMNS))
        if name not in EVENT_COLUMNS:
            raise FileFormatError(Message(MESSAGE_UNKNOWN_COLUMN, name=printable(name)))
    if repeated := duplicates(names):
        raise FileFormatError(Message(MESSAGE_DUPLICATE_COLUMNS, names=", ".join(repeated)))
    if missing := [name for name in EVENT_COLUMNS if name not in names]:
        raise FileFormatError(Message(MESSAGE_MISSING_COLUMNS, names=", ".join(missing)))
    index = {name: i for i, name in enumerate(header.names)}
    return EventColumns(
        user_id=index["user_id"],
        event_name=index["event_name"],
        event_properties=index["event_properties"],
        width=len(header.names),
    )


@dataclass(slots=True)
class CheckedEvents:
    """A chunk's rows checked: the valid events as columns (what COPY wants, with no object per
    row), and the failed rows with every reason. Both in file order; rows are chunk indexes."""

    rows: list[int] = field(default_factory=list)
    user_ids: list[str] = field(default_factory=list)
    event_names: list[str] = field(default_factory=list)
    # Each event's properties as a strict JSON object: as written ("{}" for an empty field), or
    # re-encoded when the text held raw control characters (accepted, but not JSON).
    properties_json: list[str] = field(default_factory=list)
    failed: list[tuple[int, list[str]]] = field(default_factory=list)

    def events(self) -> Iterator[tuple[int, ValidEvent]]:
        """The valid events as objects, properties parsed again: for code that wants them one by one."""
        for row, user_id, event_name, text in zip(self.rows, self.user_ids, self.event_names, self.properties_json):
            yield row, ValidEvent(user_id, event_name, json.loads(text), text)


# A typed C decoder checks the common case (an object of short strings) in one call; what it
# cannot vouch for (escaped quotes, a NUL escape, raw control characters, the byte limit) is
# left to `validate_event`, as are duplicate keys, which the decoder lets through.
_PROPERTIES = msgspec.json.Decoder(
    dict[
        Annotated[str, msgspec.Meta(max_length=MAX_PROPERTY_KEY_CHARS)],
        Annotated[str, msgspec.Meta(max_length=MAX_PROPERTY_VALUE_CHARS)],
    ]
)
_SURELY_SMALL_CHARS = MAX_PROPERTIES_BYTES // 4  # a UTF-8 character is at most 4 bytes
_CONTROL_CHARACTER = re.compile("[\x00-\x1f]")
_STRICT_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def check_events(chunk: Chunk, columns: EventColumns) -> CheckedEvents:
    """Every row of `chunk` checked exactly as `validate_event` checks it, at C speed for rows
    that pass: a row the fast checks cannot accept goes through `validate_event`, which then
    gives the same event or the precise reasons."""
    checked = CheckedEvents()
    fields = itemgetter(columns.user_id, columns.event_name, columns.event_properties)
    width = columns.width
    decode = _PROPERTIES.decode
    bad_utf8 = chunk.bad_utf8
    add_row, add_user_id = checked.rows.append, checked.user_ids.append
    add_event_name, add_json = checked.event_names.append, checked.properties_json.append
    precise: list[int] = []
    pairs = 0
    for index, values in enumerate(chunk.rows):
        if len(values) == width and index not in bad_utf8:
            user_id, event_name, text = fields(values)
            if (
                0 < len(user_id) <= MAX_NAME_CHARS
                and 0 < len(event_name) <= MAX_NAME_CHARS
                and not event_name.startswith(RESERVED_PREFIX)
                and len(text) <= _SURELY_SMALL_CHARS
                and '\\"' not in text
                and "\\u0000" not in text
            ):
                try:
                    pairs += len(decode(text)) if text else 0
                except (msgspec.DecodeError, UnicodeEncodeError):
                    pass
                else:
                    add_row(index)
                    add_user_id(user_id)
                    add_event_name(event_name)
                    add_json(text or "{}")
                    continue
        precise.append(index)
    # Without escaped quotes every quote delimits a key or a value: 4 a pair, more with a key given twice.
    if "".join(checked.properties_json).count('"') != 4 * pairs:
        precise.extend(_drop_repeated_keys(checked))
        precise.sort()
    if precise:
        _check_precisely(checked, chunk, columns, precise)
    return checked


def _drop_repeated_keys(checked: CheckedEvents) -> list[int]:
    """Take the events whose properties give a key twice out of `checked`; returns their rows."""
    texts = checked.properties_json
    repeated = {i for i, text in enumerate(texts) if text.count('"') != 4 * len(_PROPERTIES.decode(text))}
    rows = [checked.rows[i] for i in sorted(repeated)]
    for column in (checked.rows, checked.user_ids, checked.event_names, checked.properties_json):
        column[:] = [value for i, value in enumerate(column) if i not in repeated]
    return rows


def _check_precisely(checked: CheckedEvents, chunk: Chunk, columns: EventColumns, rows: list[int]) -> None:
    """Rows the fast checks left out, through `validate_event`; the valid ones join the columns
    in file order."""
    valid: list[tuple[int, ValidEvent]] = []
    for index in rows:
        result = validate_event(chunk.row(index), columns)
        if isinstance(result, list):
            checked.failed.append((index, result))
        else:
            valid.append((index, result))
    if not valid:
        return
    merged = sorted(
        [*zip(checked.rows, checked.user_ids, checked.event_names, checked.properties_json),
         *((index, event.user_id, event.event_name, _strict_json(event)) for index, event in valid)]
    )
    checked.rows, checked.user_ids, checked.event_names, checked.properties_json = map(list, zip(*merged))


def _strict_json(event: ValidEvent) -> str:
    """The properties as written, unless raw control characters make that text not JSON."""
    text = event.properties_json
    return _STRICT_JSON(event.properties) if _CONTROL_CHARACTER.search(text) else text


def validate_event(record: Record | Row, columns: EventColumns) -> ValidEvent | list[str]:
    """The event a row describes, or every reason it cannot be recorded.

    A row shorter than the header gets "too few values" and its present fields are
    still checked; the missing ones are not reported again.
    """
    values = record.values
    count = len(values)
    errors: list[str] = []
    if count > columns.width:
        errors.append(Message(MESSAGE_TOO_MANY_VALUES))
    elif count < columns.width:
        errors.append(Message(MESSAGE_TOO_FEW_VALUES))
    check_text = record.bad_utf8
    user_id = values[columns.user_id] if columns.user_id < count else None
    if user_id is not None and not _is_valid_name(user_id, check_text):
        errors.append(Message(MESSAGE_USER_ID_INVALID))
    event_name = values[columns.event_name] if columns.event_name < count else None
    if event_name is not None and (
        not _is_valid_name(event_name, check_text) or event_name.startswith(RESERVED_PREFIX)
    ):
        errors.append(Message(MESSAGE_EVENT_NAME_INVALID))
    properties: dict[str, str] = {}
    properties_json = ""
    if columns.event_properties < count:
        properties_json = values[columns.event_properties]
        properties, reasons = _parse_properties(properties_json)
        errors.extend(Message(MESSAGE_PROPERTIES_INVALID, why=why) for why in reasons)
    if errors:
        return errors
    return ValidEvent(user_id, event_name, properties, properties_json or "{}")  # type: ignore[arg-type]


def plan_event_definitions(
    names_in_order: Iterable[str], existing: Mapping[str, bool], enabled_count: int, limit: int
) -> dict[str, bool]:
    """For each name not in `existing` (name -> enabled), whether it is created On.

    New names are turned on in order of first appearance while the project stays within
    its limit of enabled events; the rest are created Off.
    """
    plan: dict[str, bool] = {}
    for name in names_in_order:
        if name in existing or name in plan:
            continue
        plan[name] = enabled_count < limit
        if plan[name]:
            enabled_count += 1
    return plan


def event_off_message(name: str) -> Message:
    return Message(MESSAGE_EVENT_OFF, name=name)


def event_limit_message(name: str) -> Message:
    return Message(MESSAGE_EVENT_LIMIT, name=name)


def _is_valid_name(value: str, check_text: bool) -> bool:
    return 0 < len(value) <= MAX_NAME_CHARS and not (check_text and has_bad_utf8(value))


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")  # NaN and Infinity are a Python extension


# Objects become tuples of (key, value) pairs, so duplicate keys stay visible; one decoder
# is reused because json.loads with options builds a new one per call.
_STR_ONLY = {str}
_DECODER = json.JSONDecoder(object_pairs_hook=tuple, parse_constant=_reject_constant, strict=False)


def _parse_properties(text: str) -> tuple[dict[str, str], list[Message]]:
    """Properties as a dict, and one reason per problem (the dict is then unusable).

    Duplicate keys are refused: JSON parsers disagree on which one wins. Raw control
    characters inside strings are accepted (strict=False): a line break typed in a
    spreadsheet cell lands there, and its meaning is plain. The common case (a small
    object of short strings) is decided with a few C-level checks; anything unusual takes
    the detailed path that names every problem.
    """
    if not text:
        return {}, []
    if len(text) * 4 > MAX_PROPERTIES_BYTES or has_bad_utf8(text):
        try:
            size = len(text.encode("utf-8"))
        except UnicodeEncodeError:  # bytes that were not UTF-8 decode to lone surrogates
            return {}, [Message(WHY_NOT_UTF8)]
        if size > MAX_PROPERTIES_BYTES:
            return {}, [Message(WHY_TOO_LARGE, limit=MAX_PROPERTIES_BYTES)]
    try:
        parsed = _DECODER.decode(text)
    except (ValueError, RecursionError):
        return {}, [Message(WHY_NOT_JSON)]
    if type(parsed) is not tuple:  # objects decode to tuples of pairs, anything else is not one
        return {}, [Message(WHY_NOT_OBJECT)]
    properties = dict(parsed)
    values = properties.values()
    if (
        len(properties) == len(parsed)
        and "\\u" not in text  # an escape may spell a character that cannot be stored
        and "\x00" not in text
        and set(map(type, values)) <= _STR_ONLY
        and max(map(len, values), default=0) <= MAX_PROPERTY_VALUE_CHARS
        and max(map(len, properties), default=0) <= MAX_PROPERTY_KEY_CHARS
    ):
        return properties, []
    return properties, _property_reasons(parsed)


def _property_reasons(pairs: tuple[tuple[str, object], ...]) -> list[Message]:
    seen: set[str] = set()
    reasons: list[Message] = []
    for key, value in pairs:
        shown = printable(key)
        if len(key) > MAX_PROPERTY_KEY_CHARS:
            reasons.append(Message(WHY_KEY_TOO_LONG, key=shown[:MAX_PROPERTY_KEY_CHARS], limit=MAX_PROPERTY_KEY_CHARS))
        if has_bad_utf8(key):
            reasons.append(Message(WHY_KEY_UNSTORABLE, key=shown))
        if key in seen:
            reasons.append(Message(WHY_DUPLICATE_KEY, key=shown))
        seen.add(key)
        if not isinstance(value, str):
            reasons.append(Message(WHY_VALUE_NOT_STRING, key=shown))
        elif len(value) > MAX_PROPERTY_VALUE_CHARS:
            reasons.append(Message(WHY_VALUE_TOO_LONG, key=shown, limit=MAX_PROPERTY_VALUE_CHARS))
        elif has_bad_utf8(value):
            reasons.append(Message(WHY_VALUE_UNSTORABLE, key=shown))
    return reasons
