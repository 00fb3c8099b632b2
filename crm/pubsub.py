"""Publish small messages to users' browsers: Redis pub/sub in production, in-process on the embedded default.

    publish(user_channel(user.pk), "ringing", html)     # from a view, a service or a Celery task
    async with subscribe(user_channel(user.pk)) as subscription: ...  # in an async SSE view

With REDIS_URL unset (the demo), publisher and subscriber must live in the same process, which they do
when the web server runs the eager Celery tasks itself.
"""

import asyncio
import json
import logging
import threading
from collections import defaultdict

from django.conf import settings

logger = logging.getLogger(__name__)

# Channels are named after the database so that two installs sharing one Redis server (staging and
# production, say) never see each other's events: Redis pub/sub ignores the database number.
PREFIX = f"crm:{settings.DATABASES['default'].get('NAME', '')}:sse:"


def user_channel(user_id: int) -> str:
    return f"user:{user_id}"


def publish(channel: str, event: str, data: str) -> int:
    """Send `event` with `data` to everyone subscribed to `channel`; returns how many received it.

    Never raises: a live update that cannot be delivered must not break the write that caused it.
    """
    message = json.dumps({"event": event, "data": data})
    try:
        if settings.REDIS_URL:
            return _redis().publish(PREFIX + channel, message)
        return _local.publish(channel, message)
    except Exception:  # noqa: BLE001 - see the docstring
        logger.warning("pubsub: could not publish %s on %s", event, channel, exc_info=True)
        return 0


def subscribe(channel: str) -> "Subscription":
    """An async context manager receiving what is published on `channel` once it is entered:

        async with subscribe(channel) as subscription:
            event, data = await subscription.get()

    Entering returns only when the subscription is active, so state read afterwards plus the
    messages received make a complete picture.
    """
    return _RedisSubscription(channel) if settings.REDIS_URL else _LocalSubscription(channel)


class Subscription:
    async def __aenter__(self) -> "Subscription":
        raise NotImplementedError

    async def __aexit__(self, *exc_info) -> None:
        raise NotImplementedError

    async def get(self, timeout: float) -> tuple[str, str] | None:
        """The next (event, data), or None if nothing arrived within `timeout` seconds."""
        raise NotImplementedError


def _decode(raw) -> tuple[str, str]:
    payload = json.loads(raw)
    return payload["event"], payload["data"]


_redis_client = None
_redis_lock = threading.Lock()


def _redis():
    global _redis_client
    if _redis_client is None:
        import redis

        with _redis_lock:
            if _redis_client is None:
                _redis_client = redis.Redis.from_url(
                    settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2
                )
    return _redis_client


class _RedisSubscription(Subscription):
    def __init__(self, channel: str):
        self.channel = PREFIX + channel

    async def __aenter__(self):
        import redis.asyncio as aioredis

        self.client = aioredis.Redis.from_url(settings.REDIS_URL)
        self.pubsub = self.client.pubsub()
        await self.pubsub.subscribe(self.channel)
        while True:  # wait for the server's confirmation: from here on nothing is missed
            message = await self.pubsub.get_message(timeout=5.0)
            if message is not None and message["type"] == "subscribe":
                return self

    async def __aexit__(self, *exc_info):
        try:
            await self.pubsub.unsubscribe()
            await self.pubsub.aclose()
        finally:
            await self.client.aclose()

    async def get(self, timeout):
        deadline = asyncio.get_running_loop().time() + timeout
        while (left := deadline - asyncio.get_running_loop().time()) > 0:
            message = await self.pubsub.get_message(ignore_subscribe_messages=True, timeout=left)
            if message is not None and message["type"] == "message":
                return _decode(message["data"])
        return None


class _LocalBroker:
    """In-process fan-out to asyncio queues, safe to publish to from any thread."""

    def __init__(self):
        self._lock = threading.Lock()
        self._subscribers: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Queue]]] = defaultdict(set)

    def publish(self, channel: str, message: str) -> int:
        with self._lock:
            targets = list(self._subscribers.get(channel, ()))
        for loop, queue in targets:
            loop.call_soon_threadsafe(queue.put_nowait, message)
        return len(targets)

    def add(self, channel, entry):
        with self._lock:
            self._subscribers[channel].add(entry)

    def remove(self, channel, entry):
        with self._lock:
            self._subscribers[channel].discard(entry)


class _LocalSubscription(Subscription):
    def __init__(self, channel: str):
        self.channel = channel

    async def __aenter__(self):
        self.entry = (asyncio.get_running_loop(), asyncio.Queue())
        _local.add(self.channel, self.entry)
        return self

    async def __aexit__(self, *exc_info):
        _local.remove(self.channel, self.entry)

    async def get(self, timeout):
        try:
            return _decode(await asyncio.wait_for(self.entry[1].get(), timeout))
        except TimeoutError:
            return None


_local = _LocalBroker()
