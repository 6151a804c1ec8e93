"""`manage.py check` warns when the configured import bucket is missing or cannot be written, over
real HTTP against moto; without S3 it checks nothing."""

import io
import json

from django.core.management import call_command

from imports import s3
from imports.checks import import_bucket_check
from tests.support import free_port


def check_output() -> str:
    out, err = io.StringIO(), io.StringIO()
    call_command("check", stdout=out, stderr=err)
    return out.getvalue() + err.getvalue()


def test_no_warning_for_an_existing_writable_bucket(s3_bucket):
    assert import_bucket_check() == []
    assert "imports.W" not in check_output()
    # The probe object was deleted again.
    assert s3.client("s3").list_objects_v2(Bucket=s3_bucket).get("KeyCount", 0) == 0


def test_missing_bucket_is_named_in_a_warning(s3_bucket, settings):
    settings.IMPORT_BUCKET = "no-such-bucket"
    output = check_output()
    assert "imports.W001" in output
    assert "The import bucket 'no-such-bucket' at http://127.0.0.1:" in output
    assert "does not exist" in output
    assert "aws s3 mb s3://no-such-bucket" in output


def test_credentials_that_may_not_write_get_a_warning(s3_bucket, settings, iam_enforced):
    iam = s3.client("iam")
    iam.create_user(UserName="read-only")
    iam.put_user_policy(
        UserName="read-only",
        PolicyName="read",
        PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": ["s3:List*", "s3:Get*", "s3:HeadBucket"], "Resource": "*"}],
        }),
    )
    key = iam.create_access_key(UserName="read-only")["AccessKey"]
    settings.AWS_ACCESS_KEY_ID, settings.AWS_SECRET_ACCESS_KEY = key["AccessKeyId"], key["SecretAccessKey"]
    with iam_enforced():
        warnings = import_bucket_check()
    assert [w.id for w in warnings] == ["imports.W003"]
    assert "cannot write to the import bucket 'repro-test-imports'" in warnings[0].msg
    assert "AccessDenied" in warnings[0].msg


def test_unreachable_server_is_a_warning_not_a_crash(s3_bucket, settings):
    settings.AWS_S3_ENDPOINT_URL = f"http://127.0.0.1:{free_port()}"
    assert [w.id for w in import_bucket_check()] == ["imports.W002"]


def test_nothing_is_checked_without_s3(settings):
    settings.IMPORT_BUCKET = ""
    assert import_bucket_check() == []

