"""The console listener: alarm changes to the security desk's live feed."""

from __future__ import annotations

from alerts.feed import AlarmFeed
from alerts.models import AlarmChange


class ConsoleListener:
    name = "console"

    def __init__(self, feed: AlarmFeed) -> None:
        self._feed = feed

    def notify(self, change: AlarmChange) -> None:
        self._feed.publish(change)
