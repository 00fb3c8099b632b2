"""The social inbox: who sees which conversation, replying (reply token, push, retries, WeChat's window),
notes, assignment, close/reopen, live events, tickets from a conversation."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm import pubsub, roles
from customers.models import Interaction
from social import inbox
from social.models import Channel, Conversation, Message
from tests.factories import TeamFactory, UserFactory
from tests.social.fake_line import PNG_1x1
from tests.social.inbox_factories import conversation_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversation(line_channel, fake_line):
    return conversation_for(line_channel, messages=["請問營業時間?"])


@pytest.fixture
def wechat_channel(team):
    channel = Channel(kind=Channel.Kind.WECHAT, name="Demo shop WeChat", team=team)
    channel.set_credentials({"app_id": "wx123", "app_secret": "s", "token": "t"})
    channel.save()
    return channel


def send(conversation, user, capture, **kwargs):
    with capture(execute=True):
        return inbox.message_send(conversation=conversation, actor=user, **kwargs)


# Who sees what ----------------------------------------------------------------------------------------


def test_an_agent_sees_their_teams_conversations_and_not_another_teams(
    login, agent, line_channel, other_team
):
    ours = conversation_for(line_channel, messages=["hello"], name="Ours")
    theirs = conversation_for(line_channel, messages=["hi"], name="Theirs", team=other_team)
    client = login(agent)
    page = client.get("/inbox/?folder=all")
    assert page.status_code == 200
    body = page.content.decode()
    assert "Ours" in body and "Theirs" not in body
    assert client.get(f"/inbox/{ours.pk}/").status_code == 200
    assert client.get(f"/inbox/{theirs.pk}/").status_code == 404
    assert client.post(f"/inbox/{theirs.pk}/reply/", {"text": "x"}).status_code == 404


def test_a_user_without_the_inbox_permission_is_refused(login, line_channel, team):
    nobody = UserFactory(username="no-role", team=team)
    assert login(nobody).get("/inbox/").status_code == 403


def test_a_manager_sees_the_conversations_of_the_team_they_manage(login, manager, line_channel, other_team):
    other_team.manager = manager
    other_team.save()
    theirs = conversation_for(line_channel, messages=["hi"], name="Theirs", team=other_team)
    assert login(manager).get(f"/inbox/{theirs.pk}/").status_code == 200


def test_the_list_shows_unread_counts_per_folder_in_a_constant_number_of_queries(login, agent, line_channel):
    conversation_for(line_channel, messages=["a", "b"], name="First")
    client = login(agent)
    client.get("/inbox/?folder=unassigned")
    with CaptureQueriesContext(connection) as few:
        client.get("/inbox/?folder=unassigned")
    for index in range(8):
        conversation_for(
            line_channel, messages=["x"], name=f"More {index}", assignee=agent if index % 2 else None
        )
    with CaptureQueriesContext(connection) as many:
        page = client.get("/inbox/?folder=unassigned")
    assert len(many) == len(few)
    assert page.content.decode().count('data-testid="conversation-row"') == 5
    assert 'data-testid="unread">2<' in page.content.decode()


def test_the_thread_page_costs_the_same_queries_with_many_messages(login, admin_user, line_channel):
    conversation = conversation_for(line_channel, messages=["one"])
    client = login(admin_user)
    client.get(f"/inbox/{conversation.pk}/")
    with CaptureQueriesContext(connection) as few:
        client.get(f"/inbox/{conversation.pk}/")
    for index in range(30):
        Message.objects.create(
            conversation=conversation, direction="in", text=f"more {index}", status="received"
        )
    with CaptureQueriesContext(connection) as many:
        page = client.get(f"/inbox/{conversation.pk}/")
    assert page.content.decode().count('data-testid="message"') == 31
    assert len(many) == len(few)


def test_searching_finds_conversations_by_what_was_said(login, admin_user, line_channel):
    conversation_for(line_channel, messages=["我想退貨"], name="Returns")
    conversation_for(line_channel, messages=["hello"], name="Greeting")
    body = login(admin_user).get("/inbox/?folder=all&q=退貨").content.decode()
    assert "Returns" in body and "Greeting" not in body


# Replies ----------------------------------------------------------------------------------------------


def test_a_reply_uses_the_fresh_reply_token_and_is_marked_sent(
    conversation, agent, fake_line, django_capture_on_commit_callbacks
):
    Conversation.objects.filter(pk=conversation.pk).update(
        reply_token="fresh-token", reply_token_at=timezone.now()
    )
    message = send(conversation, agent, django_capture_on_commit_callbacks, text="我們 9 點開門")
    message.refresh_from_db()
    assert message.status == Message.Status.SENT and message.data["sent_with"] == "reply"
    (call,) = fake_line.calls("/v2/bot/message/")
    assert call.path == "/v2/bot/message/reply"
    assert call.json() == {
        "replyToken": "fresh-token",
        "messages": [{"type": "text", "text": "我們 9 點開門"}],
    }
    conversation.refresh_from_db()
    assert conversation.reply_token == "" and conversation.unread_count == 0
    entry = Interaction.objects.get(customer=conversation.customer, kind="message_out")
    assert entry.summary == "我們 9 點開門" and entry.actor == agent and entry.channel == "line"


def test_without_a_fresh_token_the_reply_is_pushed_with_the_messages_retry_key(
    conversation, agent, fake_line, django_capture_on_commit_callbacks
):
    Conversation.objects.filter(pk=conversation.pk).update(
        reply_token="old", reply_token_at=timezone.now() - dt.timedelta(minutes=5)
    )
    message = send(conversation, agent, django_capture_on_commit_callbacks, text="hello")
    message.refresh_from_db()
    (call,) = fake_line.calls("/v2/bot/message/")
    assert call.path == "/v2/bot/message/push"
    assert call.headers["x-line-retry-key"] == str(message.retry_key)
    assert call.json()["to"] == conversation.identity.external_id
    assert message.status == Message.Status.SENT and message.data["sent_with"] == "push"


def test_a_refused_reply_token_falls_back_to_a_push(
    conversation, agent, fake_line, django_capture_on_commit_callbacks
):
    Conversation.objects.filter(pk=conversation.pk).update(
        reply_token="expired-1", reply_token_at=timezone.now()
    )
    message = send(conversation, agent, django_capture_on_commit_callbacks, text="hello")
    assert [c.path for c in fake_line.calls("/v2/bot/message/")] == [
        "/v2/bot/message/reply",
        "/v2/bot/message/push",
    ]
    message.refresh_from_db()
    assert message.status == Message.Status.SENT


def test_a_server_error_is_retried_with_the_same_retry_key_and_delivered_once(
    conversation, agent, fake_line, django_capture_on_commit_callbacks
):
    fake_line.fail_next(500, count=2)
    message = send(conversation, agent, django_capture_on_commit_callbacks, text="hello")
    message.refresh_from_db()
    pushes = fake_line.calls("/push")
    assert len(pushes) == 3
    assert {c.headers["x-line-retry-key"] for c in pushes} == {str(message.retry_key)}
    assert message.status == Message.Status.SENT


def test_a_refused_message_shows_the_failure_and_can_be_sent_again(
    login, conversation, agent, fake_line, django_capture_on_commit_callbacks
):
    fake_line.fail_next(400)
    message = send(conversation, agent, django_capture_on_commit_callbacks, text="hello")
    message.refresh_from_db()
    assert message.status == Message.Status.FAILED and "LINE refused" in message.error
    client = login(agent)
    page = client.get(f"/inbox/{conversation.pk}/").content.decode()
    assert 'data-testid="send-failed"' in page and "not delivered" in page
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/inbox/{conversation.pk}/messages/{message.pk}/retry/")
    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    assert {c.headers["x-line-retry-key"] for c in fake_line.calls("/push")} == {str(message.retry_key)}


def test_an_image_reply_is_stored_and_sent_as_a_signed_public_link(
    conversation, agent, fake_line, django_capture_on_commit_callbacks, settings, client, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    settings.SOCIAL_PUBLIC_URL = "https://crm.example.com"
    image = SimpleUploadedFile("photo.png", PNG_1x1, content_type="image/png")
    message = send(conversation, agent, django_capture_on_commit_callbacks, image=image)
    payload = fake_line.calls("/push")[0].json()["messages"][0]
    assert payload["type"] == "image" and payload["originalContentUrl"].startswith(
        "https://crm.example.com/inbox/media/"
    )
    path = payload["originalContentUrl"].removeprefix("https://crm.example.com")
    response = client.get(path)
    assert response.status_code == 200 and b"".join(response.streaming_content) == PNG_1x1
    assert client.get(path[:-3] + "xyz/").status_code == 404
    assert message.kind == Message.Kind.IMAGE


def test_a_file_a_follower_sent_is_a_download_and_never_a_page_on_our_site(
    conversation, client, tmp_path, settings
):
    settings.MEDIA_ROOT = tmp_path
    page = b"<script>alert(document.cookie)</script>"
    message = conversation.messages.create(direction="in", kind=Message.Kind.FILE, text="invoice.html")
    message.media.save("invoice.html", SimpleUploadedFile("invoice.html", page))
    response = client.get(inbox.media_url("m", message.pk, absolute=False))
    assert response.status_code == 200 and b"".join(response.streaming_content) == page
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment")
    assert "sandbox" in response["Content-Security-Policy"]


def test_a_file_that_is_not_an_image_is_refused_and_nothing_is_saved(conversation, agent):
    fake = SimpleUploadedFile("photo.png", b"MZ\x90\x00 not an image", content_type="image/png")
    with pytest.raises(ValidationError) as exc:
        inbox.message_send(conversation=conversation, actor=agent, image=fake, text="see this")
    assert "JPEG or PNG" in str(exc.value)
    assert not conversation.messages.filter(direction="out").exists()


def test_an_empty_reply_gets_a_clear_message(login, conversation, agent):
    page = login(agent).post(f"/inbox/{conversation.pk}/reply/", {"text": "  "}, HTTP_HX_REQUEST="true")
    assert "Write a reply or choose an image." in page.content.decode()
    assert not conversation.messages.filter(direction="out").exists()


def test_wechat_refuses_replies_after_48_hours_and_the_inbox_says_so(login, wechat_channel, agent):
    conversation = conversation_for(wechat_channel, messages=["hi"])
    Conversation.objects.filter(pk=conversation.pk).update(
        last_inbound_at=timezone.now() - dt.timedelta(hours=49)
    )
    conversation.refresh_from_db()
    with pytest.raises(ValidationError) as exc:
        inbox.message_send(conversation=conversation, actor=agent, text="still there?")
    assert "48-hour window is closed" in str(exc.value)
    page = login(agent).get(f"/inbox/{conversation.pk}/").content.decode()
    assert 'data-testid="window-closed"' in page and "48-hour window is closed" in page


# Notes, assignment, status ----------------------------------------------------------------------------


def test_an_internal_note_stays_in_the_crm(
    login, conversation, agent, fake_line, django_capture_on_commit_callbacks
):
    client = login(agent)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/inbox/{conversation.pk}/note/", {"text": "VIP: be nice"})
    note = conversation.messages.get(kind=Message.Kind.NOTE)
    assert note.is_internal_note and note.sender == agent
    assert fake_line.calls("/v2/bot/message/") == []
    assert "VIP: be nice" in client.get(f"/inbox/{conversation.pk}/").content.decode()


def test_an_agent_takes_a_conversation_but_cannot_hand_it_to_someone_else(login, conversation, agent, rep):
    client = login(agent)
    client.post(f"/inbox/{conversation.pk}/assign/", {"take": "1"})
    conversation.refresh_from_db()
    assert conversation.assignee == agent and conversation.team == agent.team
    with pytest.raises(PermissionDenied):
        inbox.conversation_assign(conversation=conversation, actor=agent, assignee=rep)


def test_a_manager_assigns_and_the_agent_is_told_live(
    conversation, manager, agent, monkeypatch, django_capture_on_commit_callbacks
):
    published = []
    monkeypatch.setattr(
        pubsub, "publish", lambda channel, event, data: published.append((channel, event, data))
    )
    with django_capture_on_commit_callbacks(execute=True):
        inbox.conversation_assign(conversation=conversation, actor=manager, assignee=agent)
    assert (f"user:{agent.pk}", "notify") in [(c, e) for c, e, _d in published]
    assert ("social:inbox", "inbox", str(conversation.pk)) in published
    assert conversation.messages.filter(kind="event", text__contains="assigned to").exists()


def test_a_team_handover_moves_it_to_that_teams_folder(conversation, manager, other_team):
    inbox.conversation_assign(conversation=conversation, actor=manager, team=other_team)
    conversation.refresh_from_db()
    assert conversation.team == other_team and conversation.assignee is None


def test_closing_and_reopening_are_recorded_in_the_thread(login, conversation, agent):
    client = login(agent)
    client.post(f"/inbox/{conversation.pk}/status/", {"status": "closed"})
    conversation.refresh_from_db()
    assert conversation.status == "closed" and conversation.unread_count == 0
    client.post(f"/inbox/{conversation.pk}/status/", {"status": "open"})
    conversation.refresh_from_db()
    assert conversation.status == "open"
    assert list(conversation.messages.filter(kind="event").values_list("text", flat=True)) == [
        "Conversation closed",
        "Conversation reopened",
    ]


def test_messages_stored_by_the_webhook_tell_open_inboxes_and_the_360_page(conversation, monkeypatch):
    published = []
    monkeypatch.setattr(
        pubsub, "publish", lambda channel, event, data: published.append((channel, event, data))
    )
    inbox.conversations_changed({conversation.pk})
    assert {(channel, event) for channel, event, _data in published} == {
        ("social:inbox", "inbox"),
        ("social:inbox", f"conversation-{conversation.pk}"),
        ("social:inbox", f"customer-{conversation.customer_id}"),
    }


def test_opening_a_conversation_marks_it_read_for_whoever_answers_it(login, conversation, agent, manager):
    Conversation.objects.filter(pk=conversation.pk).update(assignee=agent)
    login(manager).get(f"/inbox/{conversation.pk}/")
    conversation.refresh_from_db()
    assert conversation.unread_count == 1
    login(agent).get(f"/inbox/{conversation.pk}/")
    conversation.refresh_from_db()
    assert conversation.unread_count == 0


def test_the_live_stream_needs_a_login(client):
    assert client.get("/inbox/stream/").status_code in (302, 401)


# Tickets ----------------------------------------------------------------------------------------------


def test_a_ticket_from_a_conversation_links_the_thread_and_its_public_replies_go_back_to_line(
    login, conversation, agent, fake_line, django_capture_on_commit_callbacks
):
    from tickets.models import Ticket
    from tickets.services import ticket_reply

    response = login(agent).post(
        f"/inbox/{conversation.pk}/ticket/",
        {"subject": "Opening hours", "description": "", "priority": "normal"},
    )
    ticket = Ticket.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/tickets/{ticket.pk}/")
    assert ticket.source == Ticket.Source.LINE and ticket.origin == conversation
    assert "請問營業時間?" in ticket.description
    with django_capture_on_commit_callbacks(execute=True):
        ticket_reply(ticket=ticket, actor=agent, body="We open at 9.")
        ticket_reply(ticket=ticket, actor=agent, body="internal only", internal=True)
    pushes = fake_line.calls("/push")
    assert [p.json()["messages"][0]["text"] for p in pushes] == ["We open at 9."]
    assert conversation.messages.filter(direction="out", text="We open at 9.", status="sent").exists()


def test_replies_on_a_manual_ticket_go_nowhere(
    customer, agent, fake_line, django_capture_on_commit_callbacks
):
    from tickets.services import ticket_create, ticket_reply

    ticket = ticket_create(actor=None, customer=customer, subject="Manual")
    with django_capture_on_commit_callbacks(execute=True):
        ticket_reply(ticket=ticket, actor=agent, body="hello")
    assert fake_line.calls() == []


def test_an_agent_of_another_team_cannot_post_anything(login, conversation):
    outsider = UserFactory(username="outsider-agent", role=roles.AGENT, team=TeamFactory(name="Far away"))
    client = login(outsider)
    for path, data in [
        ("reply", {"text": "x"}),
        ("note", {"text": "x"}),
        ("assign", {"take": "1"}),
        ("status", {"status": "closed"}),
        ("ticket", {"subject": "x", "priority": "normal"}),
        ("bind", {"customer": conversation.customer_id}),
    ]:
        assert client.post(f"/inbox/{conversation.pk}/{path}/", data).status_code == 404, path
    assert conversation.messages.count() == 1


def test_the_live_stream_refuses_users_without_the_inbox(login, team):
    nobody = UserFactory(username="no-inbox", team=team)
    assert login(nobody).get("/inbox/stream/").status_code == 403


def test_typing_a_search_keeps_the_folder(login, admin_user, line_channel):
    conversation_for(line_channel, messages=["退貨"], name="Mine", assignee=admin_user)
    conversation_for(line_channel, messages=["退貨"], name="Someone else's")
    body = login(admin_user).get(
        "/inbox/?folder=mine&q=退貨", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="conversation-list"
    )
    text = body.content.decode()
    assert text.startswith('\n<div id="conversation-list"') or 'id="conversation-list"' in text[:200]
    assert "Mine" in text and "Someone else" not in text


def test_a_long_thread_opens_on_its_newest_messages_and_pages_back(login, admin_user, line_channel):
    conversation = conversation_for(line_channel, messages=[f"message {index}" for index in range(60)])
    client = login(admin_user)
    page = client.get(f"/inbox/{conversation.pk}/").content.decode()
    assert "message 59" in page and "message 9<" not in page and "Earlier messages" in page
    oldest_shown = conversation.messages.order_by("created_at", "id")[10]
    older = client.get(
        f"/inbox/{conversation.pk}/?before={oldest_shown.pk}",
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="thread-older",
    ).content.decode()
    assert "message 0<" in older and "message 9<" in older and "message 10<" not in older


def test_without_a_public_address_images_to_line_are_refused_clearly(conversation, agent, settings):
    settings.SOCIAL_PUBLIC_URL = ""
    settings.TICKETS_SITE_URL = ""
    image = SimpleUploadedFile("photo.png", PNG_1x1, content_type="image/png")
    with pytest.raises(ValidationError) as exc:
        inbox.message_send(conversation=conversation, actor=agent, image=image)
    assert "SOCIAL_PUBLIC_URL" in str(exc.value)
