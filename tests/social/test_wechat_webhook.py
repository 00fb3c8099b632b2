import pytest
from django.urls import reverse

from customers.models import Interaction, SocialIdentity
from social.models import AutoReplyRule, Conversation, InboundEvent, Message
from social.providers import wechat

from .conftest import WECHAT_TOKEN

pytestmark = pytest.mark.django_db
OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"


def test_wechat_url_verification_echoes_only_with_a_valid_signature(client, wechat_channel):
    url = reverse("webhook-wechat", kwargs={"key": wechat_channel.webhook_key})
    signature = wechat.sha1_signature(WECHAT_TOKEN, "1700000000", "abc")
    ok = client.get(
        url, {"signature": signature, "timestamp": "1700000000", "nonce": "abc", "echostr": "e123"}
    )
    assert ok.status_code == 200 and ok.content == b"e123"
    bad = client.get(
        url, {"signature": "0" * 40, "timestamp": "1700000000", "nonce": "abc", "echostr": "e123"}
    )
    assert bad.status_code == 403 and b"e123" not in bad.content


def test_a_plain_text_message_lands_in_a_conversation_and_on_the_timeline(
    post_wechat, wechat_channel, fake_wechat
):
    response = post_wechat(wechat_channel, "text")
    assert response.status_code == 200 and response.content == b"success"
    message = Message.objects.get()
    assert (message.kind, message.text, message.provider_message_id) == (
        "text",
        "你好，請問營業時間",
        "23000000000000001",
    )
    identity = SocialIdentity.objects.get(external_id=OPENID)
    assert identity.provider == "wechat" and identity.customer.name == "WeChat user eS6o"
    entry = Interaction.objects.get(kind="message_in")
    assert entry.channel == "wechat" and "你好" in entry.summary
    assert Conversation.objects.get().last_inbound_at is not None


def test_safe_mode_messages_are_decrypted_after_checking_msg_signature(
    post_wechat, wechat_safe_channel, fake_wechat
):
    assert post_wechat(wechat_safe_channel, "text", safe=True).status_code == 200
    assert Message.objects.get().text == "你好，請問營業時間"


def test_a_safe_mode_channel_refuses_plain_and_tampered_messages(
    post_wechat, wechat_safe_channel, fake_wechat
):
    assert post_wechat(wechat_safe_channel, "text").status_code == 403
    assert post_wechat(wechat_safe_channel, "text", safe=True, tamper="AAAA").status_code == 403
    assert not InboundEvent.objects.exists()


def test_a_wrong_signature_is_refused_and_nothing_stored(post_wechat, wechat_channel):
    assert post_wechat(wechat_channel, "text", tamper="0" * 40).status_code == 403
    assert post_wechat(wechat_channel, "text", token="wrong").status_code == 403
    assert not InboundEvent.objects.exists()


@pytest.mark.parametrize(
    "body", [b"not xml", b"<xml><MsgType>text</MsgType></xml>", b"<other/>", b"\xff\xfe"]
)
def test_malformed_bodies_get_a_400(post_wechat, wechat_channel, body):
    assert post_wechat(wechat_channel, body).status_code == 400


def test_entity_expansion_is_refused(post_wechat, wechat_channel):
    body = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaa">]><xml><Content>&a;&a;</Content></xml>'
    assert post_wechat(wechat_channel, body).status_code == 400


def test_a_retried_callback_is_stored_once(post_wechat, wechat_channel, fake_wechat):
    post_wechat(wechat_channel, "text")
    post_wechat(wechat_channel, "text")
    post_wechat(wechat_channel, "event_subscribe")
    post_wechat(wechat_channel, "event_subscribe")
    assert InboundEvent.objects.count() == 2
    assert Message.objects.count() == 2


@pytest.mark.parametrize(
    ("fixture", "kind", "text"),
    [
        ("image", "image", ""),
        ("voice", "audio", "你好"),
        ("video", "video", ""),
        ("shortvideo", "video", ""),
        ("location", "location", "廣州市天河區"),
        ("link", "link", "公眾平台官網鏈接"),
    ],
)
def test_every_wechat_message_type_is_recorded(post_wechat, wechat_channel, fake_wechat, fixture, kind, text):
    post_wechat(wechat_channel, fixture)
    message = Message.objects.get()
    assert (message.kind, message.text) == (kind, text)
    assert Interaction.objects.filter(kind="message_in").count() == 1


def test_wechat_media_is_downloaded_while_it_still_exists(post_wechat, wechat_channel, fake_wechat):
    fake_wechat.media["media_image_1"] = (b"\xff\xd8\xff jpeg", "image/jpeg")
    post_wechat(wechat_channel, "image")
    message = Message.objects.get()
    assert message.media.read() == b"\xff\xd8\xff jpeg"


def test_subscribe_and_unsubscribe_update_the_identity(post_wechat, wechat_channel, fake_wechat):
    post_wechat(wechat_channel, "event_subscribe_qrscene")
    identity = SocialIdentity.objects.get()
    assert identity.followed and identity.display_name == "WeChat user eS6o"
    follow = Interaction.objects.get(kind="follow")
    assert follow.data["scene"] == "spring-sale"
    post_wechat(wechat_channel, "event_unsubscribe")
    identity.refresh_from_db()
    assert not identity.followed


@pytest.mark.parametrize(
    ("fixture", "key"),
    [
        ("event_click", "menu_promotions"),
        ("event_view", "https://shop.example.com/"),
        ("event_scan", "spring-sale"),
    ],
)
def test_menu_clicks_and_scans_are_recorded_as_participation(
    post_wechat, wechat_channel, fake_wechat, fixture, key
):
    post_wechat(wechat_channel, fixture)
    entry = Interaction.objects.get(kind="postback")
    assert entry.data["postback"] == key


def test_a_location_report_is_social_activity(post_wechat, wechat_channel, fake_wechat):
    post_wechat(wechat_channel, "event_location")
    assert Interaction.objects.filter(kind="social_event").count() == 1


def test_a_keyword_rule_answers_through_the_customer_service_api(post_wechat, wechat_channel, fake_wechat):
    AutoReplyRule.objects.create(
        channel=wechat_channel,
        name="hours",
        match="contains",
        pattern="營業時間",
        reply_text="每天 9:00–18:00",
    )
    post_wechat(wechat_channel, "text")
    send = fake_wechat.calls("/custom/send")[0].json()
    assert send == {"touser": OPENID, "msgtype": "text", "text": {"content": "每天 9:00–18:00"}}
    assert Message.objects.get(direction="out").status == "sent"


def test_a_closed_48_hour_window_fails_the_reply_with_a_clear_error(post_wechat, wechat_channel, fake_wechat):
    AutoReplyRule.objects.create(
        channel=wechat_channel, name="hours", match="contains", pattern="營業時間", reply_text="x"
    )
    fake_wechat.window_closed.add(OPENID)
    post_wechat(wechat_channel, "text")
    out = Message.objects.get(direction="out")
    assert out.status == "failed" and "48-hour window is closed" in out.error
