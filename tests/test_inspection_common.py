"""Shared parts of the inspection tests (no tests here): a small template file for the
example site, local Shanghai times, state databases, and an alarm sink that keeps events.

The templates: a daily patrol of the special-collections stack B2-04 (class limits
14–20 °C, 45–55 %RH) in two windows, and a weekly check of floor F3 on Wednesdays.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.engine import Engine

from alerts.tables import create_state_engine
from inspections.service import InspectionService
from inspections.store import InspectionStore
from inspections.templates import Template, parse_templates
from sensors.clock import FakeClock
from sensors.events import AlarmEvent
from sensors.facility import Facility
from tests.postgres_server import postgres_url

SITE = "yunxi"
SHANGHAI = ZoneInfo("Asia/Shanghai")
ROOM = "B2-04"

TEMPLATES = """\
templates:
  - id: patrol
    title: {zh: 日巡查, en: Daily patrol}
    cadence: daily
    windows:
      - {start: "08:30", end: "10:00"}
      - {start: "16:30", end: "17:30"}
    room_classes: [special]
    role: guard
    items:
      - key: humidity
        kind: reading
        field: humidity
        label: {zh: 相对湿度, en: Relative humidity}
      - key: doors
        label: {zh: 门窗上锁, en: Doors and windows locked}
        hazard_grade: danger
      - key: tank
        label: {zh: 除湿机水箱已清空, en: Dehumidifier tank emptied}
        photo: required
  - id: weekly
    title: {zh: 周检查, en: Weekly check}
    cadence: weekly
    weekday: wed
    windows:
      - {start: "09:00", end: "17:00"}
    scope: floor
    floors: [F3]
    role: stack_manager
    remind_before: 1h
    overdue_severity: high
    items:
      - key: extinguishers
        label: {zh: 灭火器压力在绿区, en: Extinguisher gauges in the green zone}
        photo: optional
"""

# The smallest valid images of each accepted kind (magic bytes plus filler).
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 60
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 60
WEBP = b"RIFF\x40\x00\x00\x00WEBPVP8 " + b"\x00" * 60


def local(day: int, hour: int, minute: int = 0, month: int = 1) -> datetime:
    """A Shanghai wall-clock time in 2026 as UTC (5 January 2026 is a Monday)."""
    return datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI).astimezone(UTC)


def templates(facility: Facility, text: str = TEMPLATES) -> tuple[Template, ...]:
    return parse_templates(text, facility, filename="test-inspections.yaml")


class RecordingSink:
    """An AlarmSink that keeps what it is given (the alarm service's publish, in tests
    that look at the events themselves)."""

    def __init__(self) -> None:
        self.events: list[AlarmEvent] = []

    def publish(self, events: Sequence[AlarmEvent]) -> None:
        self.events.extend(events)

    def take(self) -> list[AlarmEvent]:
        taken, self.events = self.events, []
        return taken


@contextmanager
def state_engine(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Engine]:
    """A state database: a SQLite file, or a fresh schema on the PostgreSQL test server
    (the test module must import the ``pg_schema`` fixture; it skips when none answers)."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'state.db'}"
    else:
        # The session's zone is Shanghai: times must come back as UTC all the same.
        url = postgres_url(request.getfixturevalue("pg_schema"), timezone="Asia/Shanghai")
    engine = create_state_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def make_service(
    engine: Engine,
    facility: Facility,
    clock: FakeClock,
    sink: RecordingSink,
    text: str = TEMPLATES,
) -> InspectionService:
    store = InspectionStore(engine)
    store.start()
    return InspectionService(store, facility, templates(facility, text), clock, sink)
