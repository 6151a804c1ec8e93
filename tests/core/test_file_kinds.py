import pytest

from imports.core.file_kinds import header_kind


@pytest.mark.parametrize(
    "names,kind",
    [
        (["user_id", "event_name", "event_properties"], "events"),
        (["event_properties", "user_id", "event_name", "REPRO_ERRORS"], "events"),
        (["user_id", "event_name", "event_properties", ""], "events"),  # the job says "empty columns"
        (["user_id", "age"], "user_profiles"),
        (["REPRO_ERRORS", "user_id", "plan"], "user_profiles"),
        (["user_id", "event_name"], "user_profiles"),
        (["user_id", "event_name", "event_properties", "extra"], "user_profiles"),
        (["id", "plan"], None),
        ([""], None),
    ],
)
def test_kind_of_a_header(names, kind):
    assert header_kind(names) == kind
