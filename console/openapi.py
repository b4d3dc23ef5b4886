"""The console's OpenAPI document, and its committed snapshot ``console/openapi.json``.

The document depends only on the routes and models, never on the facility or the
machine, so a context with empty stores builds the same document as the service does.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from alerts.feed import AlarmFeed
from alerts.models import Alarm, AlarmState, LogEntry, MaintenanceWindow
from alerts.store import OutboxRow
from alerts.tables import create_state_engine
from collectors.sqlite_store import QuarantinedMessage, SensorLatest
from console.app import create_app
from console.auth import AuthContext, AuthService
from console.context import ConsoleContext
from console.reports.compute import ReportBuilder
from inspections.service import InspectionService
from inspections.store import InspectionStore
from sensors.clock import SystemClock
from sensors.events import AlarmEvent
from sensors.facility import Facility

SNAPSHOT = Path(__file__).with_name("openapi.json")
REGENERATE = "lantai openapi > console/openapi.json"


# Empty stores with the Protocols' signatures (hence the unused arguments).
class _NoReadings:
    def latest(self, site: str, sensors: Sequence[str]) -> dict[str, SensorLatest]:  # noqa: ARG002
        return {}

    def quarantine(
        self,
        limit: int = 100,  # noqa: ARG002
        reason: str | None = None,  # noqa: ARG002
    ) -> list[QuarantinedMessage]:
        return []

    def quarantine_counts(self) -> dict[str, int]:
        return {}

    def metrics(
        self,
        site: str,  # noqa: ARG002
        room: str,  # noqa: ARG002
        since: datetime,  # noqa: ARG002
        until: datetime | None = None,  # noqa: ARG002
    ) -> list[tuple[datetime, dict[str, float]]]:
        return []


class _NoAlarms:
    def get(self, alarm_id: int) -> Alarm | None:  # noqa: ARG002
        return None

    def timeline(self, alarm_id: int) -> list[LogEntry]:  # noqa: ARG002
        return []

    def messages(self, incident_id: int) -> list[OutboxRow]:  # noqa: ARG002
        return []

    def windows(self, *, include_ended: bool = False) -> list[MaintenanceWindow]:  # noqa: ARG002
        return []

    def raised_between(self, site: str, start: datetime, end: datetime) -> list[Alarm]:  # noqa: ARG002
        return []

    # Last in the class: its name shadows the builtin in the annotations below it.
    def list(
        self,
        *,
        states: Sequence[AlarmState] | None = None,  # noqa: ARG002
        site: str | None = None,  # noqa: ARG002
        limit: int = 500,  # noqa: ARG002
    ) -> list[Alarm]:
        return []


class _NoEvents:
    def publish(self, events: Sequence[AlarmEvent]) -> None:  # noqa: ARG002
        return None


def document_context() -> ConsoleContext:
    """A context with nothing in it: enough to build the app for its document. The
    accounts and inspections get an in-memory database they never open (building routes
    reads no table)."""
    facility = Facility(sites={}, rooms={}, sensors={})
    clock = SystemClock()
    engine = create_state_engine("sqlite://")
    alarms = _NoAlarms()
    readings = _NoReadings()
    inspections = InspectionService(InspectionStore(engine), facility, (), clock, _NoEvents())
    return ConsoleContext(
        facility=facility,
        readings=readings,
        alarms=alarms,
        feed=AlarmFeed(),
        health=dict,
        clock=clock,
        auth=AuthService(AuthContext(engine=engine, clock=clock)),
        inspections=inspections,
        reports=ReportBuilder(facility, clock, readings, alarms, inspections),
    )


def openapi_document(ctx: ConsoleContext | None = None) -> dict[str, Any]:
    """The OpenAPI document of the console app."""
    return create_app(ctx or document_context()).openapi()


def openapi_text(ctx: ConsoleContext | None = None) -> str:
    """The document as committed: sorted keys, two-space indent, a trailing newline."""
    text = json.dumps(openapi_document(ctx), indent=2, sort_keys=True, ensure_ascii=False)
    return text + "\n"
