"""The live alarm stream: alarm changes from the feed as server-sent events.

One subscription per client, taken inside the server's event loop (the feed hops threads
for us) and dropped when the client goes away: starlette cancels the stream's task on a
disconnect, and the ``finally`` runs on that cancellation.

A client sees the alarms of its granted sites only. A stream outlives the login check
made when it opened, so it asks again who its client is every ``keepalive_seconds``: when
the session has ended (logout, expiry, a disabled account, a revoked token) or the role
may no longer read, the stream ends, and the browser's reconnect gets a 401.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi.responses import StreamingResponse

from alerts.feed import AlarmFeed
from alerts.models import AlarmChange
from console.schemas import AlarmChangeOut, AlarmOut
from sensors.clock import monotonic

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


# Whether the client may see alarms of a site.
SiteFilter = Callable[[str], bool]
# Asks again who the client is: the sites it may see now, or None when it may no longer
# read at all. Blocking (it reads the accounts' tables): run off the event loop.
Recheck = Callable[[], SiteFilter | None]


def _every_site(site: str) -> bool:  # noqa: ARG001 - the filter of a trusted embedding
    return True


async def alarm_events(
    feed: AlarmFeed,
    keepalive_seconds: float,
    sees: SiteFilter = _every_site,
    recheck: Recheck | None = None,
) -> AsyncIterator[str]:
    """Events of the sites ``sees`` admits until the client leaves or ``recheck`` says it
    may no longer read; a ``: keepalive`` comment after each idle spell."""
    sub = feed.subscribe()
    try:
        # Sent once subscribed, so a client that has read it misses no later change.
        yield f"retry: {RETRY_MS}\n\n"
        checked = monotonic()
        while True:
            try:
                change = await asyncio.wait_for(sub.queue.get(), keepalive_seconds)
            except TimeoutError:
                change = None
            if recheck is not None and monotonic() - checked >= keepalive_seconds:
                fresh = await asyncio.to_thread(recheck)
                if fresh is None:
                    return  # the session is over: the reconnect meets the login
                sees, checked = fresh, monotonic()
            if change is None:
                yield ": keepalive\n\n"
            elif sees(change.alarm.site):
                yield format_event(change)
    finally:
        feed.unsubscribe(sub)


class EventStreamResponse(StreamingResponse):
    """A streaming response whose media type the OpenAPI document can name."""

    media_type = "text/event-stream"


def alarm_stream_response(
    feed: AlarmFeed,
    keepalive_seconds: float,
    sees: SiteFilter = _every_site,
    recheck: Recheck | None = None,
) -> EventStreamResponse:
    """The ``text/event-stream`` response for one client."""
    events = alarm_events(feed, keepalive_seconds, sees, recheck)
    return EventStreamResponse(events, headers=SSE_HEADERS)


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
