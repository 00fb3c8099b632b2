"""Broadcasts: compose, preview the audience, schedule or send, pause, resume, cancel; and the sender.

The audience is a tag filter today (any/all of some tags, optionally one lifecycle stage) behind ONE
function, broadcast_audience(); segments plug in there. Recipients are the audience's followers of the
channel whose current marketing consent is granted. The sender (social.broadcast_run) works in
provider-sized batches (LINE multicast: 500 user ids), under SOCIAL_BROADCAST_REQUESTS_PER_SECOND,
retries 429/5xx with the batch's X-Line-Retry-Key, records every delivery and a timeline entry per
recipient, and looks at the broadcast's status between batches so pause and cancel take effect at once.
"""

import datetime as dt
import json
import logging
import time
import uuid
import zlib
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import BooleanField, Count, F, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from crm import pubsub
from customers.models import Consent, Customer, Interaction, SocialIdentity
from customers.services import InteractionEntry, record_interactions

from .inbox import IMAGE_TYPES, INBOX_CHANNEL, _checked_image, check_public_url, media_url
from .models import Broadcast, BroadcastDelivery, BroadcastVariant, Channel

logger = logging.getLogger(__name__)

PERMISSION = "social.send_broadcast"
LINE_BATCH = 500  # LINE multicast: at most 500 user ids per request
WECHAT_BATCH = 10000  # WeChat mass send by openid list: at most 10,000 per request
TEXT_MAX = 5000
FLEX_MAX_BYTES = 30 * 1024  # LINE's limit for one Flex message
MAX_VARIANTS = 5
MAX_ATTEMPTS = 5  # per batch, for 429 and 5xx
RUN_BUDGET_SECONDS = 60  # a run re-enqueues itself after this long, so no task hits its time limit
DELIVERY_CHUNK = 5000


def check_can_broadcast(user) -> None:
    if not user.is_authenticated or not user.has_perm(PERMISSION):
        raise PermissionDenied(_("You may not send broadcasts."))


# Audience --------------------------------------------------------------------------------------------


def broadcast_audience(broadcast: Broadcast) -> QuerySet:
    """The customers the broadcast is meant for, before consent and following are checked.

    The one place the audience is defined: a segment would be one more branch here.
    """
    queryset = Customer.objects.all()
    tag_ids = [tag.pk for tag in broadcast.tags.all()]
    if tag_ids:
        if broadcast.tag_match == Broadcast.TagMatch.ALL:
            for tag_id in tag_ids:
                queryset = queryset.filter(tags__id=tag_id)
        else:
            queryset = queryset.filter(
                pk__in=Customer.tags.through.objects.filter(tag_id__in=tag_ids).values("customer_id")
            )
    if broadcast.lifecycle_stage:
        queryset = queryset.filter(lifecycle_stage=broadcast.lifecycle_stage)
    return queryset


def _consent_channel(channel: Channel) -> str:
    return Consent.Channel.LINE if channel.kind == Channel.Kind.LINE else Consent.Channel.WECHAT


def marketing_consent(customer_ref, channel: Channel) -> Subquery:
    """The customer's current marketing choice for this channel (newest row for it or for any channel)."""
    latest = Consent.objects.filter(
        customer_id=customer_ref,
        purpose=Consent.Purpose.MARKETING,
        channel__in=[Consent.Channel.ANY, _consent_channel(channel)],
    ).order_by("-occurred_at", "-id")
    return Subquery(latest.values("granted")[:1], output_field=BooleanField())


def channel_identities(channel: Channel) -> QuerySet:
    provider = SocialIdentity.Provider.LINE if channel.kind == Channel.Kind.LINE else channel.kind
    return SocialIdentity.objects.filter(provider=provider, channel=str(channel.pk))


def broadcast_recipients(broadcast: Broadcast) -> QuerySet:
    """The identities that will receive it: following the channel, in the audience, marketing consent granted."""
    return (
        channel_identities(broadcast.channel)
        .filter(followed=True, customer__in=broadcast_audience(broadcast))
        .alias(consent=marketing_consent(OuterRef("customer_id"), broadcast.channel))
        .filter(consent=True)
    )


@dataclass
class Preview:
    audience: int
    followers: int
    unfollowed: int
    no_consent: int
    recipients: int


def broadcast_preview(broadcast: Broadcast) -> Preview:
    """How many customers the filter finds, and how many are dropped for not following or not consenting."""
    audience = broadcast_audience(broadcast)
    identities = channel_identities(broadcast.channel).filter(customer__in=audience)
    counts = identities.alias(
        consent=marketing_consent(OuterRef("customer_id"), broadcast.channel)
    ).aggregate(
        followers=Count("id", filter=Q(followed=True)),
        unfollowed=Count("id", filter=Q(followed=False)),
        recipients=Count("id", filter=Q(followed=True, consent=True)),
    )
    return Preview(
        audience=audience.count(),
        followers=counts["followers"],
        unfollowed=counts["unfollowed"],
        no_consent=counts["followers"] - counts["recipients"],
        recipients=counts["recipients"],
    )


# Compose ---------------------------------------------------------------------------------------------


@dataclass
class VariantInput:
    label: str = "A"
    percent: int = 100
    kind: str = BroadcastVariant.Kind.TEXT
    text: str = ""
    image: object = None
    flex: str = ""
    alt_text: str = ""


def _checked_variants(channel: Channel, variants: list[VariantInput], errors: dict) -> list[dict]:
    if not variants:
        errors.setdefault("variants", []).append(_("Write the message."))
        return []
    if len(variants) > MAX_VARIANTS:
        errors.setdefault("variants", []).append(_("At most %(n)s variants.") % {"n": MAX_VARIANTS})
    if sum(v.percent for v in variants) != 100:
        errors.setdefault("variants", []).append(_("The variants' shares must add up to 100%."))
    checked = []
    for variant in variants:
        label = (variant.label or "").strip()[:20] or "A"
        text = (variant.text or "").replace("\x00", "").strip()
        row = {"label": label, "percent": variant.percent, "kind": variant.kind, "text": text}
        if variant.percent < 0 or variant.percent > 100:
            errors.setdefault("variants", []).append(_("A share is between 0 and 100%."))
        if variant.kind not in BroadcastVariant.Kind.values:
            errors.setdefault("variants", []).append(_("Choose text, image or Flex."))
        elif variant.kind == BroadcastVariant.Kind.TEXT:
            if not text:
                errors.setdefault("variants", []).append(
                    _("Variant %(label)s has no text.") % {"label": label}
                )
            elif len(text) > TEXT_MAX:
                errors.setdefault("variants", []).append(
                    _("Variant %(label)s is longer than %(max)s characters.")
                    % {"label": label, "max": TEXT_MAX}
                )
        elif variant.kind == BroadcastVariant.Kind.IMAGE:
            if variant.image is None:
                errors.setdefault("variants", []).append(
                    _("Variant %(label)s has no image.") % {"label": label}
                )
            else:
                try:
                    if channel.kind == Channel.Kind.LINE:
                        check_public_url()
                    row["extension"] = _checked_image(variant.image)
                    row["image"] = variant.image
                except ValidationError as exc:
                    errors.setdefault("variants", []).extend(exc.messages)
        else:
            if channel.kind != Channel.Kind.LINE:
                errors.setdefault("variants", []).append(_("Flex messages are for LINE channels only."))
            row["flex"] = _checked_flex(variant.flex, label, errors)
            row["alt_text"] = (variant.alt_text or "").strip()[:400] or text[:400]
            if not row["alt_text"]:
                errors.setdefault("variants", []).append(
                    _("Variant %(label)s needs a notification text (shown where Flex cannot be).")
                    % {"label": label}
                )
        checked.append(row)
    if len({row["label"] for row in checked}) != len(checked):
        errors.setdefault("variants", []).append(_("Give each variant its own label."))
    return checked


def _checked_flex(raw: str, label: str, errors: dict):
    raw = (raw or "").strip()
    if len(raw.encode()) > FLEX_MAX_BYTES:
        errors.setdefault("variants", []).append(
            _("Variant %(label)s: the Flex JSON is larger than 30 KB.") % {"label": label}
        )
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        errors.setdefault("variants", []).append(
            _("Variant %(label)s: the Flex JSON is not valid JSON.") % {"label": label}
        )
        return None
    if not isinstance(value, dict) or value.get("type") not in ("bubble", "carousel"):
        errors.setdefault("variants", []).append(
            _("Variant %(label)s: a Flex message's contents is a “bubble” or a “carousel”.")
            % {"label": label}
        )
        return None
    return value


@transaction.atomic
def broadcast_create(
    *,
    actor,
    name: str,
    channel: Channel,
    variants: list[VariantInput],
    tags=(),
    tag_match: str = Broadcast.TagMatch.ANY,
    lifecycle_stage: str = "",
) -> Broadcast:
    """A draft broadcast; nothing is sent until broadcast_send."""
    check_can_broadcast(actor)
    errors: dict[str, list] = {}
    name = (name or "").replace("\x00", "").strip()[:200]
    if not name:
        errors.setdefault("name", []).append(_("Name the broadcast."))
    if not channel.is_active:
        errors.setdefault("channel", []).append(_("This channel is switched off."))
    if tag_match not in Broadcast.TagMatch.values:
        errors.setdefault("tag_match", []).append(_("Choose any or all."))
    if lifecycle_stage and lifecycle_stage not in Customer.Lifecycle.values:
        errors.setdefault("lifecycle_stage", []).append(_("Choose a lifecycle stage from the list."))
    rows = _checked_variants(channel, variants, errors)
    if errors:
        raise ValidationError(errors)
    broadcast = Broadcast.objects.create(
        name=name, channel=channel, tag_match=tag_match, lifecycle_stage=lifecycle_stage, created_by=actor
    )
    broadcast.tags.set(list(tags))
    for row in rows:
        variant = BroadcastVariant(
            broadcast=broadcast,
            label=row["label"],
            percent=row["percent"],
            kind=row["kind"],
            text=row["text"],
            flex=row.get("flex"),
            alt_text=row.get("alt_text", ""),
        )
        if row.get("image") is not None:
            variant.image.save(f"broadcast-{uuid.uuid4().hex}.{row['extension']}", row["image"], save=False)
        variant.save()
    return broadcast


def _changed(broadcast: Broadcast) -> None:
    broadcast_id = broadcast.pk
    transaction.on_commit(
        lambda: pubsub.publish(INBOX_CHANNEL, f"broadcast-{broadcast_id}", str(broadcast_id))
    )


def _lock(broadcast: Broadcast) -> Broadcast:
    return Broadcast.objects.select_for_update().get(pk=broadcast.pk)


@transaction.atomic
def broadcast_send(*, broadcast: Broadcast, actor, at: dt.datetime | None = None) -> Broadcast:
    """Send now, or at `at` (the beat job social.broadcasts_start_due starts it then)."""
    check_can_broadcast(actor)
    broadcast = _lock(broadcast)
    if broadcast.status not in (Broadcast.Status.DRAFT, Broadcast.Status.SCHEDULED):
        raise ValidationError(_("This broadcast has already been sent or cancelled."))
    now = timezone.now()
    if at is not None and at > now:
        broadcast.status, broadcast.scheduled_at = Broadcast.Status.SCHEDULED, at
        broadcast.save(update_fields=["status", "scheduled_at"])
    else:
        _start(broadcast, now)
    _changed(broadcast)
    return broadcast


def _start(broadcast: Broadcast, now) -> None:
    from .broadcast_tasks import broadcast_run

    broadcast.status, broadcast.started_at = Broadcast.Status.SENDING, now
    broadcast.save(update_fields=["status", "started_at"])
    broadcast_id = broadcast.pk
    transaction.on_commit(lambda: broadcast_run.delay(broadcast_id=broadcast_id))


def broadcasts_start_due(now: dt.datetime | None = None) -> int:
    """Start scheduled broadcasts whose time has come (Celery beat, every minute)."""
    now = now or timezone.now()
    started = 0
    for pk in Broadcast.objects.filter(status=Broadcast.Status.SCHEDULED, scheduled_at__lte=now).values_list(
        "pk", flat=True
    ):
        with transaction.atomic():
            broadcast = (
                Broadcast.objects.select_for_update(skip_locked=True)
                .filter(pk=pk, status=Broadcast.Status.SCHEDULED)
                .first()
            )
            if broadcast is not None:
                _start(broadcast, now)
                _changed(broadcast)
                started += 1
    return started


@transaction.atomic
def broadcast_pause(*, broadcast: Broadcast, actor) -> Broadcast:
    check_can_broadcast(actor)
    broadcast = _lock(broadcast)
    if broadcast.status != Broadcast.Status.SENDING:
        raise ValidationError(_("Only a broadcast being sent can be paused."))
    broadcast.status = Broadcast.Status.PAUSED
    broadcast.save(update_fields=["status"])
    _changed(broadcast)
    return broadcast


@transaction.atomic
def broadcast_resume(*, broadcast: Broadcast, actor) -> Broadcast:
    check_can_broadcast(actor)
    broadcast = _lock(broadcast)
    if broadcast.status != Broadcast.Status.PAUSED:
        raise ValidationError(_("Only a paused broadcast can be resumed."))
    from .broadcast_tasks import broadcast_run

    broadcast.status = Broadcast.Status.SENDING
    broadcast.save(update_fields=["status"])
    transaction.on_commit(lambda: broadcast_run.delay(broadcast_id=broadcast.pk))
    _changed(broadcast)
    return broadcast


@transaction.atomic
def broadcast_cancel(*, broadcast: Broadcast, actor) -> Broadcast:
    check_can_broadcast(actor)
    broadcast = _lock(broadcast)
    if broadcast.status not in (
        Broadcast.Status.DRAFT,
        Broadcast.Status.SCHEDULED,
        Broadcast.Status.SENDING,
        Broadcast.Status.PAUSED,
    ):
        raise ValidationError(_("This broadcast has finished; there is nothing to cancel."))
    broadcast.status, broadcast.finished_at = Broadcast.Status.CANCELLED, timezone.now()
    broadcast.save(update_fields=["status", "finished_at"])
    _changed(broadcast)
    return broadcast


# Sending ---------------------------------------------------------------------------------------------


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


# Reads for the pages ---------------------------------------------------------------------------------


def broadcasts_list() -> QuerySet:
    return Broadcast.objects.select_related("channel", "created_by").order_by("-created_at", "-id")


__all__ = [
    "IMAGE_TYPES",
    "VariantInput",
    "broadcast_audience",
    "broadcast_cancel",
    "broadcast_create",
    "broadcast_pause",
    "broadcast_preview",
    "broadcast_recipients",
    "broadcast_resume",
    "broadcast_run",
    "broadcast_send",
    "broadcasts_start_due",
]
