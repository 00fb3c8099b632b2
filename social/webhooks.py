"""The LINE and WeChat webhook endpoints: verify, store raw with a unique key, enqueue, answer at once.

No ORM work beyond one INSERT ... ON CONFLICT DO NOTHING per request: the channel's secret comes from a
short-lived in-process cache, processing happens in Celery after commit.
"""

import json
import logging
import threading
import time

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import connection, transaction
from django.http import HttpResponse, HttpResponseNotAllowed
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from .models import Channel, InboundEvent
from .providers import line, wechat

logger = logging.getLogger(__name__)

CHANNEL_CACHE_SECONDS = 10.0
_channels: dict[tuple[str, str], tuple[float, dict | None]] = {}
_channels_lock = threading.Lock()


def channel_for_webhook(kind: str, key: str) -> dict | None:
    """{"id", "credentials"} of the active channel of this kind and key, cached for a few seconds."""
    now = time.monotonic()
    cached = _channels.get((kind, key))
    if cached and cached[0] > now:
        return cached[1]
    row = (
        Channel.objects.filter(kind=kind, webhook_key=key, is_active=True)
        .values("id", "credentials_encrypted")
        .first()
    )
    found = None
    if row is not None:
        probe = Channel(kind=kind, credentials_encrypted=row["credentials_encrypted"])
        found = {"id": row["id"], "credentials": probe.credentials}
    with _channels_lock:
        if len(_channels) > 1000:
            _channels.clear()
        _channels[(kind, key)] = (now + CHANNEL_CACHE_SECONDS, found)
    return found


def forget_channel_cache() -> None:
    """Called when an admin changes a channel, so this process sees new credentials at once."""
    with _channels_lock:
        _channels.clear()


def _read_body(request) -> bytes | None:
    """The raw body, or None when it is over SOCIAL_WEBHOOK_MAX_BYTES."""
    limit = settings.SOCIAL_WEBHOOK_MAX_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return None
    try:
        body = request.body
    except RequestDataTooBig:
        return None
    return None if len(body) > limit else body


def _too_large():
    return HttpResponse("Request body too large.", status=413, content_type="text/plain")


def _bad_request(message: str):
    return HttpResponse(message, status=400, content_type="text/plain")


def events_store(channel_id: int, keyed_payloads: list[tuple[str, dict]]) -> list[int]:
    """Insert the events not seen before in one statement and enqueue them after commit; returns new ids."""
    if not keyed_payloads:
        return []
    table = InboundEvent._meta.db_table
    now = timezone.now()
    placeholders, params = [], []
    for key, payload in keyed_payloads:
        placeholders.append("(%s, %s, %s, %s, %s, 0, '')")
        params += [channel_id, key, json.dumps(payload, ensure_ascii=False), now, InboundEvent.Status.PENDING]
    # The table name is ours and every value is a parameter.
    columns = "channel_id, event_key, payload, received_at, status, attempts, error"
    values = ", ".join(placeholders)
    sql = f"INSERT INTO {table} ({columns}) VALUES {values} ON CONFLICT (channel_id, event_key) DO NOTHING RETURNING id"  # noqa: S608
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            new_ids = [row[0] for row in cursor.fetchall()]
        if new_ids:
            transaction.on_commit(lambda: enqueue_processing(new_ids))
    return new_ids


BROKER_PAUSE_SECONDS = 5.0
_broker_down_until = 0.0


def enqueue_processing(event_ids: list[int]) -> None:
    """Hand the events to a worker; if the broker is down they stay pending for the sweeper.

    One publish attempt, no retries: a webhook must answer in time whatever the broker does. After a
    failure this process skips publishing for a few seconds rather than paying the timeout every time.
    """
    global _broker_down_until
    from .tasks import process_events

    if time.monotonic() < _broker_down_until:
        return
    try:
        process_events.apply_async(args=[event_ids], retry=True, retry_policy={"max_retries": 0})
    except Exception:  # the broker is unreachable: the beat sweeper re-enqueues pending rows
        _broker_down_until = time.monotonic() + BROKER_PAUSE_SECONDS
        logger.warning(
            "social: could not enqueue %d events; the sweeper will retry", len(event_ids), exc_info=True
        )


@csrf_exempt
def line_webhook(request, key):
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    body = _read_body(request)
    if body is None:
        return _too_large()
    channel = channel_for_webhook(Channel.Kind.LINE, key)
    if channel is None:
        return HttpResponse("Unknown channel.", status=404, content_type="text/plain")
    secret = channel["credentials"].get("channel_secret", "")
    if not line.signature_valid(secret, body, request.headers.get("x-line-signature")):
        return HttpResponse("Invalid signature.", status=401, content_type="text/plain")
    try:
        destination, events = line.parse_events(body)
    except line.WebhookError as exc:
        return _bad_request(str(exc))
    keyed = []
    seen = set()
    for event in events:
        event_key = line.event_key(event)
        if event_key not in seen:
            seen.add(event_key)
            keyed.append((event_key, {**event, "destination": destination}))
    events_store(channel["id"], keyed)
    return HttpResponse("OK", content_type="text/plain")


@csrf_exempt
def wechat_webhook(request, key):
    if request.method not in ("GET", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    channel = channel_for_webhook(Channel.Kind.WECHAT, key)
    if channel is None:
        return HttpResponse("Unknown channel.", status=404, content_type="text/plain")
    credentials = channel["credentials"]
    token = credentials.get("token", "")
    params = request.GET
    timestamp, nonce = params.get("timestamp", ""), params.get("nonce", "")
    if request.method == "GET":
        # URL verification when the admin saves the server URL in the WeChat console.
        if not wechat.signature_valid(token, timestamp, nonce, params.get("signature", "")):
            return HttpResponse("Invalid signature.", status=403, content_type="text/plain")
        return HttpResponse(params.get("echostr", ""), content_type="text/plain")
    body = _read_body(request)
    if body is None:
        return _too_large()
    try:
        outer = wechat.parse_xml(body)
    except (wechat.WebhookError, UnicodeDecodeError):
        # Malformed bodies are refused only once the sender is known to hold the token.
        if not wechat.signature_valid(token, timestamp, nonce, params.get("signature", "")):
            return HttpResponse("Invalid signature.", status=403, content_type="text/plain")
        return _bad_request("Body is not a WeChat callback.")
    encrypted = "Encrypt" in outer
    if encrypted:
        ciphertext = outer.get("Encrypt") or ""
        if not isinstance(ciphertext, str) or not wechat.signature_valid(
            token, timestamp, nonce, params.get("msg_signature", ""), ciphertext
        ):
            return HttpResponse("Invalid signature.", status=403, content_type="text/plain")
        try:
            message = wechat.parse_xml(
                wechat.decrypt(credentials.get("aes_key", ""), credentials.get("app_id", ""), ciphertext)
            )
        except wechat.WebhookError as exc:
            return _bad_request(f"Cannot decrypt: {exc}")
    else:
        if credentials.get("mode") == "safe":
            return HttpResponse("This channel accepts encrypted messages only.", status=403)
        if not wechat.signature_valid(token, timestamp, nonce, params.get("signature", "")):
            return HttpResponse("Invalid signature.", status=403, content_type="text/plain")
        message = outer
    if not message.get("FromUserName") or not message.get("MsgType"):
        return _bad_request("A WeChat message needs FromUserName and MsgType.")
    events_store(channel["id"], [(wechat.event_key(message), message)])
    return HttpResponse("success", content_type="text/plain")
