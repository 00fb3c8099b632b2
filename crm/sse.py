"""Server-sent events: one long-lived async response per browser tab, fed by crm.pubsub."""

from collections.abc import AsyncIterator, Awaitable, Callable

from django.http import StreamingHttpResponse

from . import pubsub

HEARTBEAT_SECONDS = 15


def format_event(event: str, data: str, event_id: str | None = None) -> str:
    lines = [f"event: {event}"]
    if event_id:
        lines.append(f"id: {event_id}")
    lines += [f"data: {line}" for line in (data.splitlines() or [""])]
    return "\n".join(lines) + "\n\n"


async def event_stream(
    channel: str, *, initial: Callable[[], Awaitable[list[tuple[str, str]]]] | None = None
) -> AsyncIterator[str]:
    """Subscribe first, then send what the client must know now (e.g. a call still ringing), then live events.

    Subscribing before reading the current state means nothing published in between is lost, so a
    reconnecting browser never misses an event.
    """
    async with pubsub.subscribe(channel) as subscription:
        yield "retry: 2000\n\n"
        if initial is not None:
            for event, data in await initial():
                yield format_event(event, data)
        while True:
            message = await subscription.get(timeout=HEARTBEAT_SECONDS)
            yield ": keep-alive\n\n" if message is None else format_event(*message)


def sse_response(stream: AsyncIterator[str]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(stream, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response
