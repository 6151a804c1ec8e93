"""SPEC 6's bodies byte for byte: 401 and 403 for the token, 404 for unknown paths, 405 for other
methods; none of them counts against the rate limit."""

import pytest

from imports import services
from imports.models import ImportJob

V3 = "/v3/user_profiles/bulk_import"
V2 = "/v2/user_profiles/bulk_import"

BODY_401 = (
    b'{"status":"unauthorized","error":{"messages":'
    b'["Please include your Repro API Token as \\"X-Repro-Token\\" HTTP header."]}}'
)
BODY_403 = (
    b'{"status":"forbidden","error":{"messages":'
    b'["Please check your Repro API Token as \\"X-Repro-Token\\" HTTP header."]}}'
)
BODY_404 = b'{"status":"not_found","error":{"messages":["Not found."]}}'


@pytest.mark.parametrize("path", [V3, V2])
@pytest.mark.parametrize("token", [None, "", "   "])
def test_request_without_a_token_gets_401(api, path, token):
    reply = api(path, b"{}", token=token, headers={} if token is None else {"X-Repro-Token": token})
    assert (reply.status, reply.body) == (401, BODY_401)
    assert reply.headers["Content-Type"] == "application/json"
    assert "X-RateLimit-Limit" not in reply.headers


@pytest.mark.parametrize("path", [V3, V2])
def test_request_with_a_wrong_token_gets_403(api, path):
    reply = api(path, b"{}", token="not-the-token")
    assert (reply.status, reply.body) == (403, BODY_403)


def test_a_reissued_token_replaces_the_old_one_at_once(api, project, token):
    services.api_token_reissue(project=project)
    assert api(V2, b"user_id\n", token=token, content_type="text/csv").status == 403


def test_a_token_imports_into_its_own_project(api, make_project, project):
    other = make_project("Other")
    reply = api(V2, b"user_id,plan\n", token=services.api_token_reissue(project=other), content_type="text/csv")
    assert reply.status == 202
    assert ImportJob.objects.get().project == other


@pytest.mark.parametrize(
    "path", ["/v3/", "/v3/user_profiles", "/v3/user_profiles/bulk_import/", "/v3/events/bulk_import", "/v2/nothing"]
)
@pytest.mark.parametrize("method", ["GET", "POST", "PUT"])
def test_unknown_path_under_v2_or_v3_gets_404(api, path, method):
    reply = api(path, b"{}", method=method)
    assert (reply.status, reply.body) == (404, BODY_404)
    assert api(path, b"{}", method=method, token=None).status == 404


@pytest.mark.parametrize("path", [V3, V2])
@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_other_methods_on_an_endpoint_get_405_with_allow(api, path, method):
    reply = api(path, None if method in ("GET", "DELETE", "OPTIONS") else b"", method=method, token=None)
    assert reply.status == 405
    assert reply.headers["Allow"] == "POST"
    assert reply.json() == {"status": "method_not_allowed", "error": {"messages": ["Method not allowed."]}}


def test_failed_and_refused_requests_do_not_use_up_the_limit(api):
    for _ in range(12):
        assert api(V3, b"{}", token="wrong").status == 403
        assert api("/v3/nope", b"{}").status == 404
    reply = api(V3, b"{}")
    assert reply.headers["X-RateLimit-Remaining"] == "9"


def test_v2_says_it_is_deprecated_in_every_answer(api):
    assert api(V2, b"user_id\n", content_type="text/csv").headers["Deprecation"] == "@1630335600"
    assert api(V2, b"", token=None).headers["Deprecation"] == "@1630335600"
    assert "Deprecation" not in api(V3, b"{}").headers
