"""What a report reads, as narrow Protocols: climate samples, alarms, tasks and hazards.

The service hands over the real stores (``AlarmStore``, the readings store, the inspection
store); a test hands over the same stores on files in its tmp_path. Every time in and
out is aware UTC.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from alerts.models import Alarm
from inspections.models import Hazard, Task


class ClimateReader(Protocol):
    """A room's climate samples (``collectors.sqlite_store.SqliteReadingStore.metrics``).

    The preservation rule writes one sample per room and minute with ``temperature``,
    ``humidity``, ``pi`` and ``mold_index`` among its values.
    """

    def metrics(
        self, site: str, room: str, since: datetime, until: datetime | None = None
    ) -> list[tuple[datetime, dict[str, float]]]: ...


class AlarmHistory(Protocol):
    """Alarms of a site raised in [start, end), oldest first."""

    def raised_between(self, site: str, start: datetime, end: datetime) -> list[Alarm]: ...


class InspectionReader(Protocol):
    """Tasks and hazards of a site (``inspections.store.InspectionStore``)."""

    def tasks_between(self, site: str, since: datetime, until: datetime) -> list[Task]:
        """Tasks whose window starts in [since, until)."""
        ...

    def hazards(
        self, *, site: str | None = None, found_until: datetime | None = None
    ) -> list[Hazard]:
        """Hazards found before ``found_until``, with their logs, oldest found first."""
        ...
