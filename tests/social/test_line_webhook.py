import json

import pytest
from django.urls import reverse

from customers.models import Interaction, SocialIdentity
from social.models import Conversation, InboundEvent, Message
from social.providers import line

from .conftest import line_events, line_fixture

pytestmark = pytest.mark.django_db


def test_lines_verify_call_with_no_events_is_accepted_and_stores_nothing(post_line, line_channel, fake_line):
    response = post_line(line_channel, "verify")
    assert response.status_code == 200
    assert not InboundEvent.objects.exists()


def test_a_text_message_becomes_a_message_in_a_conversation_and_a_timeline_entry(
    post_line, line_channel, fake_line
):
    response = post_line(line_channel, "message_text")
    assert response.status_code == 200
    event = InboundEvent.objects.get()
    assert event.status == "processed" and event.event_key == "01HFAKE0000000000000000003"
    identity = SocialIdentity.objects.get(external_id="U4af4980629000000000000000000000a")
    assert identity.channel == str(line_channel.pk) and identity.provider == "line"
    assert identity.display_name == "LINE user 000a"  # from the profile API
    assert identity.customer.name == "LINE user 000a"
    conversation = Conversation.objects.get()
    assert conversation.customer == identity.customer and conversation.unread_count == 1
    assert conversation.reply_token == "nHuyWiB7yP5Zw52FIkcQobQuGDXCTA03"
    message = Message.objects.get()
    assert (message.direction, message.kind, message.text) == ("in", "text", "Hello, I want the price list")
    assert message.provider_message_id == "444573844083572737"
    entry = Interaction.objects.get(customer=identity.customer, kind="message_in")
    assert entry.channel == "line" and "Hello, I want the price list" in entry.summary
    assert entry.subject == message


def test_a_tampered_body_or_signature_is_refused_and_nothing_is_stored(post_line, line_channel, fake_line):
    body = line_fixture("message_text")
    good = line.signature("test-line-channel-secret", body)
    assert post_line(line_channel, body.replace(b"Hello", b"Hellp"), signature=good).status_code == 401
    assert post_line(line_channel, body, signature="").status_code == 401
    assert post_line(line_channel, body, secret="another-secret").status_code == 401
    assert post_line(line_channel, body, signature=good[:-2] + "==").status_code == 401
    assert not InboundEvent.objects.exists() and not Message.objects.exists()


def test_a_redelivered_event_is_acknowledged_and_not_processed_twice(post_line, line_channel, fake_line):
    assert post_line(line_channel, "message_text").status_code == 200
    assert post_line(line_channel, "redelivered_message").status_code == 200
    assert InboundEvent.objects.count() == 1
    assert Message.objects.count() == 1
    assert Interaction.objects.filter(kind="message_in").count() == 1


def test_the_same_event_twice_in_one_body_is_stored_once(post_line, line_channel, fake_line):
    events = line_events("message_text")
    body = json.dumps({"destination": "x", "events": events + events}).encode()
    assert post_line(line_channel, body).status_code == 200
    assert InboundEvent.objects.count() == 1 and Message.objects.count() == 1


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[]", b'{"events": "nope"}', b'{"events": [1, 2]}', b'{"events": [{"no": "type"}]}'],
)
def test_malformed_bodies_get_a_400_not_a_500(post_line, line_channel, body):
    assert post_line(line_channel, body).status_code == 400
    assert not InboundEvent.objects.exists()


def test_an_oversized_body_is_refused_before_parsing(post_line, line_channel, settings):
    settings.SOCIAL_WEBHOOK_MAX_BYTES = 1000
    body = json.dumps({"destination": "x", "events": [], "pad": "x" * 2000}).encode()
    assert post_line(line_channel, body).status_code == 413


def test_unknown_or_inactive_channels_and_get_requests_are_refused(client, post_line, line_channel):
    line_channel.is_active = False
    line_channel.save()
    assert post_line(line_channel, "message_text").status_code == 404
    assert client.get(reverse("webhook-line", kwargs={"key": "nope"})).status_code == 405


def test_with_the_broker_down_events_are_stored_and_the_sweeper_processes_them_later(
    post_line, line_channel, fake_line, monkeypatch, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.utils import timezone

    from social import tasks

    def broker_down(*args, **kwargs):
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.process_events, "apply_async", broker_down)
    assert post_line(line_channel, "message_text").status_code == 200
    assert InboundEvent.objects.get().status == "pending"
    assert not Message.objects.exists()
    monkeypatch.undo()
    attempts = []
    monkeypatch.setattr(tasks.process_events, "apply_async", lambda *a, **k: attempts.append(a))
    assert post_line(line_channel, "message_sticker").status_code == 200
    assert attempts == []  # for a few seconds after a failure, no request waits for the broker again
    monkeypatch.undo()

    assert tasks.sweep_pending_events() == 0  # too fresh: its own task may still be on the way
    InboundEvent.objects.update(received_at=timezone.now() - timedelta(minutes=2))
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.sweep_pending_events() == 2
    assert set(InboundEvent.objects.values_list("status", flat=True)) == {"processed"}
    assert Message.objects.count() == 2


def test_processing_twice_is_harmless(post_line, line_channel, fake_line, django_capture_on_commit_callbacks):
    from social.processing import inbound_events_process

    post_line(line_channel, "message_text")
    event = InboundEvent.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        assert inbound_events_process(event_ids=[event.pk])["processed"] == 0
    assert Message.objects.count() == 1


def test_the_webhook_answers_with_a_constant_number_of_queries(
    post_line, line_channel, fake_line, django_assert_max_num_queries
):
    post_line(line_channel, "verify")  # warms the channel cache
    events = []
    for n in range(10):
        event = dict(line_events("message_text")[0], webhookEventId=f"01QUERY{n:019d}")
        events.append(event)
    body = json.dumps({"destination": "x", "events": events}).encode()
    with django_assert_max_num_queries(3):  # savepoint, INSERT ... RETURNING, release
        assert post_line(line_channel, body, run_on_commit=False).status_code == 200
    assert InboundEvent.objects.count() == 10


def test_an_event_that_cannot_be_processed_is_marked_failed_and_the_others_go_through(
    post_line, line_channel, fake_line, monkeypatch
):
    from social import normalise

    real = normalise.from_line

    def fragile(event):
        if event.get("webhookEventId") == "01BROKEN":
            raise ValueError("unexpected payload")
        return real(event)

    monkeypatch.setattr(normalise, "from_line", fragile)
    good = line_events("message_text")[0]
    broken = dict(good, webhookEventId="01BROKEN")
    post_line(line_channel, json.dumps({"destination": "x", "events": [good, broken]}).encode())
    statuses = dict(InboundEvent.objects.values_list("event_key", "status"))
    assert statuses == {"01HFAKE0000000000000000003": "processed", "01BROKEN": "failed"}
    assert "unexpected payload" in InboundEvent.objects.get(event_key="01BROKEN").error
    assert Message.objects.count() == 1


def test_an_admin_sends_failed_events_through_again(
    login, admin_user, post_line, line_channel, fake_line, django_capture_on_commit_callbacks
):
    post_line(line_channel, "message_text")
    InboundEvent.objects.update(status="failed", error="boom")
    Message.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        login(admin_user).post(reverse("social:channel-events-retry", args=[line_channel.pk]))
    assert InboundEvent.objects.get().status == "processed"
    assert Message.objects.count() == 1


def test_auto_replies_stranded_by_a_broker_outage_are_sent_by_the_sweeper_unless_too_late(
    post_line, line_channel, fake_line, monkeypatch, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.utils import timezone

    from social import tasks
    from social.models import AutoReplyRule

    AutoReplyRule.objects.create(
        channel=line_channel, name="p", match="contains", pattern="price", reply_text="Prices"
    )
    monkeypatch.setattr(
        tasks.send_queued_messages, "delay", lambda *a, **k: (_ for _ in ()).throw(OSError("down"))
    )
    post_line(line_channel, "message_text")
    out = Message.objects.get(direction="out")
    assert out.status == "queued"
    monkeypatch.undo()
    Message.objects.filter(pk=out.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    with django_capture_on_commit_callbacks(execute=True):
        tasks.sweep_pending_events()
    out.refresh_from_db()
    assert out.status == "sent"
    stale = Message.objects.create(
        conversation=out.conversation,
        direction="out",
        text="late",
        status="queued",
        data={"auto_reply": "p"},
        created_at=timezone.now() - timedelta(hours=2),
    )
    tasks.sweep_pending_events()
    stale.refresh_from_db()
    assert stale.status == "failed" and "an hour late" in stale.error
