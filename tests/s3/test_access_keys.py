"""S3 access keys (SPEC 1): issued at the provider with a policy for the project's prefix only,
the secret shown once and never stored, revocation effective at once."""

import io
import re

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from imports import s3
from imports.credentials import s3_access_key_issue, s3_access_key_revoke
from imports.models import S3AccessKey
from tests.support import database_text

CSV = b"user_id,event_name,event_properties\nu1,opened,\n"


def put(client, bucket, key):
    client.put_object(Bucket=bucket, Key=key, Body=CSV)


def denied_code(client, bucket, key) -> str:
    with pytest.raises(ClientError) as failure:
        put(client, bucket, key)
    return failure.value.response["Error"]["Code"]


def iam_users() -> list[str]:
    return [user["UserName"] for user in s3.client("iam").list_users(PathPrefix=s3.IAM_USER_PATH)["Users"]]


def test_issued_key_writes_only_under_its_project_prefix(s3_bucket, project, make_project, iam_enforced, customer_s3):
    key, secret = s3_access_key_issue(project=project)
    customer = customer_s3(key.access_key_id, secret)
    other = make_project("Other")
    events = f"{project.app_id}/event_bulk_tracking/"
    profiles = f"{project.app_id}/user_profile_bulk_import/"
    with iam_enforced():
        put(customer, s3_bucket, events + "events.csv")
        put(customer, s3_bucket, profiles + "profiles.csv")
        # The AWS CLI uploads files over 8 MB in parts: the policy allows multipart uploads too.
        parts = TransferConfig(multipart_threshold=5 * 1024 * 1024)
        customer.upload_fileobj(io.BytesIO(b"x" * (6 * 1024 * 1024)), s3_bucket, events + "big.csv", Config=parts)
        outside = [f"{other.app_id}/event_bulk_tracking/e.csv", f"uploads/{project.app_id}/e.csv", "errors/e.csv", "e.csv"]
        for key_outside in outside:
            assert denied_code(customer, s3_bucket, key_outside) == "AccessDenied", key_outside
    keys = [obj["Key"] for obj in s3.client("s3").list_objects_v2(Bucket=s3_bucket)["Contents"]]
    assert sorted(keys) == [events + "big.csv", events + "events.csv", profiles + "profiles.csv"]


def test_revoked_key_is_denied_and_its_iam_user_deleted(s3_bucket, project, iam_enforced, customer_s3):
    key, secret = s3_access_key_issue(project=project)
    customer = customer_s3(key.access_key_id, secret)
    assert iam_users() == [key.provider_user]
    with iam_enforced():
        put(customer, s3_bucket, f"{project.app_id}/event_bulk_tracking/before.csv")
    s3_access_key_revoke(key=key)
    assert S3AccessKey.objects.get(pk=key.pk).revoked_at is not None
    assert iam_users() == []
    with iam_enforced():
        code = denied_code(customer, s3_bucket, f"{project.app_id}/event_bulk_tracking/after.csv")
    assert code in ("InvalidAccessKeyId", "AccessDenied")


def test_secret_is_shown_once_in_a_dialog_and_stored_nowhere(s3_bucket, project, alice_client):
    response = alice_client.post(reverse("dashboard:s3_access_key_issue", args=[project.app_id]))
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    html = response.content.decode()
    secret = re.search(r'<code class="secret" id="new-s3-secret">([^<]+)</code>', html).group(1)
    key = S3AccessKey.objects.get(project=project)
    assert '<dialog id="new-s3-key"' in html and key.access_key_id in html
    stored = database_text()
    assert key.access_key_id in stored
    assert secret not in stored
    for name in ("credentials", "events_import", "profiles_import"):
        page = alice_client.get(reverse(f"dashboard:{name}", args=[project.app_id])).content.decode()
        assert key.access_key_id in page, name
        assert secret not in page, name


def test_revoke_from_the_credentials_page_is_scoped_to_the_project(
    s3_bucket, project, alice_client, make_project, make_user
):
    key, _secret = s3_access_key_issue(project=project)
    mallory = make_user("mallory")
    own = make_project("Other", owner=mallory)
    alice_client.force_login(mallory)
    url = reverse("dashboard:s3_access_key_revoke", args=[own.app_id, key.access_key_id])
    assert alice_client.post(url).status_code == 404
    assert S3AccessKey.objects.get(pk=key.pk).revoked_at is None

    alice_client.force_login(project.members.get(username="alice"))
    response = alice_client.post(reverse("dashboard:s3_access_key_revoke", args=[project.app_id, key.access_key_id]))
    assert response.status_code == 302
    assert S3AccessKey.objects.get(pk=key.pk).revoked_at is not None
    page = alice_client.get(response.url).content.decode()
    assert "was revoked" in page and "No Amazon S3 access key yet." in page


def test_provider_failure_shows_an_error_and_stores_no_key(s3_bucket, project, alice_client, iam_enforced):
    with iam_enforced():  # the app's test credentials are not an IAM user: IAM refuses them
        response = alice_client.post(reverse("dashboard:s3_access_key_issue", args=[project.app_id]), follow=True)
    assert "could not be issued" in response.content.decode()
    assert not S3AccessKey.objects.exists()


def test_commands_issue_and_revoke(s3_bucket, project, capsys):
    call_command("issue_s3_access_key", project.app_id)
    lines = capsys.readouterr().out.splitlines()
    key = S3AccessKey.objects.get(project=project)
    assert lines[0] == f"aws_access_key_id = {key.access_key_id}"
    secret = lines[1].removeprefix("aws_secret_access_key = ")
    assert len(secret) >= 20 and secret not in database_text()

    call_command("revoke_s3_access_key", key.access_key_id)
    assert S3AccessKey.objects.get(pk=key.pk).revoked_at is not None
    with pytest.raises(CommandError, match="already revoked"):
        call_command("revoke_s3_access_key", key.access_key_id)
    with pytest.raises(CommandError, match="no S3 access key"):
        call_command("revoke_s3_access_key", "AKIAUNKNOWN")


def test_without_s3_the_page_says_so_and_nothing_can_be_issued(project, alice_client):
    page = alice_client.get(reverse("dashboard:credentials", args=[project.app_id])).content.decode()
    assert "Amazon S3 is not configured on this server" in page
    assert reverse("dashboard:s3_access_key_issue", args=[project.app_id]) not in page
    assert alice_client.post(reverse("dashboard:s3_access_key_issue", args=[project.app_id])).status_code == 404
    japanese = alice_client.get(reverse("dashboard:credentials", args=[project.app_id]), HTTP_ACCEPT_LANGUAGE="ja")
    assert "このサーバーでは Amazon S3 が設定されていない" in japanese.content.decode()
    with pytest.raises(CommandError, match="not configured"):
        call_command("issue_s3_access_key", project.app_id)
