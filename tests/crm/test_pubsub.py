import asyncio
import threading

import pytest

from crm import pubsub, sse


async def receive_one(channel, publish_from_thread):
    async with pubsub.subscribe(channel) as subscription:
        thread = threading.Thread(target=publish_from_thread)
        thread.start()
        message = await subscription.get(timeout=5)
        thread.join()
        return message


@pytest.mark.parametrize("redis_url", ["redis://127.0.0.1:6379/0", ""], ids=["redis", "in-process"])
def test_a_message_published_anywhere_reaches_the_subscriber(settings, redis_url):
    settings.REDIS_URL = redis_url
    pubsub._redis_client = None
    received = asyncio.run(
        receive_one("user:42", lambda: pubsub.publish("user:42", "ringing", "<div>card</div>"))
    )
    assert received == ("ringing", "<div>card</div>")


@pytest.mark.parametrize("redis_url", ["redis://127.0.0.1:6379/0", ""], ids=["redis", "in-process"])
def test_nothing_arrives_from_other_channels(settings, redis_url):
    settings.REDIS_URL = redis_url
    pubsub._redis_client = None

    async def scenario():
        async with pubsub.subscribe("user:1") as subscription:
            pubsub.publish("user:2", "ringing", "not for you")
            return await subscription.get(timeout=0.3)

    assert asyncio.run(scenario()) is None


def test_publishing_without_a_reachable_broker_does_not_raise(settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    pubsub._redis_client = None
    assert pubsub.publish("user:1", "ringing", "x") == 0
    pubsub._redis_client = None


def test_event_stream_sends_current_state_then_live_events(settings):
    settings.REDIS_URL = ""

    async def initial():
        return [("ringing", "call still ringing")]

    async def scenario():
        stream = sse.event_stream("user:7", initial=initial)
        chunks = [await stream.__anext__(), await stream.__anext__()]
        pubsub.publish("user:7", "answered", "line one\nline two")
        chunks.append(await stream.__anext__())
        await stream.aclose()
        return chunks

    assert asyncio.run(scenario()) == [
        "retry: 2000\n\n",
        "event: ringing\ndata: call still ringing\n\n",
        "event: answered\ndata: line one\ndata: line two\n\n",
    ]
