from django.core.management import call_command

from imports import credentials, selectors, services
from imports.models import ApiToken, Membership, Project


def test_project_gets_generated_immutable_app_id(project):
    assert len(project.app_id) == 10 and project.app_id.isalnum() and project.app_id.islower()
    original = project.app_id
    project.name = "Renamed"
    project.save()
    project.refresh_from_db()
    assert project.app_id == original


def test_project_owner_is_a_member_with_notifications_on(project, alice):
    membership = Membership.objects.get(project=project, user=alice)
    assert membership.email_notifications is True


def test_toggling_notifications_changes_the_recipients(project, alice, make_user):
    bob = make_user("bob")
    services.membership_add(project=project, user=bob)
    services.membership_set_notifications(membership=Membership.objects.get(user=bob), enabled=False)
    assert selectors.notification_recipients(project=project) == [("alice@example.com", "en")]


def test_api_token_is_stored_only_as_a_hash(project):
    token = services.api_token_reissue(project=project)
    stored = ApiToken.objects.get(project=project)
    assert token not in stored.token_hash and stored.token_hash != token
    assert stored.prefix == token[:8]
    assert selectors.project_for_api_token(token=token) == project


def test_reissue_invalidates_the_old_token_at_once(project):
    old = services.api_token_reissue(project=project)
    new = services.api_token_reissue(project=project)
    assert old != new
    assert selectors.project_for_api_token(token=old) is None
    assert selectors.project_for_api_token(token=new) == project
    assert ApiToken.objects.filter(project=project).count() == 1


def test_commands_create_project_add_member_and_reissue_token(db, capsys):
    call_command("create_project", "Game", "owner@example.com")
    app_id = capsys.readouterr().out.strip()
    project = Project.objects.get(app_id=app_id)
    call_command("add_member", app_id, "second@example.com")
    capsys.readouterr()
    assert sorted(project.members.values_list("email", flat=True)) == ["owner@example.com", "second@example.com"]
    call_command("reissue_api_token", app_id)
    token = capsys.readouterr().out.strip()
    assert selectors.project_for_api_token(token=token) == project


def test_api_tokens_never_start_like_a_command_line_option() -> None:
    # One token in 64 would start with "-" by chance: 2,000 tokens would hold about 31 of them.
    assert not [token for token in (credentials.api_token_generate() for _ in range(2000)) if token.startswith("-")]
