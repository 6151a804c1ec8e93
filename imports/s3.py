"""The import bucket: boto3 clients built from settings, streaming reads, and the providers that
issue customers' access keys limited to their project's prefix (docs/operations.md)."""

from __future__ import annotations

import functools
import json
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from botocore.response import StreamingBody

IAM_USER_PATH = "/repro-dashboard/"
IAM_POLICY_NAME = "repro-import-prefix"


class NotConfigured(Exception):
    """S3 is not in use on this server (IMPORT_BUCKET is unset: the embedded mode)."""


def is_configured() -> bool:
    return bool(settings.IMPORT_BUCKET)


def import_bucket() -> str:
    if not is_configured():
        raise NotConfigured("Amazon S3 is not configured on this server (set IMPORT_BUCKET)")
    return settings.IMPORT_BUCKET


def client(service: str) -> Any:
    """A boto3 client for ``s3`` or ``iam`` with the app's own credentials."""
    endpoint_url = settings.AWS_IAM_ENDPOINT_URL if service == "iam" else settings.AWS_S3_ENDPOINT_URL
    return _client(
        service, endpoint_url, settings.AWS_S3_REGION_NAME, settings.AWS_ACCESS_KEY_ID, settings.AWS_SECRET_ACCESS_KEY
    )


@functools.lru_cache(maxsize=8)
def _client(service, endpoint_url, region_name, access_key_id, secret_access_key) -> Any:
    # Clients are thread-safe and slow to build, so they are shared; keyed by the settings they use.
    # S3 signs with version 4 explicitly: for pre-signing, botocore may otherwise pick the legacy
    # signature, which cannot bind the Content-MD5 and Content-Type headers of API v3's URLs.
    return boto3.session.Session().client(
        service,
        endpoint_url=endpoint_url,
        region_name=region_name,
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        config=Config(signature_version="s3v4") if service == "s3" else None,
    )


# The bucket check (imports/checks.py) runs on every start: it gives up quickly instead of retrying.
_PROBE_CONFIG = Config(connect_timeout=5, read_timeout=10, retries={"max_attempts": 1})
PROBE_KEY = ".repro-dashboard/write-check"


@dataclass(frozen=True)
class BucketProblem:
    code: str  # "missing", "unreadable" or "unwritable"
    detail: str


def bucket_problem() -> BucketProblem | None:
    """Why the import bucket cannot be used by the app's own credentials, or None: it is looked
    up, then a small object is written under PROBE_KEY and deleted again."""
    client = boto3.session.Session().client(
        "s3",
        endpoint_url=settings.AWS_S3_ENDPOINT_URL,
        region_name=settings.AWS_S3_REGION_NAME,
        aws_access_key_id=settings.AWS_ACCESS_KEY_ID,
        aws_secret_access_key=settings.AWS_SECRET_ACCESS_KEY,
        config=_PROBE_CONFIG,
    )
    bucket = import_bucket()
    try:
        client.head_bucket(Bucket=bucket)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("404", "NoSuchBucket", "NotFound"):
            return BucketProblem("missing", code)
        return BucketProblem("unreadable", f"{code} {exc.response.get('Error', {}).get('Message', '')}".strip())
    except BotoCoreError as exc:
        return BucketProblem("unreadable", str(exc))
    try:
        client.put_object(Bucket=bucket, Key=PROBE_KEY, Body=b"")
        client.delete_object(Bucket=bucket, Key=PROBE_KEY)
    except ClientError as exc:
        return BucketProblem("unwritable", exc.response.get("Error", {}).get("Code", "") or str(exc))
    except BotoCoreError as exc:
        return BucketProblem("unwritable", str(exc))
    return None


def object_open(key: str, *, etag: str = "") -> StreamingBody:
    """The object's body as it arrives over HTTP: nothing is downloaded ahead of the reader.

    With ``etag``, S3 answers PreconditionFailed if the key now holds another object.
    """
    params = {"Bucket": import_bucket(), "Key": key}
    if etag:
        params["IfMatch"] = f'"{etag}"'
    return client("s3").get_object(**params)["Body"]


@dataclass(frozen=True)
class IssuedKey:
    access_key_id: str
    secret_access_key: str = field(repr=False)
    provider_user: str


class AccessKeyProvider(Protocol):
    """Makes keys that may write only under ``<bucket>/<app_id>/``, and deletes them."""

    def key_issue(self, *, bucket: str, app_id: str) -> IssuedKey: ...

    def key_delete(self, *, access_key_id: str, provider_user: str) -> None: ...


def access_key_provider() -> AccessKeyProvider:
    return import_string(settings.S3_ACCESS_KEY_PROVIDER)()


def prefix_policy(*, bucket: str, app_id: str, partition: str = "aws") -> dict[str, Any]:
    """Put objects (multipart uploads included) and list, only under the project's prefix."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "WriteUnderProjectPrefix",
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
                "Resource": f"arn:{partition}:s3:::{bucket}/{app_id}/*",
            },
            {
                "Sid": "ListProjectPrefix",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": f"arn:{partition}:s3:::{bucket}",
                "Condition": {"StringLike": {"s3:prefix": [f"{app_id}/*"]}},
            },
        ],
    }


class IamAccessKeyProvider:
    """AWS IAM, or a server speaking its API: one IAM user per key, holding an inline prefix policy.

    A user per key (not per project) makes revoking one key independent of the others.
    """

    def key_issue(self, *, bucket: str, app_id: str) -> IssuedKey:
        iam = client("iam")
        user = f"repro-{app_id}-{secrets.token_hex(4)}"
        partition = boto3.session.Session().get_partition_for_region(settings.AWS_S3_REGION_NAME)
        iam.create_user(UserName=user, Path=IAM_USER_PATH)
        try:
            iam.put_user_policy(
                UserName=user,
                PolicyName=IAM_POLICY_NAME,
                PolicyDocument=json.dumps(prefix_policy(bucket=bucket, app_id=app_id, partition=partition)),
            )
            key = iam.create_access_key(UserName=user)["AccessKey"]
        except Exception:
            # Nothing may stay behind at the provider for a key nobody received.
            self._user_delete(iam, user)
            raise
        return IssuedKey(
            access_key_id=key["AccessKeyId"], secret_access_key=key["SecretAccessKey"], provider_user=user
        )

    def key_delete(self, *, access_key_id: str, provider_user: str) -> None:
        iam = client("iam")
        _ignore_missing(iam.delete_access_key, UserName=provider_user, AccessKeyId=access_key_id)
        self._user_delete(iam, provider_user)

    @staticmethod
    def _user_delete(iam: Any, user: str) -> None:
        _ignore_missing(iam.delete_user_policy, UserName=user, PolicyName=IAM_POLICY_NAME)
        _ignore_missing(iam.delete_user, UserName=user)


def _ignore_missing(call: Any, **params: str) -> None:
    """Deleting what is already gone succeeds, so an interrupted revoke can simply be repeated."""
    try:
        call(**params)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "NoSuchEntity":
            raise
