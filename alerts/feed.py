"""A live feed of alarm changes for the console's server-sent events.

Notifiers run on the ingest or scheduler threads; each console client waits on an
asyncio queue in the web server's loop, so publishing hops threads safely.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field

from alerts.models import AlarmChange

# A client that stops reading (a closed laptop) must not grow memory without bound;
# it misses changes past this and re-reads the alarm list when it wakes.
SUBSCRIBER_QUEUE = 1000


@dataclass(eq=False)
class Subscription:
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[AlarmChange] = field(
        default_factory=lambda: asyncio.Queue(SUBSCRIBER_QUEUE)
    )
    dropped: int = 0


class AlarmFeed:
    def __init__(self) -> None:
        self._subscribers: set[Subscription] = set()
        self._lock = threading.Lock()

    def subscribe(self) -> Subscription:
        """Call from inside the event loop that will read the subscription."""
        sub = Subscription(asyncio.get_running_loop())
        with self._lock:
            self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            self._subscribers.discard(sub)

    def publish(self, change: AlarmChange) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for sub in subscribers:
            if not sub.loop.is_closed():
                sub.loop.call_soon_threadsafe(_offer, sub, change)


def _offer(sub: Subscription, change: AlarmChange) -> None:
    try:
        sub.queue.put_nowait(change)
    except asyncio.QueueFull:
        sub.dropped += 1
