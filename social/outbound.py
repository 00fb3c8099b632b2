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

from .models import Channel, Conversation, Message
from .providers.http import ProviderError
from .providers.line import LineClient, image_message, text_message
from .providers.wechat import WechatClient, WechatError

logger = logging.getLogger(__name__)

# LINE reply tokens are valid for about a minute; leave a margin for the call itself.
REPLY_TOKEN_TTL = timedelta(seconds=50)
WECHAT_WINDOW = timedelta(hours=48)


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
    """Send queued outbound messages: LINE by reply token when fresh, else push; WeChat customer service.

    A retryable provider error leaves the message queued and is raised so the task retries it.
    """
    results = {"sent": 0, "failed": 0}
    retry_error = None
    queued = (
        Message.objects.filter(
            pk__in=message_ids, direction=Message.Direction.OUT, status=Message.Status.QUEUED
        )
        .select_related("conversation__channel", "conversation__identity")
        .order_by("created_at", "id")
    )
    for message in queued:
        try:
            provider_ids = _send(message)
        except ProviderError as exc:
            if exc.retryable:
                Message.objects.filter(pk=message.pk).update(error=str(exc)[:2000])
                retry_error = exc
                continue
            _mark_failed(message, exc)
            results["failed"] += 1
            continue
        _mark_sent(message, provider_ids)
        results["sent"] += 1
    if retry_error is not None:
        raise retry_error
    return results


def _send(message: Message) -> str:
    conversation = message.conversation
    channel = conversation.channel
    client = client_for(channel)
    recipient = conversation.identity.external_id
    if channel.kind == Channel.Kind.LINE:
        payload = [_line_payload(message)]
        token = _take_reply_token(conversation)
        if token:
            try:
                answer = client.reply(token, payload)
                return _line_ids(answer)
            except ProviderError as exc:
                if exc.status != 400:  # an expired or used token is a 400: fall back to a push
                    raise
        answer = client.push(recipient, payload, retry_key=message.retry_key)
        return _line_ids(answer)
    if conversation.last_inbound_at and timezone.now() - conversation.last_inbound_at > WECHAT_WINDOW:
        raise WechatError(
            _("The follower has not written for 48 hours: WeChat refuses the message."), errcode=45015
        )
    client.send_text(recipient, message.text)
    return ""


def _line_payload(message: Message) -> dict:
    if message.kind == Message.Kind.IMAGE and message.data.get("url"):
        return image_message(message.data["url"], message.data.get("preview_url"))
    return text_message(message.text)


def _line_ids(answer: dict) -> str:
    sent = answer.get("sentMessages") if isinstance(answer, dict) else None
    return ",".join(str(item.get("id", "")) for item in sent or [] if isinstance(item, dict))


def _take_reply_token(conversation: Conversation) -> str:
    """The conversation's reply token if still fresh, taken atomically so it is used only once."""
    token, at = conversation.reply_token, conversation.reply_token_at
    if not token or at is None or timezone.now() - at > REPLY_TOKEN_TTL:
        return ""
    taken = Conversation.objects.filter(pk=conversation.pk, reply_token=token).update(reply_token="")
    return token if taken else ""


@transaction.atomic
def _mark_sent(message: Message, provider_ids: str) -> None:
    now = timezone.now()
    Message.objects.filter(pk=message.pk).update(
        status=Message.Status.SENT, error="", provider_message_id=provider_ids[:100], created_at=now
    )
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


def _mark_failed(message: Message, exc: ProviderError) -> None:
    Message.objects.filter(pk=message.pk).update(status=Message.Status.FAILED, error=str(exc)[:2000])
