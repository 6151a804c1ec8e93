"""The OpenAPI document the app serves, and schemathesis against it: a few generated requests per
operation (valid and invalid bodies, with and without the token) and never a 500."""

import gzip

import pytest
import schemathesis
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from imports.api import ratelimit
from tests.api.conftest import http


@schemathesis.serializer("application/gzip")
def _gzip(context, value):
    """The schema says binary: send the generated text gzipped, or the raw bytes as they are."""
    if isinstance(value, bytes):
        return value
    return gzip.compress(str(value).encode("utf-8", "surrogatepass"))


def test_openapi_document_describes_both_endpoints_and_the_token(live_server):
    reply = http(live_server.url + "/api/openapi.json", "GET", None)
    assert reply.status == 200
    document = reply.json()
    v3 = document["paths"]["/v3/user_profiles/bulk_import"]["post"]
    v2 = document["paths"]["/v2/user_profiles/bulk_import"]["post"]
    assert set(v3["responses"]) == {"200", "400", "401", "403", "413", "429", "503"}
    assert set(v2["responses"]) == {"202", "400", "401", "403", "413", "415", "429", "503"}
    for accepted in (v3["responses"]["200"], v2["responses"]["202"]):
        assert {"X-Repro-Job-Id", "Location", "X-RateLimit-Remaining"} <= set(accepted["headers"])
    status = document["paths"]["/v3/import_jobs/{job_id}"]["get"]
    assert set(status["responses"]) == {"200", "401", "403", "404"}
    job = document["components"]["schemas"]["ImportJobStatus"]["properties"]
    assert {"state", "final", "rows", "imported", "failed", "failure_message", "url"} <= set(job)
    assert v2["deprecated"] is True and "deprecated" not in v3
    assert set(v3["responses"]["429"]["headers"]) == {
        "Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"
    }
    assert document["components"]["securitySchemes"]["ReproToken"] == {
        "type": "apiKey", "in": "header", "name": "X-Repro-Token"
    }
    assert http(live_server.url + "/api/docs", "GET", None).status == 200


@pytest.fixture
def api_schema(live_server, s3_bucket, monkeypatch):
    # Every generated request would count: lift the limit so the endpoints themselves are explored.
    monkeypatch.setattr(ratelimit, "LIMIT", 10**9)
    return schemathesis.openapi.from_url(live_server.url + "/api/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@hypothesis_settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_generated_requests_get_documented_answers_and_never_a_500(case, token):
    case.call_and_validate(
        headers={"X-Repro-Token": token},
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
            response_headers_conformance,
        ],
    )
