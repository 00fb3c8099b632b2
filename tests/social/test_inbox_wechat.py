"""The inbox and broadcasts on a WeChat official account: customer-service messages inside the 48-hour
window, WeChat's own refusal when it is closed, images uploaded as media, broadcasts by mass send."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from social import broadcasts, inbox
from social.broadcasts import VariantInput
from social.models import Message
from tests.social.fake_line import PNG_1x1
from tests.social.inbox_factories import conversation_for, marketing_consent

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversation(wechat_channel, fake_wechat):
    return conversation_for(wechat_channel, messages=["你好"], user_id="oWeChatUser0000000000000001")


def test_a_reply_inside_the_window_goes_out_as_a_customer_service_message(
    conversation, agent, fake_wechat, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        message = inbox.message_send(conversation=conversation, actor=agent, text="您好,请问有什么可以帮您?")
    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    (call,) = fake_wechat.calls("/cgi-bin/message/custom/send")
    assert call.json() == {
        "touser": "oWeChatUser0000000000000001",
        "msgtype": "text",
        "text": {"content": "您好,请问有什么可以帮您?"},
    }


def test_an_image_reply_is_uploaded_as_media_first(
    conversation, agent, fake_wechat, django_capture_on_commit_callbacks
):
    image = SimpleUploadedFile("photo.png", PNG_1x1, content_type="image/png")
    with django_capture_on_commit_callbacks(execute=True):
        message = inbox.message_send(conversation=conversation, actor=agent, image=image)
    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    assert fake_wechat.calls("/cgi-bin/media/upload")
    sent = fake_wechat.calls("/cgi-bin/message/custom/send")[0].json()
    assert sent["msgtype"] == "image" and sent["image"]["media_id"].startswith("media-")


def test_when_wechat_says_the_window_is_closed_the_message_says_so_and_is_not_retried(
    conversation, agent, fake_wechat, django_capture_on_commit_callbacks
):
    fake_wechat.window_closed.add("oWeChatUser0000000000000001")
    with django_capture_on_commit_callbacks(execute=True):
        message = inbox.message_send(conversation=conversation, actor=agent, text="still there?")
    message.refresh_from_db()
    assert message.status == Message.Status.FAILED and "48-hour window is closed" in message.error
    assert len(fake_wechat.calls("/cgi-bin/message/custom/send")) == 1


def test_a_wechat_broadcast_goes_out_by_mass_send(
    manager, wechat_channel, fake_wechat, settings, django_capture_on_commit_callbacks
):
    settings.SOCIAL_BROADCAST_REQUESTS_PER_SECOND = 0
    for index in range(3):
        identity = conversation_for(
            wechat_channel, user_id=f"oMass{index:023d}", name=f"粉丝{index}"
        ).identity
        marketing_consent(identity.customer)
    broadcast = broadcasts.broadcast_create(
        actor=manager, name="双十一", channel=wechat_channel, variants=[VariantInput(text="双十一 5 折")]
    )
    with django_capture_on_commit_callbacks(execute=True):
        broadcasts.broadcast_send(broadcast=broadcast, actor=manager)
    broadcast.refresh_from_db()
    assert (broadcast.status, broadcast.sent_count) == ("done", 3)
    (call,) = fake_wechat.calls("/cgi-bin/message/mass/send")
    assert sorted(call.json()["touser"]) == [f"oMass{index:023d}" for index in range(3)]
    assert call.json()["text"] == {"content": "双十一 5 折"}


def test_flex_messages_are_refused_for_wechat(manager, wechat_channel):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as exc:
        broadcasts.broadcast_create(
            actor=manager,
            name="x",
            channel=wechat_channel,
            variants=[VariantInput(kind="flex", flex='{"type": "bubble"}', alt_text="x")],
        )
    assert "LINE channels only" in str(exc.value)
