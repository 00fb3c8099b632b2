"""Sending one queued reply to LINE or WeChat (the task social.message_deliver runs this).

LINE: the conversation's reply token while it is fresh (taken atomically: single use), otherwise a
push carrying the message's X-Line-Retry-Key, so a retried push is delivered once. WeChat: a
customer-service message inside the 48-hour window; it has no retry key, so failures wait for a person.
"""

import logging

from django.utils import timezone
from django.utils.translation import gettext as _

from .inbox import (
    REPLY_TOKEN_TTL,
    conversation_notify,
    media_url,
    wechat_window_closed,
    window_closed_message,
)
from .models import Channel, Conversation, Message

logger = logging.getLogger(__name__)


class DeliveryError(Exception):
    """A send that failed; `retry` says whether sending the same request again is safe and useful."""

    def __init__(self, message: str, *, retry: bool = False):
        super().__init__(message)
        self.retry = retry


def message_deliver(*, message_id: int, final_attempt: bool = True) -> Message | None:
    """Send one queued reply to the provider and record the outcome on the message.

    Raises DeliveryError(retry=True) for a failure worth retrying (LINE 429/5xx/timeouts: the retry key
    makes a repeated push safe) unless this is the final attempt; other failures are recorded at once.
    """
    message = (
        Message.objects.select_related("conversation__channel", "conversation__identity")
        .filter(pk=message_id, status=Message.Status.QUEUED)
        .first()
    )
    if message is None:  # already sent, or no longer wanted
        return None
    conversation = message.conversation
    try:
        if conversation.channel.kind == Channel.Kind.LINE:
            provider_id = _deliver_line(message, conversation)
        else:
            provider_id = _deliver_wechat(message, conversation)
    except DeliveryError as exc:
        if exc.retry and not final_attempt:
            Message.objects.filter(pk=message.pk).update(error=str(exc)[:500])
            raise
        _delivery_done(message, status=Message.Status.FAILED, error=str(exc))
        return message
    _delivery_done(message, status=Message.Status.SENT, provider_message_id=provider_id or "")
    return message


def _delivery_done(message, *, status, error="", provider_message_id=""):
    updated = Message.objects.filter(pk=message.pk, status=Message.Status.QUEUED).update(
        status=status, error=error[:500], provider_message_id=provider_message_id[:100]
    )
    message.status, message.error = status, error[:500]
    if updated:
        conversation_notify(message.conversation_id)


def line_payload(message: Message) -> dict:
    if message.kind == Message.Kind.IMAGE:
        url = media_url("m", message.pk)
        return {"type": "image", "originalContentUrl": url, "previewImageUrl": url}
    return {"type": "text", "text": message.text}


def _take_reply_token(conversation) -> str:
    """The conversation's reply token if it is still fresh, used up at once: it is valid only once."""
    if not conversation.reply_token or conversation.reply_token_at is None:
        return ""
    if timezone.now() - conversation.reply_token_at > REPLY_TOKEN_TTL:
        return ""
    taken = Conversation.objects.filter(pk=conversation.pk, reply_token=conversation.reply_token).update(
        reply_token="", reply_token_at=None
    )
    return conversation.reply_token if taken else ""


def _deliver_line(message, conversation) -> str:
    from .providers.http import ProviderError
    from .providers.line import LineClient

    payload = [line_payload(message)]
    try:
        client = LineClient.for_channel(conversation.channel)
    except ProviderError as exc:
        raise DeliveryError(_line_error(exc)) from None
    token = _take_reply_token(conversation)
    if token:
        try:
            response = client.reply(token, payload)
        except ProviderError as exc:
            if exc.status is None:
                # The reply may have reached LINE, and a reply cannot be retried safely: a person decides.
                raise DeliveryError(_line_error(exc)) from None
            # An expired or used token (400): push instead, below.
        else:
            _sent_with(message, "reply")
            return _sent_id(response)
    try:
        response = client.push(conversation.identity.external_id, payload, retry_key=message.retry_key)
    except ProviderError as exc:
        if exc.status == 409:  # accepted by an earlier attempt with the same retry key
            _sent_with(message, "push")
            return ""
        raise DeliveryError(_line_error(exc), retry=exc.retryable) from None
    _sent_with(message, "push")
    return _sent_id(response)


def _sent_with(message, how: str) -> None:
    Message.objects.filter(pk=message.pk).update(data={**message.data, "sent_with": how})


def _sent_id(response) -> str:
    if isinstance(response, dict):
        sent = response.get("sentMessages") or []
        if sent and isinstance(sent[0], dict):
            return str(sent[0].get("id", ""))
    return ""


def _line_error(exc) -> str:
    if exc.status is None:
        return _("LINE could not be reached: %(detail)s") % {"detail": exc}
    if exc.status == 429:
        return _("LINE refused: too many requests or the monthly message quota is used up.")
    if exc.status >= 500:
        return _("LINE had a server error (%(status)s).") % {"status": exc.status}
    return _("LINE refused the message: %(detail)s") % {"detail": exc}


def _deliver_wechat(message, conversation) -> str:
    from .providers.http import ProviderError
    from .providers.wechat import WechatClient, WechatError

    if wechat_window_closed(conversation):
        raise DeliveryError(window_closed_message())
    openid = conversation.identity.external_id
    try:
        client = WechatClient.for_channel(conversation.channel)
        if message.kind == Message.Kind.IMAGE:
            with message.media.open("rb") as file:
                content = file.read()
            name = message.media.name.rsplit("/", 1)[-1]
            content_type = "image/png" if name.endswith(".png") else "image/jpeg"
            client.send_image(openid, client.upload_media("image", name, content, content_type))
        else:
            client.send_text(openid, message.text)
    except WechatError as exc:
        if exc.window_closed:
            raise DeliveryError(window_closed_message()) from None
        raise DeliveryError(_("WeChat refused the message: %(detail)s") % {"detail": exc}) from None
    except ProviderError as exc:
        # WeChat has no retry key: a repeated send could arrive twice, so a person decides.
        raise DeliveryError(_("WeChat could not be reached: %(detail)s") % {"detail": exc}) from None
    return ""
