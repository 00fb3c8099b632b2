"""LINE Messaging API: the webhook parser (signature, events) and the outbound client.

https://developers.line.biz/en/reference/messaging-api/ — the webhook body is
{"destination": bot user id, "events": [...]}, signed with HMAC-SHA256 of the raw body under the channel
secret, base64 in the `x-line-signature` header.
"""

import base64
import hashlib
import hmac
import json
import uuid

from django.conf import settings

from .http import ProviderError, call

MULTICAST_MAX_RECIPIENTS = 500
MESSAGES_PER_CALL = 5


class WebhookError(ValueError):
    """A webhook body that is not a LINE webhook (malformed JSON, wrong shape)."""


def signature(channel_secret: str, body: bytes) -> str:
    digest = hmac.new(channel_secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def signature_valid(channel_secret: str, body: bytes, header: str | None) -> bool:
    """Constant-time check of `x-line-signature` against the raw body."""
    if not channel_secret or not header:
        return False
    return hmac.compare_digest(signature(channel_secret, body).encode(), header.strip().encode())


def parse_events(body: bytes) -> tuple[str, list[dict]]:
    """(destination, events) of a webhook body; an empty list is LINE's "verify" call."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WebhookError("body is not JSON") from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("events", []), list):
        raise WebhookError("body is not a LINE webhook")
    events = payload.get("events") or []
    for event in events:
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            raise WebhookError("an event has no type")
    return str(payload.get("destination") or ""), events


def event_key(event: dict) -> str:
    """LINE's own event id; older payloads without one fall back to a digest of the event."""
    key = event.get("webhookEventId")
    if isinstance(key, str) and key:
        return key[:200]
    canonical = json.dumps(event, sort_keys=True, separators=(",", ":")).encode()
    return "sha256:" + hashlib.sha256(canonical).hexdigest()


def text_message(text: str) -> dict:
    return {"type": "text", "text": text[:5000]}


def image_message(original_url: str, preview_url: str | None = None) -> dict:
    return {
        "type": "image",
        "originalContentUrl": original_url,
        "previewImageUrl": preview_url or original_url,
    }


class LineClient:
    """The calls the CRM makes to LINE for one channel. Raises ProviderError (see .retryable)."""

    def __init__(self, *, access_token: str, api_base: str | None = None, data_api_base: str | None = None):
        if not access_token:
            raise ProviderError("The channel has no access token.", status=401)
        self.access_token = access_token
        self.api_base = (api_base or settings.LINE_API_BASE).rstrip("/")
        self.data_api_base = (data_api_base or settings.LINE_DATA_API_BASE).rstrip("/")

    @classmethod
    def for_channel(cls, channel) -> "LineClient":
        return cls(access_token=channel.credentials.get("access_token", ""))

    def _headers(self, extra=None) -> dict:
        headers = {"Authorization": f"Bearer {self.access_token}"}
        headers.update(extra or {})
        return headers

    def _post(self, path: str, payload: dict, *, headers=None) -> dict:
        answer = call("POST", self.api_base + path, headers=self._headers(headers), json_body=payload)
        return answer.json()

    def _get(self, path: str) -> dict:
        return call("GET", self.api_base + path, headers=self._headers()).json()

    def reply(self, reply_token: str, messages: list[dict]) -> dict:
        """Answer with a reply token (single use, about a minute; free of the monthly message quota)."""
        return self._post(
            "/v2/bot/message/reply", {"replyToken": reply_token, "messages": messages[:MESSAGES_PER_CALL]}
        )

    def push(self, to: str, messages: list[dict], *, retry_key: uuid.UUID | str | None = None) -> dict:
        """Push to one user, group or room. The same retry key makes LINE accept a retried push only once."""
        headers = {"X-Line-Retry-Key": str(retry_key)} if retry_key else None
        return self._post(
            "/v2/bot/message/push", {"to": to, "messages": messages[:MESSAGES_PER_CALL]}, headers=headers
        )

    def multicast(self, to: list[str], messages: list[dict], *, retry_key=None) -> dict:
        if not to:
            return {}
        if len(to) > MULTICAST_MAX_RECIPIENTS:
            raise ValueError(f"LINE multicast takes at most {MULTICAST_MAX_RECIPIENTS} user ids")
        headers = {"X-Line-Retry-Key": str(retry_key)} if retry_key else None
        return self._post(
            "/v2/bot/message/multicast",
            {"to": list(to), "messages": messages[:MESSAGES_PER_CALL]},
            headers=headers,
        )

    def get_profile(self, user_id: str) -> dict:
        """{"displayName", "userId", "pictureUrl"?, "statusMessage"?, "language"?}"""
        return self._get(f"/v2/bot/profile/{user_id}")

    def get_group_member_profile(self, group_id: str, user_id: str) -> dict:
        return self._get(f"/v2/bot/group/{group_id}/member/{user_id}")

    def get_group_summary(self, group_id: str) -> dict:
        return self._get(f"/v2/bot/group/{group_id}/summary")

    def get_content(self, message_id: str) -> tuple[bytes, str]:
        """(bytes, content type) of an image, video, audio or file message; LINE keeps them for a while only."""
        answer = call(
            "GET", f"{self.data_api_base}/v2/bot/message/{message_id}/content", headers=self._headers()
        )
        content_type = answer.headers.get("Content-Type") or answer.headers.get("content-type") or ""
        return answer.body, content_type.split(";")[0].strip()

    def bot_info(self) -> dict:
        """{"userId", "basicId", "displayName", "pictureUrl"?, "chatMode", "markAsReadMode"}: the connection test."""
        return self._get("/v2/bot/info")


__all__ = [
    "LineClient",
    "ProviderError",
    "WebhookError",
    "event_key",
    "image_message",
    "parse_events",
    "signature",
    "signature_valid",
    "text_message",
]
