"""The broadcast sender (the task social.broadcast_run runs broadcast_run): deliveries prepared once,
then batches of provider size under the rate limit, each retried on 429/5xx with its own stable
X-Line-Retry-Key, recorded (deliveries, counters, one timeline entry per recipient) in one transaction,
with the broadcast's status read between batches so that pause and cancel take effect at once."""

import time
import uuid
import zlib

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from crm import pubsub
from customers.models import Interaction
from customers.services import InteractionEntry, record_interactions

from .broadcasts import (
    DELIVERY_CHUNK,
    LINE_BATCH,
    MAX_ATTEMPTS,
    RUN_BUDGET_SECONDS,
    WECHAT_BATCH,
    broadcast_recipients,
)
from .inbox import INBOX_CHANNEL, media_url
from .models import Broadcast, BroadcastDelivery, BroadcastVariant, Channel


def _bucket(identity_id: int) -> int:
    """A stable pseudo-random 0..99 per identity: the same person always lands in the same variant."""
    return zlib.crc32(str(identity_id).encode()) % 100


def deliveries_prepare(broadcast: Broadcast) -> int:
    """Write one pending delivery per recipient, split between the variants; safe to run again."""
    variants = list(broadcast.variants.order_by("label"))
    bounds, total = [], 0
    for variant in variants:
        total += variant.percent
        bounds.append((total, variant.pk))
    rows = []
    recipients = broadcast_recipients(broadcast).order_by("id").values_list("id", "customer_id")
    created = 0
    for identity_id, customer_id in recipients.iterator(chunk_size=DELIVERY_CHUNK):
        bucket = _bucket(identity_id)
        variant_id = next((pk for bound, pk in bounds if bucket < bound), bounds[-1][1])
        rows.append(
            BroadcastDelivery(
                broadcast_id=broadcast.pk,
                variant_id=variant_id,
                customer_id=customer_id,
                identity_id=identity_id,
            )
        )
        if len(rows) >= DELIVERY_CHUNK:
            created += len(BroadcastDelivery.objects.bulk_create(rows, ignore_conflicts=True))
            rows = []
    if rows:
        created += len(BroadcastDelivery.objects.bulk_create(rows, ignore_conflicts=True))
    total = BroadcastDelivery.objects.filter(broadcast=broadcast).count()
    Broadcast.objects.filter(pk=broadcast.pk).update(total=total)
    return total


class _RateLimiter:
    """At most `per_second` requests a second (0: no limit), spaced evenly."""

    def __init__(self, per_second: float):
        self.interval = 1.0 / per_second if per_second and per_second > 0 else 0.0
        self.next_at = 0.0

    def wait(self) -> None:
        if not self.interval:
            return
        now = time.monotonic()
        if self.next_at > now:
            time.sleep(self.next_at - now)
        self.next_at = max(now, self.next_at) + self.interval


def line_messages(variant: BroadcastVariant) -> list[dict]:
    if variant.kind == BroadcastVariant.Kind.IMAGE:
        url = media_url("b", variant.pk)
        return [{"type": "image", "originalContentUrl": url, "previewImageUrl": url}]
    if variant.kind == BroadcastVariant.Kind.FLEX:
        return [{"type": "flex", "altText": variant.alt_text or variant.text or "", "contents": variant.flex}]
    return [{"type": "text", "text": variant.text}]


def batch_retry_key(broadcast: Broadcast, first_delivery_id: int) -> str:
    """The same key for the same batch in every attempt and every run, so LINE accepts it only once."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"crm-broadcast:{broadcast.pk}:{first_delivery_id}"))


def broadcast_run(*, broadcast_id: int, budget_seconds: float = RUN_BUDGET_SECONDS, sleep=time.sleep) -> str:
    """Send pending deliveries batch by batch until done, paused, cancelled or out of time.

    Returns "done", "stopped" (paused or cancelled) or "more" (the task enqueues the next run).
    """
    broadcast = Broadcast.objects.select_related("channel").filter(pk=broadcast_id).first()
    if broadcast is None or broadcast.status != Broadcast.Status.SENDING:
        return "stopped"
    if not broadcast.deliveries.exists():
        deliveries_prepare(broadcast)
        pubsub.publish(INBOX_CHANNEL, f"broadcast-{broadcast.pk}", str(broadcast.pk))
    sender = _sender(broadcast.channel)
    limiter = _RateLimiter(getattr(settings, "SOCIAL_BROADCAST_REQUESTS_PER_SECOND", 0))
    started = time.monotonic()
    try:
        for variant in broadcast.variants.order_by("label"):
            messages = sender.messages(variant)
            while True:
                status = Broadcast.objects.filter(pk=broadcast.pk).values_list("status", flat=True).first()
                if status != Broadcast.Status.SENDING:
                    return "stopped"
                if time.monotonic() - started > budget_seconds:
                    return "more"
                batch = list(
                    BroadcastDelivery.objects.filter(
                        broadcast=broadcast, variant=variant, status=BroadcastDelivery.Status.PENDING
                    )
                    .order_by("id")
                    .values_list("id", "customer_id", "identity__external_id")[: sender.batch_size]
                )
                if not batch:
                    break
                error = _send_batch(sender, broadcast, batch, messages, limiter, sleep)
                _batch_done(broadcast, variant, batch, error)
    finally:
        sender.close()
    with transaction.atomic():
        updated = Broadcast.objects.filter(pk=broadcast.pk, status=Broadcast.Status.SENDING).update(
            status=Broadcast.Status.DONE, finished_at=timezone.now()
        )
    pubsub.publish(INBOX_CHANNEL, f"broadcast-{broadcast.pk}", str(broadcast.pk))
    return "done" if updated else "stopped"


def _send_batch(sender, broadcast, batch, messages, limiter, sleep) -> str:
    """Send one batch, retrying 429 and 5xx; returns "" on success or the error that stopped it."""
    from .providers.http import ProviderError

    recipients = [external_id for _pk, _customer, external_id in batch]
    retry_key = batch_retry_key(broadcast, batch[0][0])
    for attempt in range(MAX_ATTEMPTS):
        limiter.wait()
        try:
            sender.send(recipients, messages, retry_key=retry_key)
            return ""
        except ProviderError as exc:
            if exc.status == 409:  # an earlier attempt with this key was accepted
                return ""
            if not exc.retryable or attempt == MAX_ATTEMPTS - 1:
                return str(exc)[:500] or _("The provider refused the batch.")
            sleep(min(exc.retry_after or 0.5 * 2**attempt, 30))
    return _("The provider refused the batch.")


def _batch_done(broadcast, variant, batch, error: str) -> None:
    ids = [pk for pk, _customer, _external in batch]
    now = timezone.now()
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # A batch lost in a crash is sent again with the same retry key (LINE answers 409) and
            # written again: it need not wait for the disk.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
        if error:
            BroadcastDelivery.objects.filter(pk__in=ids).update(
                status=BroadcastDelivery.Status.FAILED, error=error
            )
            Broadcast.objects.filter(pk=broadcast.pk).update(
                failed_count=F("failed_count") + len(ids), error=error
            )
            BroadcastVariant.objects.filter(pk=variant.pk).update(failed_count=F("failed_count") + len(ids))
        else:
            BroadcastDelivery.objects.filter(pk__in=ids).update(
                status=BroadcastDelivery.Status.SENT, sent_at=now
            )
            Broadcast.objects.filter(pk=broadcast.pk).update(sent_count=F("sent_count") + len(ids))
            BroadcastVariant.objects.filter(pk=variant.pk).update(sent_count=F("sent_count") + len(ids))
            channel = (
                Interaction.Channel.LINE
                if broadcast.channel.kind == Channel.Kind.LINE
                else Interaction.Channel.WECHAT
            )
            summary = _("Broadcast received: %(name)s") % {"name": broadcast.name}
            data = {"broadcast": broadcast.pk, "variant": variant.label}
            record_interactions(
                [
                    InteractionEntry(
                        customer_id=customer_id,
                        kind=Interaction.Kind.BROADCAST,
                        channel=channel,
                        summary=summary,
                        occurred_at=now,
                        subject=broadcast,
                        data=data,
                    )
                    for _pk, customer_id, _external in batch
                ]
            )
    pubsub.publish(INBOX_CHANNEL, f"broadcast-{broadcast.pk}", str(broadcast.pk))


class _LineSender:
    batch_size = LINE_BATCH

    def __init__(self, channel):
        from .providers.keepalive import KeepAliveJson

        token = channel.credentials.get("access_token", "")
        self.http = KeepAliveJson(settings.LINE_API_BASE, headers={"Authorization": f"Bearer {token}"})

    def messages(self, variant):
        return line_messages(variant)

    def send(self, recipients, messages, *, retry_key):
        self.http.post(
            "/v2/bot/message/multicast",
            {"to": recipients, "messages": messages},
            headers={"X-Line-Retry-Key": retry_key},
        )

    def close(self):
        self.http.close()


class _WeChatSender:
    """WeChat mass send to a list of openids (text or image; Flex is LINE only)."""

    batch_size = WECHAT_BATCH

    def __init__(self, channel):
        from .providers.wechat import WechatClient

        self.client = WechatClient.for_channel(channel)

    def messages(self, variant):
        if variant.kind == BroadcastVariant.Kind.IMAGE:
            with variant.image.open("rb") as file:
                content = file.read()
            name = variant.image.name.rsplit("/", 1)[-1]
            content_type = "image/png" if name.endswith(".png") else "image/jpeg"
            media_id = self.client.upload_media("image", name, content, content_type)
            return {"msgtype": "image", "image": {"media_id": media_id}}
        return {"msgtype": "text", "text": {"content": variant.text}}

    def send(self, recipients, messages, *, retry_key):
        if len(recipients) == 1:  # mass send needs two openids or more: a customer-service message then
            self.client._api(
                "POST", "/cgi-bin/message/custom/send", json_body={"touser": recipients[0], **messages}
            )
            return
        self.client._api("POST", "/cgi-bin/message/mass/send", json_body={"touser": recipients, **messages})

    def close(self):
        pass


def _sender(channel):
    return _LineSender(channel) if channel.kind == Channel.Kind.LINE else _WeChatSender(channel)
