"""S3 and IAM over real HTTP: one moto server for the whole session, reset before each test.

The server runs in a child process so that its own memory (moto keeps objects it serves in
memory) never counts in the RSS the streaming test measures.
"""

import os
import subprocess
import sys
import urllib.request
from contextlib import contextmanager

import boto3
import pytest

from imports import s3

BUCKET = "repro-test-imports"
REGION = "us-east-1"

MOTO_SERVER = """
import logging, sys
from moto.server import ThreadedMotoServer
logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request in the test output
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()  # serve until the test session closes this pipe (or dies)
server.stop()
"""


@pytest.fixture(scope="session")
def moto_url():
    # Tests switch IAM enforcement on and off through /moto-api/reset-auth; it starts off.
    env = {key: value for key, value in os.environ.items() if key != "INITIAL_NO_AUTH_ACTION_COUNT"}
    server = subprocess.Popen(
        [sys.executable, "-c", MOTO_SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True
    )
    try:
        port = int(server.stdout.readline())
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stdin.close()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


def moto_post(url: str, body: bytes = b"") -> None:
    # Not a form: Flask would parse a form body away and moto would read an empty request.data.
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "text/plain"})
    with urllib.request.urlopen(request) as response:
        assert response.status == 200


@pytest.fixture
def s3_bucket(settings, moto_url):
    """The app configured as with IMPORT_BUCKET and AWS_* set, against an empty moto; the bucket's name."""
    moto_post(f"{moto_url}/moto-api/reset")
    settings.IMPORT_BUCKET = settings.IMPORT_BUCKET_NAME = BUCKET
    settings.AWS_S3_ENDPOINT_URL = settings.AWS_IAM_ENDPOINT_URL = moto_url
    settings.AWS_S3_REGION_NAME = REGION
    settings.AWS_ACCESS_KEY_ID = "app-access-key"
    settings.AWS_SECRET_ACCESS_KEY = "app-secret-key"
    # Django swaps default_storage when STORAGES changes: dashboard uploads now go to the bucket too.
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": BUCKET,
                "endpoint_url": moto_url,
                "region_name": REGION,
                "access_key": settings.AWS_ACCESS_KEY_ID,
                "secret_key": settings.AWS_SECRET_ACCESS_KEY,
                "file_overwrite": False,
                "default_acl": None,
            },
        },
    }
    s3.client("s3").create_bucket(Bucket=BUCKET)
    return BUCKET


@pytest.fixture
def iam_enforced(moto_url):
    """A context in which moto checks every request's signature and IAM policy.

    moto lets requests through unchecked until INITIAL_NO_AUTH_ACTION_COUNT requests were made;
    posting 0 to /moto-api/reset-auth enforces from the next request on. The app's own test
    credentials are not IAM users, so only customer keys can be used inside this context.
    """

    @contextmanager
    def enforced():
        moto_post(f"{moto_url}/moto-api/reset-auth", b"0")
        try:
            yield
        finally:
            moto_post(f"{moto_url}/moto-api/reset-auth", b"inf")

    return enforced


@pytest.fixture
def customer_s3(moto_url):
    """An S3 client as a customer's nightly job would make it, with an issued key."""

    def make(access_key_id: str, secret_access_key: str):
        return boto3.session.Session().client(
            "s3",
            endpoint_url=moto_url,
            region_name=REGION,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
        )

    return make


@pytest.fixture
def put_object(s3_bucket):
    """Upload bytes with the app's credentials; returns the object's ETag without quotes."""

    def put(key: str, body: bytes = b"user_id,event_name,event_properties\nu1,opened,\n") -> str:
        return s3.client("s3").put_object(Bucket=s3_bucket, Key=key, Body=body)["ETag"].strip('"')

    return put
