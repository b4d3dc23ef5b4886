"""The room's current sensor values, offered for a task's reading items.

A reading item names a sensor field (humidity, temperature, …); the phone shows what the
room's sensors of that kind say now, and the person confirms or corrects it. Nothing is
answered for them: a reading on a checklist is the person's statement that they looked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from inspections.models import ItemKind, Task
from sensors.facility import Facility, SensorKind

# A value older than this is not offered: the sensor may have gone quiet.
MAX_AGE = timedelta(minutes=10)

# Which sensors measure a field (a heat detector's temperature is not the room's).
FIELD_SENSOR = {
    "temperature": SensorKind.CLIMATE,
    "humidity": SensorKind.CLIMATE,
    "lux": SensorKind.LIGHT,
    "uv": SensorKind.LIGHT,
    "pm25": SensorKind.DUST,
    "voc": SensorKind.GAS,
}


class SensorValues(Protocol):
    """One sensor's newest values (``collectors.sqlite_store.SensorLatest`` fits)."""

    @property
    def last_seen(self) -> datetime: ...

    @property
    def values(self) -> Mapping[str, object]: ...


class LatestReadings(Protocol):
    """Where the sensors' current values are read (``SqliteReadingStore`` fits)."""

    def latest(self, site: str, sensors: Sequence[str]) -> Mapping[str, SensorValues]: ...


@dataclass(frozen=True, slots=True)
class Prefill:
    """A field's value as the room's sensors measure it now (their mean)."""

    value: float
    at: datetime  # the oldest of the values used
    sensors: tuple[str, ...]


def current_readings(
    facility: Facility, readings: LatestReadings, task: Task, now: datetime
) -> dict[str, Prefill]:
    """By sensor field, for the fields the task's reading items ask for (room tasks)."""
    room = None if task.room is None else facility.room(task.site, task.room)
    fields = {i.field for i in task.items if i.kind is ItemKind.READING and i.field}
    if room is None or not fields:
        return {}
    latest = readings.latest(task.site, room.sensor_ids)
    found: dict[str, Prefill] = {}
    for name in sorted(fields):
        values: list[float] = []
        times: list[datetime] = []
        used: list[str] = []
        for sensor_id, current in latest.items():
            sensor = facility.sensor(task.site, sensor_id)
            value = current.values.get(name)
            if (
                sensor is not None
                and sensor.kind is FIELD_SENSOR.get(name)
                and now - current.last_seen <= MAX_AGE
                and isinstance(value, int | float)
                and not isinstance(value, bool)
            ):
                values.append(float(value))
                times.append(current.last_seen)
                used.append(sensor_id)
        if values:
            found[name] = Prefill(
                round(sum(values) / len(values), 1), min(times), tuple(sorted(used))
            )
    return found
