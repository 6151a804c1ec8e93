"""User-supplied file names never become paths: only a sanitised last component is kept."""

import pytest

from imports.sources import upload_key


@pytest.mark.parametrize(
    "name, kept",
    [("../../etc/passwd", "passwd"), ("..\\..\\boot.ini", "boot.ini"), ("..", "upload.csv"), ("", "upload.csv"),
     ("   ", "upload.csv"), ("a b.csv", "a_b.csv"), ("日本語.csv", "日本語.csv")],
)
def test_upload_key_keeps_a_safe_name_under_the_project(project, name, kept):
    key = upload_key(project=project, kind="events", file_name=name)
    prefix, _, last = key.rpartition("/")
    assert prefix.startswith(f"uploads/{project.app_id}/events/") and prefix.count("/") == 3
    assert last == kept
    assert ".." not in key.split("/")
