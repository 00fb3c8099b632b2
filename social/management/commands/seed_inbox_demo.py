"""python manage.py seed_inbox_demo: conversations in the inbox and a broadcast draft for the demo."""

import datetime as dt
from io import StringIO

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from customers.models import Customer, SocialIdentity, Tag
from social.models import Broadcast, BroadcastVariant, Channel, Conversation, Message

CHANNEL_NAME = "Demo shop LINE"  # seed_social_demo's channel: one demo LINE account, not two
BROADCAST_NAME = "週年慶 8 折 (demo)"
DEMO_IDENTITY_CHANNEL = "demo-line-oa"  # what customers' seed_demo writes on its LINE identities
THREADS = [
    ["你好,請問週末有營業嗎?", "我想預約週六下午"],
    ["我上週買的耳機有雜音", "可以換貨嗎?我的電話是 0912-345-678"],
    ["收到優惠券了,謝謝!"],
    ["請問會員點數怎麼查詢?"],
    ["訂單什麼時候出貨?"],
]


class Command(BaseCommand):
    help = "Give the demo LINE channel (seed_social_demo) more conversations and a broadcast draft. Safe to run again."

    @transaction.atomic
    def handle(self, *args, **options):
        User = get_user_model()
        call_command("seed_social_demo", stdout=StringIO())
        channel = Channel.objects.get(kind=Channel.Kind.LINE, name=CHANNEL_NAME)
        team_user = User.objects.filter(username="agent").first()
        SocialIdentity.objects.filter(provider="line", channel=DEMO_IDENTITY_CHANNEL).update(
            channel=str(channel.pk)
        )
        if Broadcast.objects.filter(name=BROADCAST_NAME).exists():
            self.stdout.write("Inbox demo already there.")
            return
        taken = Conversation.objects.filter(channel=channel).values("identity_id")
        identities = list(
            SocialIdentity.objects.filter(provider="line", channel=str(channel.pk), followed=True)
            .exclude(pk__in=taken)
            .select_related("customer")
            .order_by("id")[: len(THREADS)]
        )
        for index in range(len(identities), len(THREADS)):
            customer = Customer.objects.create(
                name=f"LINE 訪客 {index + 1}", team=channel.team, source="LINE"
            )
            identities.append(
                SocialIdentity.objects.create(
                    customer=customer,
                    provider="line",
                    channel=str(channel.pk),
                    external_id=f"Uinboxdemo{index:023d}",
                    display_name=customer.name,
                    followed_at=timezone.now(),
                )
            )
        now = timezone.now()
        for index, (identity, texts) in enumerate(zip(identities, THREADS, strict=False)):
            started = now - dt.timedelta(hours=index * 5 + 1)
            conversation = Conversation.objects.create(
                channel=channel,
                customer=identity.customer,
                identity=identity,
                assignee=team_user if index == 3 else None,
                team=channel.team,
                last_message_at=started + dt.timedelta(minutes=len(texts)),
                last_inbound_at=started + dt.timedelta(minutes=len(texts)),
                unread_count=len(texts) if index != 2 else 0,
            )
            for offset, text in enumerate(texts):
                Message.objects.create(
                    conversation=conversation,
                    direction=Message.Direction.IN,
                    kind=Message.Kind.TEXT,
                    text=text,
                    status=Message.Status.RECEIVED,
                    created_at=started + dt.timedelta(minutes=offset),
                )
        manager = User.objects.filter(username="manager").first()
        broadcast = Broadcast.objects.create(name=BROADCAST_NAME, channel=channel, created_by=manager)
        vip = Tag.objects.filter(name="VIP").first()
        if vip:
            broadcast.tags.add(vip)
        BroadcastVariant.objects.create(
            broadcast=broadcast, label="A", percent=100, text="週年慶全館 8 折,只到週日!"
        )
        self.stdout.write(
            self.style.SUCCESS(f"Inbox demo: {len(identities)} conversations, 1 broadcast draft.")
        )
