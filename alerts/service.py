"""The alarm service: records rule events and tells every notifier what changed.

It implements ``sensors.events.AlarmSink``, the Protocol the rules publish to.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from alerts.models import AlarmChange
from alerts.notifiers import Notifier
from alerts.store import AlarmStore
from sensors.events import AlarmEvent

log = logging.getLogger(__name__)


@dataclass(slots=True)
class AlarmStats:
    events: int = 0
    changes: int = 0
    notify_failures: dict[str, int] = field(default_factory=dict)


class AlarmService:
    def __init__(self, store: AlarmStore, notifiers: Sequence[Notifier]) -> None:
        self._store = store
        self._notifiers = list(notifiers)
        # Rules publish from the ingest thread and the silence timer's thread.
        self._lock = threading.Lock()
        self.stats = AlarmStats()

    def publish(self, events: Sequence[AlarmEvent]) -> None:
        for event in events:
            with self._lock:
                self.stats.events += 1
                change = self._store.apply(event)
                if change is not None:
                    self.stats.changes += 1
            if change is not None:
                self._notify(change)

    def _notify(self, change: AlarmChange) -> None:
        for notifier in self._notifiers:
            try:
                notifier.notify(change)
            except Exception:
                # One broken channel must not silence the others. The durable outbox with
                # retry and fallback arrives with the alarms issue; until then it is logged
                # and counted (visible in /api/health).
                with self._lock:
                    failures = self.stats.notify_failures
                    failures[notifier.name] = failures.get(notifier.name, 0) + 1
                log.exception("notifier %s failed for alarm #%d", notifier.name, change.alarm.id)
