"""User Profile Bulk Import rules (SPEC 4): header checks, type inference, value
coercion, and how typed values are kept in a JSON column."""

from __future__ import annotations

import re
from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from enum import Enum
from itertools import compress, islice, repeat
from operator import is_, itemgetter, not_

from imports.core.i18n import gettext_noop
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

MAX_HEADER_BYTES = 102_400
MAX_KEY_CHARS = 255
INFERENCE_ROWS = 1000
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
USER_ID = "user_id"
_KEY_SHOWN_CHARS = 32  # of an over-long key, in its message

MESSAGE_NOT_UTF8 = gettext_noop("{key} should be UTF-8")
MESSAGE_KEY_TOO_LONG = gettext_noop("{key}… is longer than {limit} characters")
MESSAGE_USER_ID_REQUIRED = gettext_noop("user_id column is required")
MESSAGE_SHOULD_BE_INTEGER = gettext_noop("{key} should be integer")
MESSAGE_SHOULD_BE_DECIMAL = gettext_noop("{key} should be decimal")
MESSAGE_SHOULD_BE_DATETIME = gettext_noop("{key} should be iso8601 format")
MESSAGE_UNREGISTERED_USER = gettext_noop("user_id is unregistered user")
MESSAGE_PROFILE_LIMIT = gettext_noop("This app has exceeded the limit of enabled user profile({limit})")

_INTEGER = re.compile(r"-?[0-9]+")
_DECIMAL = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_INT64_DIGITS = 19
_DATETIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})"
    r"(?:T([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]+))?)?(Z|[+-][0-9]{2}(?::?[0-9]{2})?)?)?"
)


class ProfileType(str, Enum):
    STRING = "string"
    INT = "int"
    DECIMAL = "decimal"
    DATETIME = "datetime"


_TYPE_MESSAGES = {
    ProfileType.INT: MESSAGE_SHOULD_BE_INTEGER,
    ProfileType.DECIMAL: MESSAGE_SHOULD_BE_DECIMAL,
    ProfileType.DATETIME: MESSAGE_SHOULD_BE_DATETIME,
}

TypedValue = int | Decimal | datetime | str


@dataclass(frozen=True, slots=True)
class ProfileColumns:
    user_id: int
    keys: dict[str, int]  # profile key -> column, in header order
    width: int  # header columns, an ignored REPRO_ERRORS included


@dataclass(frozen=True, slots=True)
class ValidProfile:
    user_id: str
    values: dict[str, TypedValue]  # only the keys this row changes


def profile_columns(header: Header) -> ProfileColumns:
    """Check the header (each name is a profile key) and say where each key is."""
    names = header.names
    for name in names:
        if has_bad_utf8(name):
            raise FileFormatError(Message(MESSAGE_NOT_UTF8, key=printable(name)))
    if not names or not all(names):
        raise FileFormatError(Message(MESSAGE_EMPTY_COLUMNS))
    for name in names:
        if len(name) > MAX_KEY_CHARS:
            raise FileFormatError(Message(MESSAGE_KEY_TOO_LONG, key=name[:_KEY_SHOWN_CHARS], limit=MAX_KEY_CHARS))
    if repeated := duplicates([name for name in names if name != ERRORS_COLUMN]):
        raise FileFormatError(Message(MESSAGE_DUPLICATE_COLUMNS, names=", ".join(repeated)))
    if USER_ID not in names:
        raise FileFormatError(Message(MESSAGE_USER_ID_REQUIRED))
    keys = {name: i for i, name in enumerate(names) if name not in (USER_ID, ERRORS_COLUMN)}
    return ProfileColumns(user_id=names.index(USER_ID), keys=keys, width=len(names))


def check_profile_key_limit(*, new_keys: int, enabled_count: int, limit: int) -> None:
    """Fail the file when its new keys would take the project over its limit."""
    if enabled_count + new_keys > limit:
        raise FileFormatError(Message(MESSAGE_PROFILE_LIMIT, limit=limit))


def infer_type(values: Iterable[str]) -> ProfileType:
    """The type of a new key from its values; empty values say nothing."""
    guess = _Guess()
    for value in values:
        if value:
            guess.add(value)
    return guess.result()


def infer_types(
    records: Iterable[Record],
    columns: ProfileColumns,
    known: Mapping[str, ProfileType],
    limit: int = INFERENCE_ROWS,
) -> dict[str, ProfileType]:
    """Types of every key: known keys keep theirs, new keys are inferred from the
    first `limit` rows. Rows with too many values are left out (their values are not
    under the right keys), as are values that are not valid UTF-8."""
    guesses = {key: _Guess() for key in columns.keys if key not in known}
    places = [(columns.keys[key], guess) for key, guess in guesses.items()]
    for record in islice(records, limit):
        values = record.values
        if len(values) > columns.width:
            continue
        for index, guess in places:
            if index < len(values) and (value := values[index]):
                if not (record.bad_utf8 and has_bad_utf8(value)):
                    guess.add(value)
    return {
        key: ProfileType(known[key]) if key in known else guesses[key].result() for key in columns.keys
    }


def coerce(value: str, type_: ProfileType) -> TypedValue:
    """`value` as `type_`, or ValueError. Dates and naive date-times are taken as UTC."""
    if type_ is ProfileType.STRING:
        return value
    if type_ is ProfileType.INT:
        if _INTEGER.fullmatch(value) and (number := _int64(value)) is not None:
            return number
    elif type_ is ProfileType.DECIMAL:
        if _DECIMAL.fullmatch(value):
            return Decimal(value)
    elif (moment := _parse_datetime(value)) is not None:
        return moment
    raise ValueError(f"{value!r} is not {type_.value}")


@dataclass(slots=True)
class CheckedProfiles:
    """A chunk's rows checked: for each valid row (a chunk index, in file order) its user_id and
    the values it sets as they are kept in the JSON column (`to_json_value`), empty ones left
    out; the failed rows with every reason."""

    rows: list[int] = field(default_factory=list)
    user_ids: list[str] = field(default_factory=list)
    values: list[dict[str, int | str]] = field(default_factory=list)
    failed: list[tuple[int, list[str]]] = field(default_factory=list)


# Whole columns checked by one regular expression each (values joined by line breaks, which no
# value that passes can hold); integers of up to 18 digits always fit 64 bits.
_INT_COLUMN = re.compile(r"-?[0-9]{1,18}(?:\n-?[0-9]{1,18})*")
_DECIMAL_COLUMN = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?:\n-?[0-9]+(?:\.[0-9]+)?)*")
# The date-times `_parse_datetime` accepts, offset minutes within 59 (fromisoformat would carry
# 60 into the hour; the precise path refuses it).
_ONE_DATETIME = r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:T[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?(?:Z|[+-][0-9]{2}(?::?[0-5][0-9])?)?)?"
_DATETIME_COLUMN = re.compile(f"{_ONE_DATETIME}(?:\n{_ONE_DATETIME})*")
# Already as isoformat() writes them once valid: whole seconds and an offset (-00:00 reads as +00:00).
_ONE_ISOFORMAT = r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\+[0-9]{2}:[0-5][0-9]|-(?!00:00)[0-9]{2}:[0-5][0-9])"
_ISOFORMAT_COLUMN = re.compile(f"{_ONE_ISOFORMAT}(?:\n{_ONE_ISOFORMAT})*")
_DATE_COLUMN = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:\n[0-9]{4}-[0-9]{2}-[0-9]{2})*")
_MIDNIGHT_UTC = "{}T00:00:00+00:00".format


def check_profiles(
    chunk: Chunk,
    columns: ProfileColumns,
    types: Mapping[str, ProfileType],
    registered: Container[str] | None = None,
) -> CheckedProfiles:
    """Every row of `chunk` checked exactly as `validate_profile` checks it, a column at a time:
    each key's values are checked by one regular expression and converted by C functions
    (int, Decimal, datetime.fromisoformat). A row that any fast check leaves out goes through
    `validate_profile`, which gives the same values or the precise reasons."""
    rows = chunk.rows
    width = columns.width
    precise = set(chunk.bad_utf8)
    lengths = list(map(len, rows))
    if lengths.count(width) != len(rows):
        precise.update(compress(range(len(rows)), map(width.__ne__, lengths)))
    candidates = [i for i in range(len(rows)) if i not in precise] if precise else list(range(len(rows)))
    by_column = list(zip(*(rows[i] for i in candidates) if precise else rows)) or [()] * width
    user_ids = list(by_column[columns.user_id])
    if registered is not None:
        known = list(map(registered.__contains__, user_ids))
        if not all(known):
            precise.update(compress(candidates, map(not_, known)))
    keys = list(columns.keys)
    converted = []
    for key in keys:
        values, bad = _json_column(list(by_column[columns.keys[key]]), types[key])
        precise.update(candidates[i] for i in bad)
        converted.append(values)
    patches = list(map(dict, map(zip, repeat(keys), zip(*converted)))) if keys else [{} for _ in candidates]
    for key, values in zip(keys, converted):
        if None in values:  # empty: the key is left as it is
            for position in compress(range(len(values)), map(is_, values, repeat(None))):
                del patches[position][key]
    checked = CheckedProfiles()
    if precise:
        keep = [index not in precise for index in candidates]
        candidates, user_ids, patches = (list(compress(column, keep)) for column in (candidates, user_ids, patches))
    checked.rows, checked.user_ids, checked.values = candidates, user_ids, patches
    if precise:
        _check_profiles_precisely(checked, chunk, columns, types, registered, sorted(precise))
    return checked


def _json_column(values: list[str], type_: ProfileType) -> tuple[list[int | str | None], list[int]]:
    """A column's values as kept in JSON (None for empty), and the positions of values that
    need the precise path."""
    empty = "" in values
    present = [value for value in values if value] if empty else values
    try:
        json_values = _convert_present(present, type_)
        bad: list[int] = []
    except ValueError:  # some value is not of the type, or not in a form the fast path vouches for
        json_values, bad_present = [], set()
        for position, value in enumerate(present):
            try:
                json_values.append(to_json_value(coerce(value, type_)))
            except ValueError:
                json_values.append(None)
                bad_present.add(position)
        bad = [] if not bad_present else _positions_of(values, bad_present)
    if not empty:
        return json_values, bad
    filled = iter(json_values)
    return [next(filled) if value else None for value in values], bad


def _positions_of(values: list[str], present_positions: set[int]) -> list[int]:
    """Where, among all `values`, the non-empty ones at `present_positions` are."""
    nonempty = [i for i, value in enumerate(values) if value]
    return [nonempty[p] for p in sorted(present_positions)]


def _convert_present(values: list[str], type_: ProfileType) -> list[int | str]:
    """Non-empty values converted at C speed; ValueError when any needs the precise path."""
    if type_ is ProfileType.STRING or not values:
        return values  # type: ignore[return-value]
    joined = "\n".join(values)
    if joined.count("\n") != len(values) - 1:
        raise ValueError("a value holds a line break")
    if type_ is ProfileType.INT:
        if _INT_COLUMN.fullmatch(joined):
            return list(map(int, values))
    elif type_ is ProfileType.DECIMAL:
        if _DECIMAL_COLUMN.fullmatch(joined):
            return list(map(str, map(Decimal, values)))
    elif _ISOFORMAT_COLUMN.fullmatch(joined):
        list(map(datetime.fromisoformat, values))  # ValueError for a date or time that does not exist
        return values  # type: ignore[return-value]
    elif _DATE_COLUMN.fullmatch(joined):
        list(map(date.fromisoformat, values))
        return list(map(_MIDNIGHT_UTC, values))
    elif _DATETIME_COLUMN.fullmatch(joined):
        moments = list(map(datetime.fromisoformat, values))
        return [(moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).isoformat() for moment in moments]
    raise ValueError(type_)


def _check_profiles_precisely(
    checked: CheckedProfiles,
    chunk: Chunk,
    columns: ProfileColumns,
    types: Mapping[str, ProfileType],
    registered: Container[str] | None,
    rows: list[int],
) -> None:
    """Rows the fast checks left out, through `validate_profile`; the valid ones join in file order."""
    valid = []
    for index in rows:
        result = validate_profile(chunk.row(index), columns, types, registered)
        if isinstance(result, list):
            checked.failed.append((index, result))
        else:
            valid.append((index, result.user_id, {key: to_json_value(value) for key, value in result.values.items()}))
    if valid:
        merged = sorted([*zip(checked.rows, checked.user_ids, checked.values), *valid], key=itemgetter(0))
        checked.rows, checked.user_ids, checked.values = map(list, zip(*merged))


def validate_profile(
    record: Record | Row,
    columns: ProfileColumns,
    types: Mapping[str, ProfileType],
    registered: Container[str] | None = None,
) -> ValidProfile | list[str]:
    """The typed values a row sets, or every reason it cannot be applied.

    Empty values leave their key unchanged, and so do fields missing from a short row.
    Errors come in order: too many values, user_id, then the keys in column order.
    `registered` holds the user_ids that exist (the caller looks them up per chunk); None
    skips that check.
    """
    values = record.values
    count = len(values)
    check_text = record.bad_utf8
    errors: list[str] = []
    if count > columns.width:
        errors.append(Message(MESSAGE_TOO_MANY_VALUES))
    user_id = values[columns.user_id] if columns.user_id < count else ""
    if check_text and has_bad_utf8(user_id):
        errors.append(Message(MESSAGE_NOT_UTF8, key=USER_ID))
    elif registered is not None and user_id not in registered:
        errors.append(Message(MESSAGE_UNREGISTERED_USER))
    typed: dict[str, TypedValue] = {}
    for key, index in columns.keys.items():
        if index >= count:
            break
        value = values[index]
        if not value:
            continue
        if check_text and has_bad_utf8(value):
            errors.append(Message(MESSAGE_NOT_UTF8, key=key))
            continue
        try:
            typed[key] = coerce(value, types[key])
        except ValueError:
            errors.append(Message(_TYPE_MESSAGES[types[key]], key=key))
    if errors:
        return errors
    return ValidProfile(user_id=user_id, values=typed)


def to_json_value(value: TypedValue) -> int | str:
    """How a typed value is kept in a JSON column so that it comes back exactly:
    decimals as their digits (a JSON number would become a float), date-times as ISO
    8601 with their offset."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def from_json_value(value: int | str, type_: ProfileType) -> TypedValue:
    """The inverse of `to_json_value`."""
    if type_ is ProfileType.INT:
        return int(value)
    if type_ is ProfileType.DECIMAL:
        return Decimal(value)
    if type_ is ProfileType.DATETIME:
        return datetime.fromisoformat(str(value))
    return value


class _Guess:
    """What a new key's non-empty values so far allow it to be."""

    __slots__ = ("seen", "datetime", "number", "integer")

    def __init__(self) -> None:
        self.seen = False
        self.datetime = self.number = self.integer = True

    def add(self, value: str) -> None:
        self.seen = True
        if self.datetime and _parse_datetime(value) is None:
            self.datetime = False
        if self.number:
            if not _DECIMAL.fullmatch(value):
                self.number = self.integer = False
            elif self.integer and ("." in value or _int64(value) is None):
                # An integer beyond 64 bits still fits a decimal exactly.
                self.integer = False

    def result(self) -> ProfileType:
        if not self.seen:
            return ProfileType.STRING
        if self.datetime:
            return ProfileType.DATETIME
        if self.integer:
            return ProfileType.INT
        if self.number:
            return ProfileType.DECIMAL
        return ProfileType.STRING


def _int64(digits: str) -> int | None:
    # The length check comes first: int() refuses strings of more than 4300 digits.
    if len(digits.lstrip("-")) > _INT64_DIGITS:
        return None
    number = int(digits)
    return number if INT64_MIN <= number <= INT64_MAX else None


def _parse_datetime(value: str) -> datetime | None:
    """An aware datetime for the ISO 8601 forms we accept, else None.

    YYYY-MM-DD, optionally followed by THH:MM[:SS[.fraction]] and Z or an offset
    (±HH:MM, ±HHMM, ±HH). A missing offset means UTC. Digits past microseconds are
    dropped.
    """
    match = _DATETIME.fullmatch(value)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    try:
        return datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            int((fraction or "")[:6].ljust(6, "0")),
            tzinfo=_timezone(offset),
        )
    except ValueError:
        return None


def _timezone(offset: str | None) -> timezone:
    if offset is None or offset == "Z":
        return timezone.utc
    hours = int(offset[1:3])
    minutes = int(offset[-2:]) if len(offset) > 3 else 0
    if minutes > 59:
        raise ValueError(offset)
    delta = timedelta(hours=hours, minutes=minutes)
    return timezone(-delta if offset[0] == "-" else delta)  # refuses 24 hours or more
