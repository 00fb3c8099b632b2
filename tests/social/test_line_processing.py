"""Every LINE event type, from the stored fixtures, as the customer profile and timeline show it."""

import json
from datetime import time

import pytest

from customers.models import Interaction, SocialIdentity
from social.models import AutoReplyRule, Conversation, Message, SocialGroup
from tests.factories import TagFactory

from .conftest import line_events

pytestmark = pytest.mark.django_db
USER = "U4af4980629000000000000000000000a"


def test_a_follow_creates_the_customer_with_the_profile_name_and_avatar(post_line, line_channel, fake_line):
    fake_line.profiles[USER] = {
        "userId": USER,
        "displayName": "陳美玲",
        "pictureUrl": "https://profile.example/a.jpg",
    }
    post_line(line_channel, "follow")
    identity = SocialIdentity.objects.select_related("customer").get(external_id=USER)
    assert identity.followed and identity.followed_at is not None
    assert (identity.display_name, identity.avatar_url) == ("陳美玲", "https://profile.example/a.jpg")
    assert identity.customer.name == "陳美玲" and identity.customer.team == line_channel.team
    kinds = list(Interaction.objects.filter(customer=identity.customer).values_list("kind", flat=True))
    assert "follow" in kinds


def test_unfollow_marks_the_identity_and_a_new_follow_reactivates_it(post_line, line_channel, fake_line):
    post_line(line_channel, "follow")
    post_line(line_channel, "unfollow")
    identity = SocialIdentity.objects.get(external_id=USER)
    assert not identity.followed and identity.unfollowed_at is not None
    refollow = dict(line_events("follow")[0], webhookEventId="01REFOLLOW", timestamp=1700000099000)
    refollow["follow"] = {"isUnblocked": True}
    post_line(line_channel, json.dumps({"destination": "x", "events": [refollow]}).encode())
    identity.refresh_from_db()
    assert identity.followed and identity.unfollowed_at is None
    assert SocialIdentity.objects.count() == 1
    summaries = list(
        Interaction.objects.filter(kind__in=["follow", "unfollow"]).values_list("summary", flat=True)
    )
    assert any("unblocked" in s for s in summaries)


@pytest.mark.parametrize(
    ("fixture", "kind", "text"),
    [
        ("message_image", "image", ""),
        ("message_video", "video", ""),
        ("message_audio", "audio", ""),
        ("message_file", "file", "invoice.pdf"),
        ("message_location", "location", "my location 1-3 Kioicho, Chiyoda-ku, Tokyo, 102-8282, Japan"),
        ("message_sticker", "sticker", "cony sally Staring hi"),
    ],
)
def test_every_message_type_becomes_a_message_and_a_timeline_entry(
    post_line, line_channel, fake_line, fixture, kind, text
):
    post_line(line_channel, fixture)
    message = Message.objects.get()
    assert (message.kind, message.text) == (kind, text)
    entry = Interaction.objects.get(kind="message_in")
    assert entry.subject == message and entry.data["message_kind"] == kind


def test_media_from_line_is_downloaded_and_stored_by_the_crm(post_line, line_channel, fake_line, media_root):
    fake_line.contents["354718705033693859"] = (b"\xff\xd8\xff fake jpeg", "image/jpeg")
    post_line(line_channel, "message_image")
    message = Message.objects.get()
    assert message.media.name.startswith("social/") and message.media.name.endswith(".jpg")
    assert message.media.read() == b"\xff\xd8\xff fake jpeg"
    assert message.data["content_type"] == "image/jpeg"
    assert "/v2/bot/message/354718705033693859/content" in [c.path for c in fake_line.requests]


def test_a_file_keeps_its_own_extension(post_line, line_channel, fake_line):
    fake_line.contents["325710"] = (b"%PDF-1.4", "application/octet-stream")
    post_line(line_channel, "message_file")
    assert Message.objects.get().media.name.endswith(".pdf")


def test_a_video_hosted_by_the_sender_is_not_downloaded(post_line, line_channel, fake_line):
    post_line(line_channel, "message_video")
    assert not fake_line.calls("/content")
    assert (
        Message.objects.get().data["contentProvider"]["originalContentUrl"]
        == "https://example.com/original.mp4"
    )


def test_media_line_no_longer_has_is_kept_with_an_error(post_line, line_channel, fake_line):
    fake_line.contents["325710"] = None
    post_line(line_channel, "message_file")
    message = Message.objects.get()
    assert not message.media and "could not be downloaded" in message.error


def test_a_postback_is_recorded_as_campaign_participation_with_its_data(post_line, line_channel, fake_line):
    post_line(line_channel, "postback")
    entry = Interaction.objects.get(kind="postback")
    assert entry.data["postback"] == "action=campaign&campaign=spring-sale&tag=Spring Sale"
    message = Message.objects.get(kind="postback")
    assert message.data["data"].startswith("action=campaign")
    post_line(line_channel, "postback_datetime")
    assert Message.objects.get(text="action=book&slot=visit").data["params"] == {
        "datetime": "2026-12-01T10:00"
    }


def test_group_join_leave_and_member_events_are_recorded(post_line, line_channel, fake_line):
    post_line(line_channel, "join")
    post_line(line_channel, "member_joined")
    post_line(line_channel, "member_left")
    group = SocialGroup.objects.get()
    assert group.is_member and group.member_ids == [USER]
    post_line(line_channel, "leave")
    group.refresh_from_db()
    assert not group.is_member and group.left_at is not None
    assert [h["event"] for h in group.history] == ["join", "memberJoined", "memberLeft", "leave"]


def test_messages_in_groups_and_rooms_land_in_the_senders_conversation_without_a_reply_token(
    post_line, line_channel, fake_line
):
    post_line(line_channel, "message_text_group")
    post_line(line_channel, "message_text_room")
    conversation = Conversation.objects.get()
    assert conversation.reply_token == ""
    sources = [m.data["source"]["type"] for m in Message.objects.order_by("id")]
    assert sources == ["group", "room"]


def test_unsend_withdraws_the_content_of_the_message(post_line, line_channel, fake_line):
    post_line(line_channel, "message_text")
    post_line(line_channel, "unsend")
    message = Message.objects.get(provider_message_id="444573844083572737")
    assert message.text == "" and message.data["unsent"] is True


@pytest.mark.parametrize("fixture", ["account_link", "beacon", "video_play_complete"])
def test_other_events_are_recorded_as_social_activity(post_line, line_channel, fake_line, fixture):
    post_line(line_channel, fixture)
    assert Interaction.objects.filter(kind="social_event").count() == 1
    assert Message.objects.get().kind == "event"


def _rule(channel, **values):
    tags = values.pop("tags", [])
    rule = AutoReplyRule.objects.create(channel=channel, name=values.pop("name", "rule"), **values)
    rule.add_tags.set([TagFactory(name=name) for name in tags])
    return rule


def test_a_keyword_rule_answers_with_the_reply_token_and_tags_the_customer(
    post_line, line_channel, fake_line
):
    _rule(
        line_channel,
        name="prices",
        match="contains",
        pattern="price",
        reply_text="Our price list: …",
        tags=["Asked price"],
    )
    post_line(line_channel, "message_text")
    reply = fake_line.calls("/v2/bot/message/reply")[0].json()
    assert reply == {
        "replyToken": "nHuyWiB7yP5Zw52FIkcQobQuGDXCTA03",
        "messages": [{"type": "text", "text": "Our price list: …"}],
    }
    out = Message.objects.get(direction="out")
    assert out.status == "sent" and out.data["auto_reply"] == "prices"
    conversation = Conversation.objects.get()
    assert conversation.reply_token == ""  # used once
    assert list(conversation.customer.tags.values_list("name", flat=True)) == ["Asked price"]
    assert Interaction.objects.filter(kind="message_out", customer=conversation.customer).exists()


def test_an_exact_rule_does_not_answer_a_longer_message(post_line, line_channel, fake_line):
    _rule(line_channel, match="exact", pattern="price", reply_text="x")
    post_line(line_channel, "message_text")
    assert not fake_line.calls("/reply") and not Message.objects.filter(direction="out").exists()


def test_standby_messages_are_stored_but_never_answered(post_line, line_channel, fake_line):
    _rule(line_channel, match="exact", pattern="price", reply_text="x")
    post_line(line_channel, "standby_message")
    assert Message.objects.get().text == "price"
    assert not Message.objects.filter(direction="out").exists() and not fake_line.calls("/reply")
    assert Conversation.objects.get().reply_token == ""


def test_an_outside_office_hours_rule_answers_only_outside_them(post_line, line_channel, fake_line):
    # The fixture's message was sent 2023-11-14 22:13 UTC, a Tuesday 06:13 in Taipei.
    line_channel.office_hours_start, line_channel.office_hours_end = time(9), time(18)
    line_channel.save()
    _rule(
        line_channel,
        name="after hours",
        match="regex",
        pattern=".*",
        when="outside_office_hours",
        reply_text="We are closed",
    )
    _rule(
        line_channel,
        name="in hours",
        match="regex",
        pattern=".*",
        when="office_hours",
        reply_text="An agent will answer",
        priority=1,
    )
    post_line(line_channel, "message_text")
    assert Message.objects.get(direction="out").text == "We are closed"


def test_a_postback_rule_tags_the_customer_with_the_campaign_from_the_data(
    post_line, line_channel, fake_line
):
    _rule(line_channel, trigger="postback", match="regex", pattern=r"campaign=(?P<tag>[\w-]+)")
    post_line(line_channel, "postback")
    conversation = Conversation.objects.get()
    assert list(conversation.customer.tags.values_list("name", flat=True)) == ["spring-sale"]
    assert not Message.objects.filter(direction="out").exists()


def test_the_welcome_message_greets_new_followers(post_line, line_channel, fake_line):
    line_channel.welcome_message = "Welcome to the demo shop!"
    line_channel.save()
    post_line(line_channel, "follow")
    assert fake_line.calls("/reply")[0].json()["messages"] == [
        {"type": "text", "text": "Welcome to the demo shop!"}
    ]


def test_a_reply_falls_back_to_push_with_a_retry_key_when_the_token_is_refused(
    post_line, line_channel, fake_line
):
    _rule(line_channel, match="contains", pattern="price", reply_text="Prices")
    fake_line.fail_next(400, path="/reply")  # the reply token was already used or expired
    post_line(line_channel, "message_text")
    push = fake_line.calls("/push")[0]
    out = Message.objects.get(direction="out")
    assert push.json()["to"] == USER and push.headers["x-line-retry-key"] == str(out.retry_key)
    assert out.status == "sent"


def test_a_rate_limited_push_stays_queued_and_its_retry_uses_the_same_retry_key(
    post_line, line_channel, fake_line
):
    from social.outbound import queued_messages_send

    _rule(line_channel, match="contains", pattern="price", reply_text="Prices")
    fake_line.fail_next(400, path="/reply")  # reply token refused
    fake_line.fail_next(429, path="/push")  # first push rate-limited
    post_line(line_channel, "message_text")
    out = Message.objects.get(direction="out")
    assert out.status == "queued" and "too many requests" in out.error
    queued_messages_send(message_ids=[out.pk])  # what the task's retry does
    pushes = fake_line.calls("/push")
    assert len(pushes) == 2
    assert (
        pushes[0].headers["x-line-retry-key"] == pushes[1].headers["x-line-retry-key"] == str(out.retry_key)
    )
    out.refresh_from_db()
    assert out.status == "sent" and out.error == ""


def test_a_batch_of_events_from_several_users_costs_a_bounded_number_of_queries(
    post_line, line_channel, fake_line, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    from social.processing import inbound_events_process
    from social.webhooks import events_store

    users = [f"U{n:032d}" for n in range(5)]
    for user in users:  # the customers exist already
        post_line(
            line_channel,
            json.dumps({"destination": "x", "events": [_text(user, f"hello-{user}", "first")]}).encode(),
        )
    events = [_text(user, f"{user}-{n}", "again") for user in users for n in range(10)]
    with django_capture_on_commit_callbacks(execute=False):
        ids = events_store(line_channel.pk, [(e["webhookEventId"], e) for e in events])
    with django_assert_max_num_queries(20):
        result = inbound_events_process(event_ids=ids)
    assert result["processed"] == 50
    assert Message.objects.count() == 55 and Interaction.objects.filter(kind="message_in").count() == 55
    assert sorted(Conversation.objects.values_list("unread_count", flat=True)) == [11] * 5


def _text(user, event_id, text):
    event = dict(line_events("message_text")[0])
    event.update(webhookEventId=event_id, source={"type": "user", "userId": user})
    event["message"] = {**event["message"], "id": event_id, "text": text}
    return event


def test_a_new_message_reopens_a_closed_conversation_and_adds_to_its_unread_count(
    post_line, line_channel, fake_line
):
    post_line(line_channel, "message_text")
    Conversation.objects.update(status="closed", unread_count=0)
    post_line(line_channel, "message_sticker")
    conversation = Conversation.objects.get()
    assert (conversation.status, conversation.unread_count) == ("open", 1)
