"""Conversations with a customer, a LINE identity and messages, for the inbox and broadcast tests."""

import datetime as dt

from django.utils import timezone

from customers.models import Consent, SocialIdentity
from social.models import Conversation, Message
from tests.factories import CustomerFactory


def identity_for(channel, *, customer=None, user_id=None, name="小美", followed=True, **customer_fields):
    customer = customer or CustomerFactory(name=customer_fields.pop("customer_name", name), **customer_fields)
    user_id = user_id or f"U{customer.pk:032x}"
    return SocialIdentity.objects.create(
        customer=customer,
        provider=channel.kind,
        channel=str(channel.pk),
        external_id=user_id,
        display_name=name,
        followed=followed,
        followed_at=timezone.now(),
    )


def conversation_for(channel, *, identity=None, messages=(), team=None, assignee=None, **kwargs):
    identity = identity or identity_for(channel, **kwargs)
    now = timezone.now()
    conversation = Conversation.objects.create(
        channel=channel,
        customer=identity.customer,
        identity=identity,
        team=team,
        assignee=assignee,
        last_message_at=now,
        last_inbound_at=now,
    )
    for index, text in enumerate(messages):
        Message.objects.create(
            conversation=conversation,
            direction=Message.Direction.IN,
            kind=Message.Kind.TEXT,
            text=text,
            status=Message.Status.RECEIVED,
            created_at=now - dt.timedelta(seconds=len(messages) - index),
        )
    if messages:
        Conversation.objects.filter(pk=conversation.pk).update(unread_count=len(messages))
        conversation.refresh_from_db()
    return conversation


def marketing_consent(customer, *, granted=True, channel="any", when=None):
    return Consent.objects.create(
        customer=customer,
        purpose=Consent.Purpose.MARKETING,
        channel=channel,
        granted=granted,
        occurred_at=when or timezone.now(),
    )
