"""One notifier per file, all behind one Protocol."""

from __future__ import annotations

from typing import Protocol

from alerts.models import AlarmChange


class Notifier(Protocol):
    """Tells someone (or something) about an alarm change. Raises on failure."""

    name: str

    def notify(self, change: AlarmChange) -> None: ...
