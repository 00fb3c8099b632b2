"""python manage.py seed_social_demo: a demo LINE and WeChat channel, rules, and conversations."""

import json
import zlib
from datetime import timedelta

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from crm.models import Team
from customers.models import Customer, SocialIdentity
from social import services
from social.models import AutoReplyRule, Channel, InboundEvent
from social.processing import inbound_events_process
from social.webhooks import events_store

LINE_NAME = "Demo shop LINE"
WECHAT_NAME = "Demo shop WeChat"
# (LINE user id, display name, messages) for the demo conversations.
LINE_FOLLOWERS = [
    ("Udemo0000000000000000000000000001", "王小明", ["你好，請問這週有優惠嗎？", "我想預約門市試用"]),
    ("Udemo0000000000000000000000000002", "Amy Lin", ["Hi, is the spring sale still on?"]),
    ("Udemo0000000000000000000000000003", "陳美玲", ["訂單什麼時候出貨？"]),
]
WECHAT_FOLLOWERS = [("odemo_wechat_0000000000000001", "李华", ["请问营业时间？"])]


class Command(BaseCommand):
    help = "Add demo social channels (LINE, WeChat), auto-reply rules and a few conversations. Safe to run again."

    @transaction.atomic
    def handle(self, *args, **options):
        team = Team.objects.order_by("pk").first()
        line = Channel.objects.filter(name=LINE_NAME).first() or services.channel_create(
            actor=None,
            kind="line",
            name=LINE_NAME,
            team=team,
            credentials={"channel_secret": "demo-line-secret", "access_token": "demo-line-token"},
            welcome_message="歡迎加入！輸入「優惠」看本週活動。",
        )
        wechat = Channel.objects.filter(name=WECHAT_NAME).first() or services.channel_create(
            actor=None,
            kind="wechat",
            name=WECHAT_NAME,
            team=team,
            credentials={
                "token": "demo-wechat-token",
                "app_id": "wxdemo",
                "app_secret": "demo",
                "mode": "plain",
            },
        )
        # Conversations first: the demo's stored messages must not wait for replies no one can send.
        self._conversations(line, "line", LINE_FOLLOWERS)
        self._conversations(wechat, "wechat", WECHAT_FOLLOWERS)
        if not AutoReplyRule.objects.filter(channel=line).exists():
            services.auto_reply_rule_save(
                actor=None,
                channel=line,
                name="優惠",
                trigger="keyword",
                match="contains",
                pattern="優惠",
                when="always",
                reply_text="本週全館 9 折，詳情請看選單。",
                priority=10,
                is_active=True,
            )
            services.auto_reply_rule_save(
                actor=None,
                channel=line,
                name="Campaign tag",
                trigger="postback",
                match="regex",
                pattern=r"campaign=(?P<tag>[\w-]+)",
                when="always",
                reply_text="",
                priority=20,
                is_active=True,
            )
        self.stdout.write(
            f"Social demo: {Channel.objects.count()} channels, {InboundEvent.objects.count()} events"
        )

    def _conversations(self, channel, provider, followers):
        now = timezone.now()
        keyed = []
        for index, (user_id, name, texts) in enumerate(followers):
            customer = Customer.objects.filter(name=name).order_by("pk").first()
            if customer is not None:
                SocialIdentity.objects.get_or_create(
                    provider=provider,
                    channel=str(channel.pk),
                    external_id=user_id,
                    defaults={"customer": customer, "display_name": name, "followed_at": now},
                )
            for number, text in enumerate(texts):
                at = now - timedelta(hours=index * 5 + len(texts) - number)
                key, payload = _event(provider, user_id, text, at, f"demo-{index}-{number}")
                keyed.append((key, payload))
        ids = events_store(channel.pk, keyed)
        if ids:
            inbound_events_process(event_ids=ids, follow_ups_enabled=False)


def _event(provider, user_id, text, at, suffix):
    if provider == "line":
        key = f"demo-{user_id[-4:]}-{suffix}"
        return key, json.loads(
            json.dumps(
                {
                    "type": "message",
                    "mode": "active",
                    "timestamp": int(at.timestamp() * 1000),
                    "source": {"type": "user", "userId": user_id},
                    "webhookEventId": key,
                    "deliveryContext": {"isRedelivery": False},
                    "message": {"id": key, "type": "text", "text": text},
                }
            )
        )
    msg_id = str(zlib.crc32(f"{user_id}{suffix}".encode()))
    return f"msg:demo-{suffix}", {
        "ToUserName": "gh_demo",
        "FromUserName": user_id,
        "CreateTime": str(int(at.timestamp())),
        "MsgType": "text",
        "Content": text,
        "MsgId": msg_id,
    }
