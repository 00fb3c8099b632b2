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
import uuid
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import BooleanField, Count, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from crm import pubsub
from customers.models import Consent, Customer, SocialIdentity

from .inbox import IMAGE_TYPES, INBOX_CHANNEL, _checked_image, check_public_url
from .models import Broadcast, BroadcastVariant, Channel

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

    The one place the audience is defined: the segment's customers (when it has one), narrowed by the
    tags and lifecycle stage. Records merged into another one are never in it (their rows moved on).
    """
    if broadcast.segment_id:
        from customers.selectors import segment_customers

        queryset = segment_customers(segment=broadcast.segment).filter(merged_into__isnull=True)
    else:
        queryset = Customer.objects.filter(merged_into__isnull=True)
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


def segment_deleted(sender, instance, **kwargs) -> None:
    """A segment is deleted: broadcasts not yet prepared for it are cancelled rather than sent to every
    follower once their audience falls back to "no segment"."""
    Broadcast.objects.filter(
        segment=instance, status__in=[Broadcast.Status.DRAFT, Broadcast.Status.SCHEDULED]
    ).update(status=Broadcast.Status.CANCELLED, error=_("Its segment was deleted."))


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
    segment=None,
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
    if segment is not None:
        from customers.selectors import segments_visible_to

        if not segments_visible_to(actor).filter(pk=segment.pk).exists():
            errors.setdefault("segment", []).append(_("Choose one of your segments."))
    rows = _checked_variants(channel, variants, errors)
    if errors:
        raise ValidationError(errors)
    broadcast = Broadcast.objects.create(
        name=name,
        channel=channel,
        tag_match=tag_match,
        lifecycle_stage=lifecycle_stage,
        segment=segment,
        created_by=actor,
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
    "broadcast_send",
    "broadcasts_start_due",
]
