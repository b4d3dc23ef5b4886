"""The live alarm stream: alarm changes from the feed as server-sent events.

One subscription per client, taken inside the server's event loop (the feed hops threads
for us) and dropped when the client goes away: starlette cancels the stream's task on a
disconnect, and the ``finally`` runs on that cancellation.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from fastapi.responses import StreamingResponse

from alerts.feed import AlarmFeed
from alerts.models import AlarmChange
from console.schemas import AlarmChangeOut, AlarmOut

# How soon a browser reconnects after the stream breaks; a missed critical alarm costs
# more than a reconnect a second.
RETRY_MS = 1000

STREAM_PATH = "/api/alarms/stream"

SSE_HEADERS = {
    "Cache-Control": "no-cache",
    # A reverse proxy (nginx) would otherwise buffer the stream and delay every alarm.
    "X-Accel-Buffering": "no",
}


def format_event(change: AlarmChange) -> str:
    """One ``alarm`` event: the change kind and the alarm as JSON on a single data line."""
    data = AlarmChangeOut(change=change.change, alarm=AlarmOut.model_validate(change.alarm))
    return f"event: alarm\ndata: {data.model_dump_json()}\n\n"


async def alarm_events(feed: AlarmFeed, keepalive_seconds: float) -> AsyncIterator[str]:
    """Events until the client leaves; a ``: keepalive`` comment after each idle spell."""
    sub = feed.subscribe()
    try:
        # Sent once subscribed, so a client that has read it misses no later change.
        yield f"retry: {RETRY_MS}\n\n"
        while True:
            try:
                change = await asyncio.wait_for(sub.queue.get(), keepalive_seconds)
            except TimeoutError:
                yield ": keepalive\n\n"
            else:
                yield format_event(change)
    finally:
        feed.unsubscribe(sub)


class EventStreamResponse(StreamingResponse):
    """A streaming response whose media type the OpenAPI document can name."""

    media_type = "text/event-stream"


def alarm_stream_response(feed: AlarmFeed, keepalive_seconds: float) -> EventStreamResponse:
    """The ``text/event-stream`` response for one client."""
    return EventStreamResponse(alarm_events(feed, keepalive_seconds), headers=SSE_HEADERS)


def describe_stream(document: dict[str, Any]) -> None:
    """Describe the stream's events in ``document`` the way OpenAPI 3.2 does (``itemSchema``).

    FastAPI can only say "a string" of a streaming response; the events' JSON data is an
    AlarmChangeOut, whose schema the route's ``responses`` put among the components.
    """
    response = document["paths"][STREAM_PATH]["get"]["responses"]["200"]
    response["content"] = {
        "text/event-stream": {
            "schema": {"type": "string"},
            "itemSchema": {
                "type": "object",
                "properties": {
                    "event": {"type": "string", "const": "alarm"},
                    "data": {
                        "type": "string",
                        "contentMediaType": "application/json",
                        "contentSchema": {"$ref": "#/components/schemas/AlarmChangeOut"},
                    },
                    "retry": {"type": "integer", "minimum": 0},
                },
            },
        }
    }
