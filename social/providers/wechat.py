"""WeChat Official Account: callback crypto and parser (plain and safe mode) and the outbound client.

Callbacks: the server's URL is called with ?signature=&timestamp=&nonce= where
signature = sha1(sorted([token, timestamp, nonce]) joined). In safe mode ("encrypt_type=aes") the XML body
carries <Encrypt> and ?msg_signature= is sha1(sorted([token, timestamp, nonce, encrypt]) joined); the
ciphertext is AES-256-CBC with key = base64(EncodingAESKey + "="), IV = key[:16], PKCS#7 padded to 32
bytes, over 16 random bytes + 4-byte network-order length + the XML + the app id.
"""

import base64
import hashlib
import hmac
import json
import os
import struct
import time
import urllib.parse
import xml.etree.ElementTree as ET  # noqa: S405 (DTDs and entities are refused before parsing)
from xml.sax.saxutils import escape

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from django.conf import settings
from django.core.cache import cache

from .http import ProviderError, call

BLOCK_SIZE = 32
TOKEN_ERRORS = {40001, 40014, 42001}
WINDOW_CLOSED_ERRORS = {45015, 45047}


class WebhookError(ValueError):
    """A body that is not a WeChat callback, or one that does not decrypt."""


def sha1_signature(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()  # noqa: S324 (WeChat's scheme)


def signature_valid(token: str, timestamp: str, nonce: str, signature: str, *extra: str) -> bool:
    """Constant-time check of `signature` (or `msg_signature` when the ciphertext is passed as extra)."""
    if not token or not signature:
        return False
    expected = sha1_signature(token, timestamp or "", nonce or "", *extra)
    return hmac.compare_digest(expected.encode(), signature.strip().lower().encode())


def _aes_key(aes_key: str) -> bytes:
    try:
        key = base64.b64decode(aes_key + "=")
    except (ValueError, TypeError) as exc:
        raise WebhookError("EncodingAESKey is not valid") from exc
    if len(key) != 32:
        raise WebhookError("EncodingAESKey must be 43 characters")
    return key


def encrypt(aes_key: str, app_id: str, xml_text: str, *, random_prefix: bytes | None = None) -> str:
    key = _aes_key(aes_key)
    body = xml_text.encode()
    plain = (random_prefix or os.urandom(16)) + struct.pack("!I", len(body)) + body + app_id.encode()
    pad = BLOCK_SIZE - len(plain) % BLOCK_SIZE
    plain += bytes([pad]) * pad
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()


def decrypt(aes_key: str, app_id: str, ciphertext: str) -> str:
    """The XML inside an <Encrypt> value; WebhookError when it does not decrypt or is for another app."""
    key = _aes_key(aes_key)
    try:
        raw = base64.b64decode(ciphertext, validate=True)
    except (ValueError, TypeError) as exc:
        raise WebhookError("ciphertext is not base64") from exc
    if not raw or len(raw) % 16:
        raise WebhookError("ciphertext has a wrong length")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = decryptor.update(raw) + decryptor.finalize()
    pad = plain[-1]
    if pad < 1 or pad > BLOCK_SIZE:
        raise WebhookError("bad padding")
    plain = plain[:-pad]
    if len(plain) < 20:
        raise WebhookError("plaintext too short")
    (length,) = struct.unpack("!I", plain[16:20])
    body, from_app = plain[20 : 20 + length], plain[20 + length :]
    if len(body) != length:
        raise WebhookError("plaintext length mismatch")
    if app_id and not hmac.compare_digest(from_app, app_id.encode()):
        raise WebhookError("message is for another app id")
    try:
        return body.decode()
    except UnicodeDecodeError as exc:
        raise WebhookError("plaintext is not UTF-8") from exc


def parse_xml(body: bytes | str) -> dict:
    """A flat dict of a callback's XML (WeChat messages are one level deep); refuses DTDs and entities."""
    text = body.decode() if isinstance(body, bytes) else body
    if "<!DOCTYPE" in text.upper() or "<!ENTITY" in text.upper():
        raise WebhookError("DTDs are not accepted")
    try:
        root = ET.fromstring(text)  # noqa: S314
    except ET.ParseError as exc:
        raise WebhookError("body is not XML") from exc
    if root.tag != "xml":
        raise WebhookError("body is not a WeChat callback")
    values = {}
    for child in root:
        if len(child):
            values[child.tag] = {grand.tag: (grand.text or "") for grand in child}
        else:
            values[child.tag] = (child.text or "").strip() if child.tag != "Content" else (child.text or "")
    return values


def event_key(message: dict) -> str:
    """WeChat's MsgId for messages; FromUserName + CreateTime (+ event) for events, which have none."""
    if message.get("MsgId"):
        return f"msg:{message['MsgId']}"[:200]
    parts = [message.get("FromUserName", ""), message.get("CreateTime", ""), message.get("Event", "")]
    return ("evt:" + ":".join(parts))[:200]


def wecom_event_key(message: dict) -> str:
    """WeCom contact events carry no id: the contact, the staff member, the change and its time."""
    parts = [
        message.get("ExternalUserID", "") or message.get("FromUserName", ""),
        message.get("UserID", ""),
        message.get("ChangeType", "") or message.get("Event", ""),
        message.get("CreateTime", ""),
    ]
    return ("wecom:" + ":".join(parts))[:200]


def reply_xml(*, to_user: str, from_user: str, text: str) -> str:
    """A passive text reply (answering the callback itself)."""
    return (
        f"<xml><ToUserName><![CDATA[{to_user}]]></ToUserName><FromUserName><![CDATA[{from_user}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content>{escape(text)}</Content></xml>"
    )


def encrypted_reply(
    *, token: str, aes_key: str, app_id: str, xml_text: str, nonce: str, timestamp: str
) -> str:
    """The safe-mode envelope for a reply: <Encrypt>, <MsgSignature>, <TimeStamp>, <Nonce>."""
    ciphertext = encrypt(aes_key, app_id, xml_text)
    signature = sha1_signature(token, timestamp, nonce, ciphertext)
    return (
        f"<xml><Encrypt><![CDATA[{ciphertext}]]></Encrypt><MsgSignature><![CDATA[{signature}]]></MsgSignature>"
        f"<TimeStamp>{timestamp}</TimeStamp><Nonce><![CDATA[{nonce}]]></Nonce></xml>"
    )


class WechatError(ProviderError):
    def __init__(self, message: str, *, errcode: int | None = None, status: int | None = None):
        super().__init__(message, status=status)
        self.errcode = errcode

    @property
    def retryable(self) -> bool:
        if self.errcode is not None:
            return self.errcode in (-1, 45009) or self.errcode in TOKEN_ERRORS
        return super().retryable

    @property
    def window_closed(self) -> bool:
        """The follower last wrote more than 48 hours ago: customer-service messages are refused."""
        return self.errcode in WINDOW_CLOSED_ERRORS


class WechatClient:
    """The calls the CRM makes to WeChat for one official account; the access token is cached."""

    def __init__(self, *, app_id: str, app_secret: str, api_base: str | None = None):
        if not app_id or not app_secret:
            raise WechatError("The channel has no app id or app secret.", status=401)
        self.app_id = app_id
        self.app_secret = app_secret
        self.api_base = (api_base or settings.WECHAT_API_BASE).rstrip("/")

    @classmethod
    def for_channel(cls, channel) -> "WechatClient":
        values = channel.credentials
        return cls(app_id=values.get("app_id", ""), app_secret=values.get("app_secret", ""))

    @property
    def _cache_key(self) -> str:
        digest = hashlib.sha256(f"{self.api_base}|{self.app_id}|{self.app_secret}".encode()).hexdigest()[:24]
        return f"social:wechat-token:{digest}"

    def access_token(self, *, refresh: bool = False) -> str:
        token = None if refresh else cache.get(self._cache_key)
        if token:
            return token
        query = urllib.parse.urlencode(
            {"grant_type": "client_credential", "appid": self.app_id, "secret": self.app_secret}
        )
        payload = self._checked(call("GET", f"{self.api_base}/cgi-bin/token?{query}").json())
        token = payload["access_token"]
        cache.set(self._cache_key, token, max(60, int(payload.get("expires_in", 7200)) - 300))
        return token

    @staticmethod
    def _checked(payload: dict) -> dict:
        errcode = payload.get("errcode")
        if errcode:
            raise WechatError(f"WeChat error {errcode}: {payload.get('errmsg', '')}"[:500], errcode=errcode)
        return payload

    def _api(self, method: str, path: str, *, params=None, json_body=None, raw=False):
        """Call with the cached token; on an expired-token answer refresh it once and try again."""
        for attempt in (0, 1):
            query = urllib.parse.urlencode(
                {"access_token": self.access_token(refresh=attempt == 1), **(params or {})}
            )
            answer = call(method, f"{self.api_base}{path}?{query}", json_body=json_body)
            content_type = (answer.headers.get("Content-Type") or "").split(";")[0].strip()
            if raw and content_type not in ("application/json", "text/plain"):
                return answer.body, content_type
            try:
                payload = json.loads(answer.body or b"{}")
            except ValueError:
                if raw:
                    return answer.body, content_type
                raise WechatError("WeChat answered something that is not JSON") from None
            if payload.get("errcode") in TOKEN_ERRORS and attempt == 0:
                continue
            return self._checked(payload)
        raise WechatError("WeChat refused a fresh access token")

    def send_text(self, openid: str, text: str) -> dict:
        """A customer-service message: allowed within 48 hours of the follower's last message."""
        return self._api(
            "POST",
            "/cgi-bin/message/custom/send",
            json_body={"touser": openid, "msgtype": "text", "text": {"content": text}},
        )

    def send_image(self, openid: str, media_id: str) -> dict:
        return self._api(
            "POST",
            "/cgi-bin/message/custom/send",
            json_body={"touser": openid, "msgtype": "image", "image": {"media_id": media_id}},
        )

    def upload_media(self, kind: str, filename: str, content: bytes, content_type: str) -> str:
        """Upload temporary media (image, voice, video, thumb); returns its media_id."""
        boundary = "----crm" + os.urandom(8).hex()
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="media"; filename="{filename}"\r\n'
                f"Content-Type: {content_type}\r\n\r\n"
            ).encode()
            + content
            + f"\r\n--{boundary}--\r\n".encode()
        )
        query = urllib.parse.urlencode({"access_token": self.access_token(), "type": kind})
        answer = call(
            "POST",
            f"{self.api_base}/cgi-bin/media/upload?{query}",
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
            data=body,
        )
        return self._checked(answer.json())["media_id"]

    def get_user_info(self, openid: str) -> dict:
        """{"subscribe", "openid", "nickname"?, "headimgurl"?, "subscribe_time", "unionid"?, ...}"""
        return self._api("GET", "/cgi-bin/user/info", params={"openid": openid, "lang": "zh_CN"})

    def get_media(self, media_id: str) -> tuple[bytes, str]:
        """(bytes, content type) of temporary media; WeChat keeps it for three days."""
        result = self._api("GET", "/cgi-bin/media/get", params={"media_id": media_id}, raw=True)
        if isinstance(result, dict):
            raise WechatError("WeChat returned no media content")
        return result

    def check(self) -> dict:
        """The connection test: a fresh token and the server IP list."""
        self.access_token(refresh=True)
        return self._api("GET", "/cgi-bin/get_api_domain_ip")
