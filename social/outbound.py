"""Follow-ups that call the providers after a batch: profiles, media downloads, queued replies.

Each is idempotent: profiles overwrite, media is skipped when already stored, a queued message is sent
once (LINE pushes carry the message's retry key, so a retried push is accepted once by LINE).
"""

import logging
import mimetypes
from datetime import timedelta

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from customers.models import Interaction, SocialIdentity
from customers.services import customer_update, record_interaction

from .inbox_delivery import DeliveryError, message_deliver
from .models import Channel, Conversation, Message
from .providers.http import ProviderError
from .providers.line import LineClient
from .providers.wechat import WechatClient

logger = logging.getLogger(__name__)

# LINE reply tokens are valid for about a minute; leave a margin for the call itself.


def client_for(channel: Channel):
    if channel.kind == Channel.Kind.LINE:
        return LineClient.for_channel(channel)
    if channel.kind == Channel.Kind.WECHAT:
        return WechatClient.for_channel(channel)
    raise ProviderError(f"No client for {channel.kind} channels yet.")


def identities_refresh_profiles(*, identity_ids: list[int]) -> int:
    """Fill display name and avatar from the provider; rename customers still carrying the placeholder."""
    from .processing import _placeholder_name

    identities = SocialIdentity.objects.filter(pk__in=identity_ids).select_related("customer")
    channels = {
        c.pk: c
        for c in Channel.objects.filter(pk__in={int(i.channel) for i in identities if i.channel.isdigit()})
    }
    updated = 0
    for identity in identities:
        channel = channels.get(int(identity.channel)) if identity.channel.isdigit() else None
        if channel is None or channel.kind == Channel.Kind.WECOM:  # no WeCom client yet
            continue
        try:
            name, avatar = _profile(channel, identity.external_id)
        except ProviderError as exc:
            if exc.retryable:
                raise
            logger.info("social: no profile for identity %s: %s", identity.pk, exc)
            continue
        fields = []
        if name and name != identity.display_name:
            identity.display_name, fields = name[:200], fields + ["display_name"]
        if avatar and avatar != identity.avatar_url and avatar.startswith(("https://", "http://")):
            identity.avatar_url, fields = avatar[:1000], fields + ["avatar_url"]
        if fields:
            identity.save(update_fields=fields)
            updated += 1
        if name and identity.customer.name == _placeholder_name(channel, identity.external_id):
            customer_update(customer=identity.customer, actor=None, name=name[:200])
    return updated


def _profile(channel: Channel, user_id: str) -> tuple[str, str]:
    client = client_for(channel)
    if channel.kind == Channel.Kind.LINE:
        profile = client.get_profile(user_id)
        return profile.get("displayName", ""), profile.get("pictureUrl", "")
    info = client.get_user_info(user_id)
    return info.get("nickname", ""), info.get("headimgurl", "")


def messages_fetch_media(*, message_ids: list[int]) -> int:
    """Download the content of media messages and store it under MEDIA_ROOT/social/ (provider URLs expire)."""
    stored = 0
    messages = Message.objects.filter(pk__in=message_ids, media="").select_related("conversation__channel")
    for message in messages:
        channel = message.conversation.channel
        try:
            content, content_type = _download(channel, message)
        except ProviderError as exc:
            if exc.retryable:
                raise
            Message.objects.filter(pk=message.pk).update(
                error=_("Media could not be downloaded: %(e)s") % {"e": exc}
            )
            continue
        if message.kind == Message.Kind.FILE:
            extension = _extension(message)
        else:
            extension = mimetypes.guess_extension(content_type or "") or _extension(message)
        name = f"{channel.kind}-{channel.pk}-{message.provider_message_id or message.pk}{extension}"
        message.media.save(name, ContentFile(content), save=False)
        Message.objects.filter(pk=message.pk).update(
            media=message.media.name,
            data={**message.data, "content_type": content_type, "size": len(content)},
        )
        stored += 1
    return stored


def _download(channel: Channel, message: Message) -> tuple[bytes, str]:
    client = client_for(channel)
    if channel.kind == Channel.Kind.LINE:
        return client.get_content(message.provider_message_id)
    media_id = message.data.get("MediaId", "")
    if not media_id:
        raise ProviderError("no MediaId", status=400)
    return client.get_media(media_id)


def _extension(message: Message) -> str:
    if message.kind == Message.Kind.FILE and "." in (message.data.get("fileName") or ""):
        return "." + message.data["fileName"].rsplit(".", 1)[-1][:10]
    return {"image": ".jpg", "video": ".mp4", "audio": ".m4a"}.get(message.kind, ".bin")


def queued_messages_send(*, message_ids: list[int]) -> dict:
    """Send queued outbound messages (auto-replies, welcome messages) the way the inbox sends a reply
    (social.inbox_delivery: LINE reply token when fresh, else push with the retry key; WeChat customer
    service inside the 48-hour window), and put what was sent on the timeline.

    A retryable failure leaves its message queued and is raised (DeliveryError) so the task retries it.
    """
    results = {"sent": 0, "failed": 0}
    retry_error = None
    queued = (
        Message.objects.filter(
            pk__in=message_ids, direction=Message.Direction.OUT, status=Message.Status.QUEUED
        )
        .order_by("created_at", "id")
        .values_list("pk", flat=True)
    )
    for message_id in queued:
        try:
            message = message_deliver(message_id=message_id, final_attempt=False)
        except DeliveryError as exc:
            retry_error = exc
            continue
        if message is None:
            continue
        if message.status == Message.Status.SENT:
            _record_sent(message)
            results["sent"] += 1
        else:
            results["failed"] += 1
    if retry_error is not None:
        raise retry_error
    return results


@transaction.atomic
def _record_sent(message: Message) -> None:
    now = timezone.now()
    Message.objects.filter(pk=message.pk).update(created_at=now)
    Conversation.objects.filter(pk=message.conversation_id).update(last_message_at=now)
    conversation = message.conversation
    record_interaction(
        customer=conversation.customer,
        kind=Interaction.Kind.MESSAGE_OUT,
        channel=Interaction.Channel.LINE
        if conversation.channel.kind == "line"
        else Interaction.Channel.WECHAT,
        summary=_("%(channel)s auto-reply: %(text)s")
        % {"channel": conversation.channel.get_kind_display(), "text": message.text[:300]}
        if message.data.get("auto_reply")
        else f"{conversation.channel.get_kind_display()}: {message.text[:300]}",
        actor=message.sender,
        subject=message,
        data={"channel_id": conversation.channel_id, "conversation_id": conversation.pk},
    )


STALE_AFTER = timedelta(minutes=2)
TOO_LATE = timedelta(hours=1)


def stale_auto_replies() -> list[int]:
    """Auto-replies still queued a while after they were made (the broker was down): worth sending if
    less than an hour old; older ones are marked failed, an answer that late would confuse."""
    now = timezone.now()
    queued = Message.objects.filter(
        direction=Message.Direction.OUT, status=Message.Status.QUEUED, data__has_key="auto_reply"
    )
    queued.filter(created_at__lt=now - TOO_LATE).update(
        status=Message.Status.FAILED,
        error=_("Not sent: the auto-reply would have been more than an hour late."),
    )
    return list(
        queued.filter(created_at__lt=now - STALE_AFTER, created_at__gte=now - TOO_LATE).values_list(
            "pk", flat=True
        )[:500]
    )
