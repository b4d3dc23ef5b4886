"""What the console reads from: the ports it needs, bundled for the app factory.

The console reads through Protocols (the service hands over the real stores, a test
anything with the same methods) and acts through the alarm service.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from alerts.feed import AlarmFeed
from alerts.models import Alarm, AlarmState, LogEntry, MaintenanceWindow
from alerts.notifiers.twilio_account import TwilioSettings
from alerts.routing import Routing
from alerts.service import AlarmService
from alerts.store import OutboxRow
from collectors.influx_schema import SystemSample
from collectors.sqlite_store import Bucket, QuarantinedMessage, SensorLatest
from console.auth import AuthService
from console.demo_actions import DemoInjector
from console.reports.compute import ReportBuilder
from console.sops import SopStore
from inspections.service import InspectionService
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
        self, site: str, room: str, since: datetime, until: datetime | None = None
    ) -> list[tuple[datetime, dict[str, float]]]: ...


class HistoryReader(Protocol):
    """Readings over time, for the room and sensor-health pages and an alarm's timeline
    (``collectors.sqlite_store.SqliteReadingStore``)."""

    def buckets(
        self,
        site: str,
        sensor: str,
        name: str,
        since: datetime,
        until: datetime,
        width: timedelta,
    ) -> list[Bucket]: ...

    def readings_between(
        self, site: str, sensor: str, since: datetime, until: datetime, limit: int = 2000
    ) -> list[tuple[datetime, dict[str, Any]]]: ...

    def clock_offsets(self, site: str, sensors: Sequence[str]) -> dict[str, float]: ...

    def quarantine_by_topic(self) -> list[tuple[str, str, int]]: ...


class AlarmReader(Protocol):
    """The read side of the alarm store (``alerts.store.AlarmStore``)."""

    def get(self, alarm_id: int) -> Alarm | None: ...

    def timeline(self, alarm_id: int) -> list[LogEntry]: ...

    def messages(self, incident_id: int) -> list[OutboxRow]: ...

    def windows(self, *, include_ended: bool = False) -> list[MaintenanceWindow]: ...

    def raised_between(self, site: str, start: datetime, end: datetime) -> list[Alarm]: ...

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
    # Accounts: with them come the login page, the checklist app (/app/), the inspection
    # and hazard API, the reports and the printable checkpoints, each behind its role.
    auth: AuthService | None = None
    inspections: InspectionService | None = None
    reports: ReportBuilder | None = None
    # The console's address as phones reach it: what the printed QR checkpoints encode.
    public_url: str = "http://127.0.0.1:8080"
    # Readings over time (usually the same store as ``readings``): the room page's charts,
    # the sensor-health page and the readings around an alarm. None: those pages answer 503
    # and an alarm's detail has no readings.
    history: HistoryReader | None = None
    # The standard operating procedures, editable by supervisors. None: the shipped ones,
    # read-only (an edit answers 503).
    sops: SopStore | None = None
    # Demo mode only (``make demo``): injects a simulated incident. None: /api/demo/* is 404.
    demo: DemoInjector | None = None
    # Lantai's own numbers (lantai/metrics.py), served at /metrics to a reader. None, or
    # a console without accounts: /metrics is 404.
    metrics: Callable[[], Sequence[SystemSample]] | None = None
