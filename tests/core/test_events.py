import io
import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imports.core.chunks import Checkpoint, read_chunks
from imports.core.events import (
    CheckedEvents,
    EventColumns,
    ValidEvent,
    event_columns,
    event_limit_message,
    event_off_message,
    check_events,
    plan_event_definitions,
    validate_event,
)
from imports.core.reader import FileFormatError, open_decompressed, read_header
from tests.core.conftest import read_file

HEADER = b"user_id,event_name,event_properties\n"


def validate(rows: bytes, header: bytes = HEADER) -> list[ValidEvent | list[str]]:
    head, records = read_file(header + rows)
    columns = event_columns(head)
    return [validate_event(record, columns) for record in records]


def one(row: bytes) -> ValidEvent | list[str]:
    (result,) = validate(row + b"\n")
    return result


def csv_field(text: str) -> bytes:
    return ('"' + text.replace('"', '""') + '"').encode()


def props_row(properties: str) -> bytes:
    return b"u1,buy," + csv_field(properties)


def properties_of_size(size: int) -> str:
    """A valid properties object whose UTF-8 text is exactly `size` bytes, mostly 2-byte é."""
    props: dict[str, str] = {}
    while (gap := size - len(json.dumps(props, ensure_ascii=False, separators=(",", ":")).encode())) > 0:
        room = gap - (10 if props else 9)  # ,"k000":""
        take = min(381, room)  # 190 é + 1 x stays within 191 characters
        if 0 < room - take < 11:
            take -= 11  # leave room for one more pair
        props[f"k{len(props):03d}"] = "é" * (take // 2) + "x" * (take % 2)
    text = json.dumps(props, ensure_ascii=False, separators=(",", ":"))
    assert len(text.encode()) == size
    return text


# --- header -----------------------------------------------------------------------


def test_seed_example_file_is_read() -> None:
    rows = b'123456,event_1,"{""key1"":""value1"",""key2"":""value2""}"\n'
    assert validate(rows) == [ValidEvent("123456", "event_1", {"key1": "value1", "key2": "value2"})]


def test_columns_may_come_in_any_order_and_repro_errors_is_ignored() -> None:
    header, _ = read_file(b"REPRO_ERRORS,event_properties,user_id,event_name\n")
    assert event_columns(header) == EventColumns(user_id=2, event_name=3, event_properties=1, width=4)
    assert validate(b'old reason,"{}",u1,buy\n', header=b"REPRO_ERRORS,event_properties,user_id,event_name\n") == [
        ValidEvent("u1", "buy", {})
    ]


def test_unknown_column_fails_the_file() -> None:
    with pytest.raises(FileFormatError, match="^unknown column: price$"):
        validate(b"", header=b"user_id,event_name,event_properties,price\n")


def test_unknown_column_with_invalid_utf8_is_shown_readably() -> None:
    with pytest.raises(FileFormatError, match="^unknown column: pr\ufffdce$"):
        validate(b"", header=b"user_id,event_name,event_properties,pr\xe9ce\n")


def test_empty_column_name_fails_the_file() -> None:
    with pytest.raises(FileFormatError, match="^empty columns$"):
        validate(b"", header=b"user_id,event_name,,event_properties\n")


def test_duplicate_column_fails_the_file() -> None:
    with pytest.raises(FileFormatError, match="^duplicate columns user_id, event_name$"):
        validate(b"", header=b"user_id,event_name,user_id,event_properties,event_name\n")


def test_missing_columns_fail_the_file() -> None:
    with pytest.raises(FileFormatError, match="^missing columns: event_properties$"):
        validate(b"", header=b"user_id,event_name\n")
    with pytest.raises(FileFormatError, match="^missing columns: user_id, event_name, event_properties$"):
        validate(b"", header=b"\n")


# --- user_id and event_name -------------------------------------------------------


@pytest.mark.parametrize("field", ["user_id", "event_name"])
def test_names_up_to_191_characters_are_valid(field: str) -> None:
    name = "あ" * 191
    row = f"{name},buy,\n" if field == "user_id" else f"u1,{name},\n"
    result = validate(row.encode())[0]
    assert isinstance(result, ValidEvent)
    assert getattr(result, field) == name


@pytest.mark.parametrize(
    "row, message",
    [
        (b",buy,", "'user_id' is invalid"),
        ("あ" * 192 + ",buy,", "'user_id' is invalid"),
        (b"u\xff1,buy,", "'user_id' is invalid"),
        (b"u\x001,buy,", "'user_id' is invalid"),
        (b"u1,,", "'event_name' is invalid"),
        ("u1," + "e" * 192 + ",", "'event_name' is invalid"),
        (b"u1,___repro___open,", "'event_name' is invalid"),
        (b"u1,bu\xc3y,", "'event_name' is invalid"),
    ],
)
def test_invalid_names(row: bytes | str, message: str) -> None:
    raw = row.encode() if isinstance(row, str) else row
    assert one(raw) == [message]


def test_reserved_prefix_only_matters_at_the_start() -> None:
    assert isinstance(one(b"u1,open___repro___,"), ValidEvent)


def test_values_are_taken_as_written() -> None:
    assert one(b" u1 , buy ,") == ValidEvent(" u1 ", " buy ", {})


# --- event_properties -------------------------------------------------------------


def test_empty_properties_are_an_empty_object() -> None:
    assert one(b"u1,buy,") == ValidEvent("u1", "buy", {})


@pytest.mark.parametrize(
    "properties, why",
    [
        ("{key: 1}", "not valid JSON"),
        ('{"a": "b"', "not valid JSON"),
        ('{"a": NaN}', "not valid JSON"),
        pytest.param("[" * 5000 + "]" * 5000, "not valid JSON", id="too-deeply-nested"),
        ('["a", "b"]', "must be a JSON object"),
        ('"text"', "must be a JSON object"),
        ("12", "must be a JSON object"),
        ("null", "must be a JSON object"),
        ('{"a": "1", "a": "2"}', "duplicate key 'a'"),
        ('{"price": 12}', "value of 'price' must be a string"),
        ('{"paid": true}', "value of 'paid' must be a string"),
        ('{"note": null}', "value of 'note' must be a string"),
        ('{"tags": ["a"]}', "value of 'tags' must be a string"),
        ('{"item": {"id": "1"}}', "value of 'item' must be a string"),
        ('{"a": "x\\u0000y"}', "value of 'a' contains a character that cannot be stored"),
        ('{"a": "\\ud800"}', "value of 'a' contains a character that cannot be stored"),
        ('{"a\\u0000": "x"}', "key 'a\ufffd' contains a character that cannot be stored"),
    ],
)
def test_invalid_properties(properties: str, why: str) -> None:
    assert one(props_row(properties)) == [f"'event_properties' is invalid: {why}"]


def test_line_break_inside_a_property_value_is_accepted() -> None:
    rows = b'u1,buy,"{""note"":""a\r\nb\tc""}"\n'
    assert validate(rows) == [ValidEvent("u1", "buy", {"note": "a\nb\tc"})]


def test_raw_nul_inside_a_property_value_cannot_be_stored() -> None:
    assert one(b'u1,buy,"{""a"":""x\x00""}"') == [
        "'event_properties' is invalid: value of 'a' contains a character that cannot be stored"
    ]


def test_property_key_up_to_48_characters_is_valid() -> None:
    key = "k" * 48
    assert one(props_row(json.dumps({key: "v"}))) == ValidEvent("u1", "buy", {key: "v"})


def test_property_key_over_48_characters() -> None:
    key = "k" * 48 + "X"
    assert one(props_row(json.dumps({key: "v"}))) == [
        f"'event_properties' is invalid: key '{'k' * 48}…' is longer than 48 characters"
    ]


def test_property_value_up_to_191_characters_is_valid() -> None:
    value = "値" * 191
    assert one(props_row(json.dumps({"a": value}))) == ValidEvent("u1", "buy", {"a": value})


def test_property_value_over_191_characters() -> None:
    assert one(props_row(json.dumps({"a": "v" * 192}))) == [
        "'event_properties' is invalid: value of 'a' is longer than 191 characters"
    ]


def test_properties_up_to_10240_bytes_are_valid() -> None:
    text = properties_of_size(10_240)
    assert len(text) < 10_240  # the limit is in bytes, not characters
    assert isinstance(one(props_row(text)), ValidEvent)


def test_properties_over_10240_bytes() -> None:
    assert one(props_row(properties_of_size(10_241))) == ["'event_properties' is invalid: over 10240 bytes"]


def test_properties_with_invalid_utf8() -> None:
    assert one(b'u1,buy,"{""a"":""\xff""}"') == ["'event_properties' is invalid: not valid UTF-8"]


def test_every_problem_of_a_row_is_listed() -> None:
    properties = json.dumps({"k" * 49: 1, "b": "x" * 192})
    assert one(b",___repro___x," + csv_field(properties)) == [
        "'user_id' is invalid",
        "'event_name' is invalid",
        f"'event_properties' is invalid: key '{'k' * 48}…' is longer than 48 characters",
        f"'event_properties' is invalid: value of '{'k' * 49}' must be a string",
        "'event_properties' is invalid: value of 'b' is longer than 191 characters",
    ]


def test_property_message_keeps_templates_for_translation() -> None:
    (message,) = one(props_row('{"price": 12}'))  # type: ignore[misc]
    assert message.template == "'event_properties' is invalid: {why}"
    assert message.params["why"].template == "value of '{key}' must be a string"
    assert message.params["why"].params == {"key": "price"}


# --- row width --------------------------------------------------------------------


def test_row_with_too_many_values() -> None:
    assert one(b"u1,buy,,extra") == ["too many values"]


def test_row_with_too_few_values_is_still_checked() -> None:
    assert validate(b"u1,buy\n,\nu1\n") == [
        ["too few values"],
        ["too few values", "'user_id' is invalid", "'event_name' is invalid"],
        ["too few values"],
    ]


def test_repro_errors_column_may_hold_anything() -> None:
    header = b"user_id,event_name,event_properties,REPRO_ERRORS\n"
    assert validate(b"u1,buy,,'user_id' is invalid\n", header=header) == [ValidEvent("u1", "buy", {})]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet='ab,"{}:[]\\1_\xff\x00é', max_size=15), min_size=1, max_size=5))
def test_every_row_is_either_valid_or_explained(fields: list[str]) -> None:
    row = ",".join('"' + f.replace('"', '""') + '"' for f in fields).encode("utf-8", "surrogateescape")
    for result in validate(row + b"\n"):
        assert isinstance(result, ValidEvent) or (result and all(isinstance(m, str) and m for m in result))


# --- event definitions ------------------------------------------------------------


def test_new_events_are_turned_on_until_the_limit() -> None:
    plan = plan_event_definitions(["a", "old", "b", "a", "c", "d"], {"old": False}, enabled_count=8, limit=10)
    assert plan == {"a": True, "b": True, "c": False, "d": False}
    assert list(plan) == ["a", "b", "c", "d"]


def test_no_new_event_is_turned_on_at_the_limit() -> None:
    assert plan_event_definitions(["a"], {}, enabled_count=10, limit=10) == {"a": False}


def test_event_outcome_messages() -> None:
    assert event_off_message("buy") == "event 'buy' is turned off"
    assert event_limit_message("buy") == "event limit reached: 'buy' was added turned off"


# --- check_events: the fast path agrees with validate_event -----------------------

JSON_PIECES = st.sampled_from([
    "", "{}", '{"k":"v"}', '{"k": "v"}', ' {"k":"v"} ', '{"k":"v","k":"w"}', '{"k":"v","K":"w"}',
    '{"' + "k" * 48 + '":"v"}', '{"' + "k" * 49 + '":"v"}', '{"k":"' + "v" * 191 + '"}', '{"k":"' + "é" * 192 + '"}',
    '{"\U0001F600":"\U0001F600"}', '{"k":1}', '{"k":null}', '{"k":["v"]}', '{"k":{"a":"b"}}', "[]", '"s"', "1",
    "{broken", '{"k":"v",}', '{"k":"v"} x', '{"k":"a\\"b"}', '{"k":"\\u00e9"}', '{"k":"\\u0000"}', '{"k":"\\ud800"}',
    '{"k":"\\u3042\\/"}', '{"\\u006b":"v","k":"w"}', '{"k":"\\\\"}', '{"k":"' + "\\u00e9" * 191 + '"}',
    '{"k":"a\tb"}', '{"k":"a\nb"}', '\ufeff{"k":"v"}', '{"k":"a\x00b"}', "NaN", '{"k":NaN}', '{"":""}',
    '{"k":"' + "x" * 3000 + '"}',
])
NAMES = st.sampled_from(["u1", "", "x" * 191, "x" * 192, "___repro___e", "e___repro___", "é", "a\x00b", "a,b"])


def csv_value(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\r\n') else text


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(NAMES, NAMES, JSON_PIECES, st.sampled_from([[], ["x"], None]), st.booleans()), max_size=30))
def test_check_events_agrees_with_validate_event(rows: list) -> None:
    lines = []
    for user_id, event_name, properties, extra, bad in rows:
        values = [user_id, event_name] + ([] if extra is None else [properties] + extra)
        line = ",".join(map(csv_value, values)).encode()
        lines.append(line + (b"\xff" if bad else b""))
    data = HEADER + b"\n".join(lines) + b"\n"
    stream = open_decompressed(io.BytesIO(data))
    header = read_header(stream)
    columns = event_columns(header)
    chunks = list(read_chunks(stream, start=Checkpoint.after_header(header), chunk_rows=7))
    expected = [validate_event(record, columns) for record in read_file(data)[1]]
    got: list = []
    for chunk in chunks:
        checked = check_events(chunk, columns)
        results = dict(checked.events()) | dict(checked.failed)
        assert sorted(results) == list(range(len(chunk.rows)))
        assert [row for row, _ in checked.events()] == checked.rows == sorted(checked.rows)
        got.extend(results[index] for index in range(len(chunk.rows)))
        for row, text in zip(checked.rows, checked.properties_json):
            written = expected[chunk.number(row) - 1].properties_json
            assert text == written or re.search("[\x00-\x1f]", written) and not re.search("[\x00-\x1f]", text)
    assert got == expected


def check_one_chunk(data: bytes) -> CheckedEvents:
    stream = open_decompressed(io.BytesIO(data))
    header = read_header(stream)
    (chunk,) = read_chunks(stream, start=Checkpoint.after_header(header))
    return check_events(chunk, event_columns(header))


def test_check_events_keeps_file_order_and_reasons() -> None:
    checked = check_one_chunk(HEADER + b'u1,e,"{""k"":""v""}"\nu2,,\nu3,e,"{""k"":""v"",""k"":""w""}"\nu4,e,\n')
    assert (checked.rows, checked.user_ids, checked.properties_json) == ([0, 3], ["u1", "u4"], ['{"k":"v"}', "{}"])
    assert checked.failed == [
        (1, ["'event_name' is invalid"]),
        (2, ["'event_properties' is invalid: duplicate key 'k'"]),
    ]


def test_check_events_reencodes_raw_control_characters_and_keeps_escapes_as_written() -> None:
    checked = check_one_chunk(HEADER + b'u1,e,"{""k"":""a\tb""}"\nu2,e,"{""k"":""\\u3042""}"\nu3,e,"{""k"":""v""}"\n')
    assert checked.rows == [0, 1, 2]
    assert checked.properties_json == ['{"k":"a\\tb"}', '{"k":"\\u3042"}', '{"k":"v"}']
    assert [event.properties for _, event in checked.events()] == [{"k": "a\tb"}, {"k": "あ"}, {"k": "v"}]
