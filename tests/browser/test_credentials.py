"""Credentials in a real browser: the S3 secret in a styled dialog, copy buttons that put the
exact values on the clipboard, and the wording of the very first API token."""

import pytest
from playwright.sync_api import expect

from imports.models import S3AccessKey
from tests.s3.conftest import moto_url, s3_bucket  # noqa: F401  (fixtures reused, not copied)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def clipboard(logged_in):
    logged_in.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=logged_in.base_url)
    return lambda: logged_in.evaluate("navigator.clipboard.readText()")


def test_new_s3_key_is_shown_in_a_styled_dialog_with_copy_buttons(logged_in, project, s3_bucket, clipboard, screenshot):
    page = logged_in
    page.goto(f"{page.base_url}/p/{project.app_id}/settings/credentials/")
    page.get_by_role("button", name="Add Amazon S3 access key").click()
    dialog = page.locator("dialog#new-s3-key")
    expect(dialog).to_be_visible()
    key = S3AccessKey.objects.get(project=project)
    assert dialog.evaluate("d => d.matches(':modal')")
    style = dialog.evaluate("d => [getComputedStyle(d).borderRadius, getComputedStyle(d, '::backdrop').backgroundColor]")
    assert style == ["10px", "rgba(31, 36, 48, 0.55)"]
    screenshot(page, "s3-key-dialog", full_page=False)

    dialog.locator("button[data-copy='#new-s3-secret']").click()
    expect(dialog.locator("button[data-copy='#new-s3-secret']")).to_have_text("Copied")
    secret = dialog.locator("#new-s3-secret").inner_text()
    assert clipboard() == secret and len(secret) >= 20
    dialog.locator("button[data-copy='#new-s3-key-id']").click()
    assert clipboard() == key.access_key_id
    dialog.get_by_role("button", name="I have copied the secret").click()
    expect(dialog).to_be_hidden()

    page.locator("button[data-copy='#s3-project-path']").click()
    assert clipboard() == f"s3://{s3_bucket}/{project.app_id}/"
    page.goto(f"{page.base_url}/p/{project.app_id}/events/import/")
    page.locator("button[data-copy='#s3-path']").click()
    assert clipboard() == f"s3://{s3_bucket}/{project.app_id}/event_bulk_tracking/"
    page.locator("button[data-copy='#s3-access-key-id']").click()
    assert clipboard() == key.access_key_id


def test_first_token_then_a_reissue(logged_in, project, clipboard):
    page = logged_in
    page.goto(f"{page.base_url}/p/{project.app_id}/settings/credentials/")
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    page.get_by_role("button", name="Issue API token").click()
    expect(page.get_by_role("status")).to_have_text("The project's API token was issued.")
    assert dialogs == []  # nothing to confirm: there was no token to lose
    page.locator("button[data-copy='#new-api-token']").click()
    assert clipboard() == page.locator("#new-api-token").inner_text()

    page.get_by_role("button", name="Reissue API token").click()
    expect(page.get_by_role("status")).to_have_text("A new API token was issued. The previous token no longer works.")
    assert dialogs == ["Reissue the API token? The current token stops working at once and cannot be restored."]
