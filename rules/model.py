"""Compiled rules: runtime objects built once from the validated facility.

This issue's rules prove the path: climate out of the room class's limits, smoke, and a
silent sensor. The rules issue turns them into YAML data with many more types; the shape
stays: a frozen rule, a small state, and a pure ``evaluate`` in ``rules.evaluate``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sensors.events import Category, Severity
from sensors.facility import Facility, SensorKind

# Silent past this many reporting intervals → trouble alarm (archive-standards.md §6:
# "offline when no data for max(3 × reporting interval, 1.5 × keep-alive)").
SILENCE_FACTOR = 3
# Leave the band by any amount to raise; come back inside by this much to clear, so a
# value hovering at the limit raises one alarm, not sixty (peers.md, pain point 1).
CLEAR_MARGIN = {"temperature": 0.5, "humidity": 2.0}


@dataclass(frozen=True, slots=True)
class ThresholdRule:
    """Raise when ``field`` leaves [low, high]; clear once back inside by ``margin``."""

    id: str
    field: str
    low: float
    high: float
    margin: float
    unit: str
    label_zh: str
    label_en: str
    severity: Severity = Severity.MEDIUM
    category: Category = Category.CLIMATE


@dataclass(frozen=True, slots=True)
class SmokeRule:
    """Any smoke detector in the room → a critical fire alarm at once, no delay."""

    id: str = "fire"


@dataclass(frozen=True, slots=True)
class SilenceRule:
    """No message from a sensor for ``after`` → a trouble alarm; the next message clears it."""

    after: timedelta
    id: str = "sensor_silent"


@dataclass(frozen=True, slots=True)
class SensorRules:
    """Everything that applies to one sensor."""

    site: str
    room: str
    sensor: str
    kind: SensorKind
    thresholds: tuple[ThresholdRule, ...]
    smoke: SmokeRule | None
    silence: SilenceRule


def compile_rules(facility: Facility) -> dict[tuple[str, str], SensorRules]:
    """The default rules for every sensor, from its kind and its room class."""
    compiled: dict[tuple[str, str], SensorRules] = {}
    for sensor in facility.all_sensors():
        room = facility.rooms[(sensor.site, sensor.room)]
        thresholds: tuple[ThresholdRule, ...] = ()
        if sensor.kind is SensorKind.CLIMATE:
            limits = room.limits
            thresholds = (
                ThresholdRule(
                    id="temperature_limits",
                    field="temperature",
                    low=limits.temperature.min,
                    high=limits.temperature.max,
                    margin=CLEAR_MARGIN["temperature"],
                    unit="°C",
                    label_zh="温度",
                    label_en="Temperature",
                ),
                ThresholdRule(
                    id="humidity_limits",
                    field="humidity",
                    low=limits.humidity.min,
                    high=limits.humidity.max,
                    margin=CLEAR_MARGIN["humidity"],
                    unit="%RH",
                    label_zh="相对湿度",
                    label_en="Relative humidity",
                ),
            )
        compiled[(sensor.site, sensor.id)] = SensorRules(
            site=sensor.site,
            room=sensor.room,
            sensor=sensor.id,
            kind=sensor.kind,
            thresholds=thresholds,
            smoke=SmokeRule() if sensor.kind is SensorKind.SMOKE else None,
            silence=SilenceRule(after=sensor.interval * SILENCE_FACTOR),
        )
    return compiled
