"""Turn a stored LINE or WeChat event into one provider-neutral Inbound record."""

from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.utils import timezone
from django.utils.translation import gettext as _

# What an event does to the CRM.
MESSAGE = "message"  # a message row in the conversation, timeline "message received"
POSTBACK = "postback"  # campaign / menu participation
FOLLOW = "follow"
UNFOLLOW = "unfollow"
ACTIVITY = "activity"  # beacon, account link, video watched, location report...
UNSEND = "unsend"
GROUP = "group"  # join, leave, memberJoined, memberLeft
IGNORE = "ignore"


@dataclass
class Inbound:
    action: str
    provider: str
    user_id: str = ""
    occurred_at: datetime | None = None
    kind: str = "event"  # Message.Kind
    text: str = ""
    data: dict = field(default_factory=dict)
    provider_message_id: str = ""
    media_id: str = ""  # what to download later (LINE message id, WeChat MediaId)
    reply_token: str = ""
    standby: bool = False
    source_type: str = "user"
    group_id: str = ""
    event_name: str = ""
    members: list = field(default_factory=list)
    is_unblocked: bool = False
    received_at: datetime | None = None  # when the webhook reached us: a reply token's clock starts here


def _line_time(event) -> datetime:
    try:
        return datetime.fromtimestamp(int(event.get("timestamp")) / 1000, tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return timezone.now()


def from_line(event: dict) -> Inbound:
    source = event.get("source") if isinstance(event.get("source"), dict) else {}
    kind_of_event = event.get("type", "")
    inbound = Inbound(
        action=IGNORE,
        provider="line",
        user_id=str(source.get("userId") or ""),
        occurred_at=_line_time(event),
        reply_token=str(event.get("replyToken") or ""),
        standby=event.get("mode") == "standby",
        source_type=str(source.get("type") or "user"),
        group_id=str(source.get("groupId") or source.get("roomId") or ""),
        event_name=kind_of_event,
    )
    if inbound.source_type != "user":
        inbound.data["source"] = {"type": inbound.source_type, "id": inbound.group_id}
    if kind_of_event == "message":
        _line_message(inbound, event.get("message") if isinstance(event.get("message"), dict) else {})
    elif kind_of_event == "postback":
        postback = event.get("postback") if isinstance(event.get("postback"), dict) else {}
        inbound.action, inbound.kind = POSTBACK, "postback"
        inbound.text = str(postback.get("data") or "")[:300]
        inbound.data.update({"data": postback.get("data", ""), "params": postback.get("params") or {}})
    elif kind_of_event == "follow":
        inbound.action = FOLLOW
        inbound.is_unblocked = bool((event.get("follow") or {}).get("isUnblocked"))
    elif kind_of_event == "unfollow":
        inbound.action = UNFOLLOW
    elif kind_of_event in ("join", "leave", "memberJoined", "memberLeft"):
        inbound.action = GROUP
        container = event.get("joined") or event.get("left") or {}
        members = container.get("members") if isinstance(container, dict) else []
        inbound.members = [m.get("userId") for m in members or [] if isinstance(m, dict) and m.get("userId")]
    elif kind_of_event == "unsend":
        inbound.action = UNSEND
        inbound.provider_message_id = str((event.get("unsend") or {}).get("messageId") or "")
    elif kind_of_event in ("accountLink", "beacon", "videoPlayComplete", "things"):
        inbound.action = ACTIVITY
        payload_key = {"accountLink": "link", "videoPlayComplete": "videoPlayComplete"}.get(
            kind_of_event, kind_of_event
        )
        inbound.data[kind_of_event] = event.get(payload_key) or {}
        inbound.text = _activity_text(kind_of_event, inbound.data[kind_of_event])
    if inbound.action in (MESSAGE, POSTBACK, FOLLOW, UNFOLLOW, ACTIVITY, UNSEND) and not inbound.user_id:
        inbound.action = IGNORE  # e.g. a group member who has not consented to share their user id
    return inbound


def _line_message(inbound: Inbound, message: dict) -> None:
    kind = message.get("type", "")
    inbound.action = MESSAGE
    inbound.provider_message_id = str(message.get("id") or "")
    inbound.data.update({k: v for k, v in message.items() if k not in ("id", "type", "text")})
    if kind == "text":
        inbound.kind, inbound.text = "text", str(message.get("text") or "")
    elif kind in ("image", "video", "audio", "file"):
        inbound.kind = kind
        provider = message.get("contentProvider") or {}
        if kind == "file" or provider.get("type", "line") == "line":
            inbound.media_id = inbound.provider_message_id
        if kind == "file":
            inbound.text = str(message.get("fileName") or "")
    elif kind == "location":
        inbound.kind = "location"
        inbound.text = " ".join(str(message.get(k) or "") for k in ("title", "address")).strip()
    elif kind == "sticker":
        inbound.kind = "sticker"
        inbound.text = " ".join(message.get("keywords") or [])[:200]
    else:
        inbound.kind = "event"
        inbound.text = kind


def _activity_text(name: str, data: dict) -> str:
    if name == "accountLink":
        return _("Account link: %(result)s") % {"result": data.get("result", "")}
    if name == "beacon":
        return _("Beacon %(type)s (%(hwid)s)") % {"type": data.get("type", ""), "hwid": data.get("hwid", "")}
    if name == "videoPlayComplete":
        return _("Watched video %(id)s") % {"id": data.get("trackingId", "")}
    return name


def from_wechat(message: dict) -> Inbound:
    try:
        occurred_at = datetime.fromtimestamp(int(message.get("CreateTime") or 0), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        occurred_at = timezone.now()
    inbound = Inbound(
        action=MESSAGE,
        provider="wechat",
        user_id=str(message.get("FromUserName") or ""),
        occurred_at=occurred_at,
        provider_message_id=str(message.get("MsgId") or ""),
    )
    msg_type = message.get("MsgType", "")
    inbound.event_name = msg_type
    skip = {"ToUserName", "FromUserName", "CreateTime", "MsgType", "MsgId", "Content"}
    inbound.data.update({k: v for k, v in message.items() if k not in skip})
    if msg_type == "text":
        inbound.kind, inbound.text = "text", message.get("Content") or ""
    elif msg_type == "image":
        inbound.kind, inbound.media_id = "image", message.get("MediaId") or ""
    elif msg_type == "voice":
        inbound.kind, inbound.media_id = "audio", message.get("MediaId") or ""
        inbound.text = message.get("Recognition") or ""
    elif msg_type in ("video", "shortvideo"):
        inbound.kind, inbound.media_id = "video", message.get("MediaId") or ""
    elif msg_type == "location":
        inbound.kind, inbound.text = "location", message.get("Label") or ""
        inbound.data.update({"latitude": message.get("Location_X"), "longitude": message.get("Location_Y")})
    elif msg_type == "link":
        inbound.kind, inbound.text = "link", message.get("Title") or ""
    elif msg_type == "event":
        _wechat_event(inbound, message)
    else:
        inbound.kind, inbound.text = "event", msg_type
    return inbound


def _wechat_event(inbound: Inbound, message: dict) -> None:
    event = (message.get("Event") or "").strip()
    key = message.get("EventKey") or ""
    inbound.event_name = event
    if event == "subscribe":
        inbound.action = FOLLOW
        if key.startswith("qrscene_"):
            inbound.data["scene"] = key.removeprefix("qrscene_")
    elif event == "unsubscribe":
        inbound.action = UNFOLLOW
    elif event in ("CLICK", "VIEW", "SCAN", "scancode_push", "scancode_waitmsg"):
        inbound.action, inbound.kind = POSTBACK, "postback"
        inbound.text = key[:300]
        inbound.data.update({"event": event, "data": key})
    elif event == "LOCATION":
        inbound.action, inbound.kind = ACTIVITY, "location"
        inbound.text = _("Location report")
    else:
        inbound.action, inbound.kind, inbound.text = ACTIVITY, "event", event


WECOM_FOLLOW = {"add_external_contact", "add_half_external_contact"}
WECOM_UNFOLLOW = {"del_external_contact", "del_follow_user"}


def from_wecom(message: dict) -> Inbound:
    """A WeCom customer-contact change: the external contact added or removed a staff member."""
    try:
        occurred_at = datetime.fromtimestamp(int(message.get("CreateTime") or 0), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        occurred_at = timezone.now()
    change = message.get("ChangeType") or message.get("Event") or ""
    inbound = Inbound(
        action=ACTIVITY,
        provider="wecom",
        user_id=str(message.get("ExternalUserID") or ""),
        occurred_at=occurred_at,
        event_name=change,
    )
    inbound.data.update(
        {k: v for k, v in message.items() if k in ("UserID", "State", "ChangeType", "Source")}
    )
    if change in WECOM_FOLLOW:
        inbound.action = FOLLOW
    elif change in WECOM_UNFOLLOW:
        inbound.action = UNFOLLOW
    else:
        inbound.text = change
    if not inbound.user_id:
        inbound.action = IGNORE
    return inbound
