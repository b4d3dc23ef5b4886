"""Listeners see every alarm change as it is recorded: the log and the console's live feed.

They are not channels to people (those are ``alerts.notifiers``, behind the outbox): a
listener runs in the recording thread, must be quick and never blocks delivery.
"""

from __future__ import annotations

from typing import Protocol

from alerts.models import AlarmChange


class ChangeListener(Protocol):
    """Told about every alarm change. Raises on failure; the service counts and logs it."""

    name: str

    def notify(self, change: AlarmChange) -> None: ...
