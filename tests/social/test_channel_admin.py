import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from social.models import AutoReplyRule, Channel

pytestmark = pytest.mark.django_db


def test_channel_create_command_stores_encrypted_credentials_and_prints_the_webhook_path(capsys):
    call_command(
        "channel_create", "--kind", "line", "--name", "Shop", "--secret", "s3cret", "--access-token", "tok"
    )
    channel = Channel.objects.get()
    assert capsys.readouterr().out.strip() == f"/webhooks/line/{channel.webhook_key}/"
    assert channel.credentials == {"channel_secret": "s3cret", "access_token": "tok"}
    assert "s3cret" not in channel.credentials_encrypted and "tok" not in channel.credentials_encrypted


def test_channel_create_command_for_wechat_safe_mode(capsys):
    call_command(
        "channel_create",
        "--kind",
        "wechat",
        "--name",
        "WX",
        "--token",
        "t",
        "--app-id",
        "wx1",
        "--aes-key",
        "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
    )
    channel = Channel.objects.get()
    assert capsys.readouterr().out.strip() == f"/webhooks/wechat/{channel.webhook_key}/"
    assert channel.credentials["mode"] == "safe"


def test_channel_create_command_refuses_a_bad_aes_key():
    with pytest.raises(CommandError):
        call_command("channel_create", "--kind", "wechat", "--name", "WX", "--aes-key", "short")
    assert not Channel.objects.exists()


def test_a_changed_encryption_key_makes_credentials_unreadable_not_a_crash(line_channel, settings):
    settings.CHANNEL_ENCRYPTION_KEY = "another key"
    assert Channel.objects.get(pk=line_channel.pk).credentials == {}


def test_only_admins_reach_the_channel_pages(login, users, line_channel):
    for role, user in users.items():
        status = login(user).get(reverse("social:channel-detail", args=[line_channel.pk])).status_code
        assert status == (200 if role == "Admin" else 403), role


def test_the_channel_page_shows_the_webhook_url_and_never_the_secrets(login, admin_user, line_channel):
    page = login(admin_user).get(reverse("social:channel-detail", args=[line_channel.pk])).content.decode()
    assert f"http://testserver/webhooks/line/{line_channel.webhook_key}/" in page
    assert "test-line-channel-secret" not in page and "test-access-token" not in page
    edit = login(admin_user).get(reverse("social:channel-edit", args=[line_channel.pk])).content.decode()
    assert "test-line-channel-secret" not in edit and "Set: leave blank to keep it." in edit


def test_the_channel_list_costs_a_constant_number_of_queries(
    login, admin_user, line_channel, wechat_channel, django_assert_max_num_queries
):
    client = login(admin_user)
    with django_assert_max_num_queries(8):
        response = client.get(reverse("social:channels"))
    assert response.status_code == 200 and response.content.decode().count('data-testid="channel-row"') == 2


def test_an_admin_creates_a_line_channel_in_the_ui(login, admin_user, team):
    client = login(admin_user)
    response = client.post(
        reverse("social:channel-create"),
        {
            "kind": "line",
            "name": "Taipei store",
            "team": team.pk,
            "is_active": "on",
            "channel_secret": "abc",
            "access_token": "xyz",
            "office_days": ["0", "1"],
        },
    )
    channel = Channel.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "social:channel-detail", args=[channel.pk]
    )
    assert (
        channel.credentials == {"channel_secret": "abc", "access_token": "xyz"}
        and channel.office_days == "01"
    )


def test_leaving_a_secret_blank_keeps_it(login, admin_user, line_channel):
    response = login(admin_user).post(
        reverse("social:channel-edit", args=[line_channel.pk]),
        {"name": "Renamed", "is_active": "on", "access_token": "new-token"},
    )
    assert response.status_code == 302
    line_channel = Channel.objects.get(pk=line_channel.pk)
    assert line_channel.name == "Renamed"
    assert line_channel.credentials == {
        "channel_secret": "test-line-channel-secret",
        "access_token": "new-token",
    }


def test_half_given_office_hours_are_refused_with_a_message(login, admin_user, line_channel):
    response = login(admin_user).post(
        reverse("social:channel-edit", args=[line_channel.pk]), {"name": "X", "office_hours_start": "09:00"}
    )
    assert response.status_code == 200 and "Give both the start and the end" in response.content.decode()


def test_test_connection_calls_line_and_shows_the_bot(login, admin_user, line_channel, fake_line):
    response = login(admin_user).post(
        reverse("social:channel-test", args=[line_channel.pk]), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200 and "Demo shop (@123abcde)" in response.content.decode()
    line_channel.refresh_from_db()
    assert line_channel.last_check_ok and line_channel.bot_user_id.startswith("Ubot")


def test_test_connection_reports_a_refused_token(login, admin_user, line_channel, fake_line):
    line_channel.set_credentials({"channel_secret": "s", "access_token": "revoked"})
    line_channel.save()
    login(admin_user).post(reverse("social:channel-test", args=[line_channel.pk]))
    line_channel.refresh_from_db()
    assert line_channel.last_check_ok is False and "401" in line_channel.last_check_message


def test_test_connection_for_wechat(login, admin_user, wechat_channel, fake_wechat):
    login(admin_user).post(reverse("social:channel-test", args=[wechat_channel.pk]))
    wechat_channel.refresh_from_db()
    assert wechat_channel.last_check_ok


def test_rotating_the_webhook_key_retires_the_old_url(login, admin_user, line_channel, post_line, fake_line):
    old = line_channel.webhook_key
    login(admin_user).post(reverse("social:channel-rotate-key", args=[line_channel.pk]))
    line_channel.refresh_from_db()
    assert line_channel.webhook_key != old
    stale = Channel(pk=line_channel.pk, kind="line", webhook_key=old)
    assert post_line(stale, "message_text").status_code == 404


def test_an_admin_adds_edits_and_deletes_a_rule(login, admin_user, line_channel):
    client = login(admin_user)
    response = client.post(
        reverse("social:rule-create", args=[line_channel.pk]),
        {
            "name": "Prices",
            "trigger": "keyword",
            "match": "contains",
            "pattern": "price",
            "when": "always",
            "reply_text": "See our list",
            "priority": 10,
            "is_active": "on",
            "add_tags": "Asked price, VIP",
        },
    )
    assert response.status_code == 302
    rule = AutoReplyRule.objects.get()
    assert sorted(rule.add_tags.values_list("name", flat=True)) == ["Asked price", "VIP"]
    client.post(
        reverse("social:rule-edit", args=[rule.pk]),
        {
            "name": "Prices",
            "trigger": "keyword",
            "match": "regex",
            "pattern": "([",
            "when": "always",
            "priority": 10,
        },
    )
    rule.refresh_from_db()
    assert rule.match == "contains"  # the bad pattern was refused, nothing half-saved
    client.post(reverse("social:rule-delete", args=[rule.pk]))
    assert not AutoReplyRule.objects.exists()


def test_a_keyword_rule_needs_a_pattern(login, admin_user, line_channel):
    response = login(admin_user).post(
        reverse("social:rule-create", args=[line_channel.pk]),
        {
            "name": "Empty",
            "trigger": "keyword",
            "match": "contains",
            "pattern": "",
            "when": "always",
            "priority": 1,
        },
    )
    assert response.status_code == 200 and not AutoReplyRule.objects.exists()
    assert "Enter the keyword" in response.content.decode()


def test_channel_changes_are_audited_without_the_credentials(login, admin_user, line_channel):
    from auditlog.models import LogEntry

    login(admin_user).post(
        reverse("social:channel-edit", args=[line_channel.pk]),
        {"name": "Audited", "is_active": "on", "channel_secret": "new-secret-value"},
    )
    entry = LogEntry.objects.get_for_object(line_channel).latest("timestamp")
    assert "Audited" in str(entry.changes) and "new-secret-value" not in str(entry.changes)
    assert "credentials_encrypted" not in str(entry.changes)


def test_channel_create_command_for_wecom(capsys):
    call_command(
        "channel_create",
        "--kind",
        "wecom",
        "--name",
        "Sales",
        "--corp-id",
        "ww1",
        "--token",
        "t",
        "--aes-key",
        "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
    )
    channel = Channel.objects.get()
    assert capsys.readouterr().out.strip() == f"/webhooks/wecom/{channel.webhook_key}/"
    assert channel.credentials["corp_id"] == "ww1"
