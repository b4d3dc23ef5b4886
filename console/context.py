"""What the console reads from: the ports it needs, bundled for the app factory.

The console reads through Protocols (the service hands over the real stores, a test
anything with the same methods) and acts through the alarm service.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from alerts.feed import AlarmFeed
from alerts.models import Alarm, AlarmState, LogEntry, MaintenanceWindow
from alerts.notifiers.twilio_account import TwilioSettings
from alerts.routing import Routing
from alerts.service import AlarmService
from alerts.store import OutboxRow
from collectors.sqlite_store import QuarantinedMessage, SensorLatest
from sensors.clock import Clock
from sensors.facility import Facility

# The heartbeat keeps proxies and browsers from closing an idle alarm stream.
KEEPALIVE_SECONDS = 15.0


class ReadingsReader(Protocol):
    """The read side of the readings store (``collectors.sqlite_store.SqliteReadingStore``)."""

    def latest(self, site: str, sensors: Sequence[str]) -> dict[str, SensorLatest]: ...

    def quarantine(
        self, limit: int = 100, reason: str | None = None
    ) -> list[QuarantinedMessage]: ...

    def quarantine_counts(self) -> dict[str, int]: ...

    def metrics(
        self, site: str, room: str, since: datetime
    ) -> list[tuple[datetime, dict[str, float]]]: ...


class AlarmReader(Protocol):
    """The read side of the alarm store (``alerts.store.AlarmStore``)."""

    def get(self, alarm_id: int) -> Alarm | None: ...

    def timeline(self, alarm_id: int) -> list[LogEntry]: ...

    def messages(self, incident_id: int) -> list[OutboxRow]: ...

    def windows(self, *, include_ended: bool = False) -> list[MaintenanceWindow]: ...

    # Last in the class: its name shadows the builtin in the annotations below it.
    def list(
        self,
        *,
        states: Sequence[AlarmState] | None = ...,
        site: str | None = None,
        limit: int = 500,
    ) -> list[Alarm]: ...


@dataclass(frozen=True)
class ConsoleContext:
    """Everything the console app reads from; built by the service, or by a test."""

    facility: Facility
    readings: ReadingsReader
    alarms: AlarmReader
    feed: AlarmFeed
    # Component status for /api/health: ``mqtt_connected``, counters, ``problems``.
    health: Callable[[], dict[str, object]]
    clock: Clock
    # A sensor silent for longer than this many reporting intervals counts as offline;
    # the same factor as the rules' silence alarm, so tile and alarm agree.
    stale_after_factor: float = 3.0
    # When the service started listening: sensors not heard yet get grace until then
    # plus stale_after_factor intervals. None: a sensor never heard is offline at once.
    listening_since: datetime | None = None
    keepalive_seconds: float = KEEPALIVE_SECONDS
    # Acknowledge, shelve, maintenance windows and Twilio's webhooks act through the
    # alarm service; None serves a read-only console (these routes answer 503).
    actions: AlarmService | None = None
    routing: Routing | None = None
    # Twilio's webhooks verify its signature with this account's token; None: 404.
    twilio: TwilioSettings | None = None
