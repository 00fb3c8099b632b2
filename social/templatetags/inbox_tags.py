from django import template

from ..inbox import media_url

register = template.Library()

CHANNEL_ICONS = {"line": "line", "wechat": "wechat", "wecom": "wechat"}


@register.filter
def message_media_url(message):
    """Where the inbox shows a message's stored image or file from (a signed, permission-free link)."""
    return media_url("m", message.pk, absolute=False) if message.media else ""


@register.filter
def channel_icon(kind):
    return CHANNEL_ICONS.get(kind, "chat-dots")
