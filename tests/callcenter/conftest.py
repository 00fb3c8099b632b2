import json
import time

import pytest
from django.urls import reverse

from callcenter import signing

SECRET = "test-cti-secret"


@pytest.fixture(autouse=True)
def cti_secret(settings):
    settings.CTI_SHARED_SECRET = SECRET


@pytest.fixture
def post_event(client, django_capture_on_commit_callbacks):
    """POST a signed CTI event the way a PBX would, running on-commit work (the screen-pop) too."""

    def post(payload, *, secret=SECRET, timestamp=None, signature=None, raw=None):
        body = raw if raw is not None else json.dumps(payload).encode()
        timestamp = str(int(time.time())) if timestamp is None else timestamp
        headers = {
            "HTTP_X_CRM_TIMESTAMP": timestamp,
            "HTTP_X_CRM_SIGNATURE": signature or signing.sign(secret, timestamp, body),
        }
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(reverse("cti-events"), body, content_type="application/json", **headers)

    return post


def event(call_id="c1", name="ringing", at="2026-11-23T09:30:00+08:00", **extra):
    return {
        "call_id": call_id,
        "event": name,
        "direction": "inbound",
        "from": "0912-345-678",
        "to": "02-2345-6789",
        "extension": "101",
        "occurred_at": at,
        **extra,
    }


class Listener:
    """Subscribes to a user's live channel in a background thread, like the agent's open browser tab."""

    def __init__(self, user):
        import asyncio
        import queue
        import threading

        from crm import pubsub

        self.messages = queue.Queue()
        self._ready = threading.Event()
        self._stop = None
        self._asyncio = asyncio

        async def run():
            self._stop = asyncio.Event()
            async with pubsub.subscribe(pubsub.user_channel(user.pk)) as subscription:
                self._ready.set()
                while not self._stop.is_set():
                    message = await subscription.get(timeout=0.05)
                    if message is not None:
                        self.messages.put(message)

        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_until_complete, args=(run(),), daemon=True)
        self._thread.start()
        assert self._ready.wait(5), "could not subscribe"

    def next(self, timeout=5):
        return self.messages.get(timeout=timeout)

    def close(self):
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(5)


@pytest.fixture
def listen():
    listeners = []

    def start(user):
        listener = Listener(user)
        listeners.append(listener)
        return listener

    yield start
    for listener in listeners:
        listener.close()
