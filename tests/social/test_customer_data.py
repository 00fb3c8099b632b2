"""Social conversations, messages and broadcast deliveries follow the customer through merges, data-subject
exports and erasure."""

import os

import pytest
from django.core.files.base import ContentFile

from customers import privacy
from customers.merging import customer_merge, customer_merge_undo
from customers.models import SocialIdentity
from social.models import Broadcast, BroadcastDelivery, BroadcastVariant, Conversation, Message
from tests.factories import CustomerFactory
from tests.social.inbox_factories import conversation_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def chat(line_channel, team, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    conversation = conversation_for(
        line_channel,
        messages=["我的訂單在哪裡?", "電話 0912345678"],
        name="小美",
        customer_name="林小美",
        team=team,
    )
    conversation.customer.team = team
    conversation.customer.save()
    photo = Message(conversation=conversation, direction="in", kind="image", text="")
    photo.media.save("photo.jpg", ContentFile(b"\xff\xd8jpeg"), save=True)
    return conversation


def test_a_merge_moves_the_conversation_and_its_messages_and_undo_brings_them_back(chat, manager, team):
    loser = chat.customer
    winner = CustomerFactory(name="林小美", team=team)
    broadcast = Broadcast.objects.create(name="Spring", channel=chat.channel)
    variant = BroadcastVariant.objects.create(broadcast=broadcast, label="A", text="Hello")
    delivery = BroadcastDelivery.objects.create(
        broadcast=broadcast, variant=variant, customer=loser, identity=chat.identity
    )

    merge = customer_merge(actor=manager, winner=winner, loser=loser)
    chat.refresh_from_db()
    assert chat.customer == winner
    assert Message.objects.filter(conversation__customer=winner).count() == 3
    assert BroadcastDelivery.objects.get(pk=delivery.pk).customer == winner

    customer_merge_undo(actor=manager, merge=merge)
    chat.refresh_from_db()
    assert chat.customer == loser
    assert BroadcastDelivery.objects.get(pk=delivery.pk).customer == loser


def test_the_data_subject_export_holds_conversations_and_message_texts(chat, admin_user):
    sections = privacy.customer_data(chat.customer)
    assert sections["conversations"][0]["channel__name"] == chat.channel.name
    assert {m["text"] for m in sections["messages"]} >= {"我的訂單在哪裡?", "電話 0912345678"}


def test_erasure_removes_message_texts_media_and_identity_names_and_keeps_counts(chat, admin_user):
    photo = Message.objects.exclude(media="").get()
    path = photo.media.path
    request = privacy.customer_erase(actor=admin_user, customer=chat.customer, reason="Request by e-mail")

    assert Message.objects.filter(conversation=chat).count() == 3
    texts = set(Message.objects.filter(conversation=chat).values_list("text", flat=True))
    assert not texts & {"我的訂單在哪裡?", "電話 0912345678"}
    assert not Message.objects.filter(conversation=chat).exclude(media="").exists()
    assert not os.path.exists(path)
    assert SocialIdentity.objects.get(pk=chat.identity_id).display_name != "小美"
    assert Conversation.objects.filter(pk=chat.pk).exists()
    assert request.counts["messages"] == 3
