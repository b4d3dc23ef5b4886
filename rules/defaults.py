"""The rules every sensor gets with no rule file at all, from its kind and its room's class.

Numbers and where they come from (archive-standards.md):
- climate bands: the room class (§1.1, JGJ 25-2010 Table 5.2.1), clear 0.5 °C / 2 % inside
  (hysteresis, peers.md pain point 1), after 5 / 10 minutes (a door opened for a trolley
  is not an HVAC failure) — the delays are engineering choices;
- day–night swing: ±2 °C / ±5 % (§1.1, JGJ 25-2010 §5.2.3);
- RH rising 3 %/h: a stopped dehumidifier (the issue's example);
- UV 75 µW/lm (§1.1, JGJ 25-2010 §5.5 and ISO 11799 §6.5);
- PM2.5 75 µg/m³ and TVOC 0.6 mg/m³: DA/T 81's limits are UNVERIFIED (§1.4), so these
  are GB 3095-2012's 24-hour PM2.5 limit and GB/T 18883's TVOC limit, sustained 30 min;
- silence after 3 intervals (§6); battery below 20 %: engineering choices;
- 双人进库 is on by default for special collections and film masters only (§2: not a
  verified national rule, so a per-room policy).
"""

from __future__ import annotations

from typing import Any

from sensors.facility import SensorKind
from sensors.room_classes import ClimateLimits

Entry = dict[str, Any]

# Default rule id → its type. A rule file entry reusing one of these ids overrides the
# default for its scope and must keep the type.
DEFAULT_TYPES: dict[str, str] = {
    "temperature_limits": "threshold",
    "humidity_limits": "threshold",
    "temperature_swing": "fluctuation",
    "humidity_swing": "fluctuation",
    "humidity_rise": "rate_of_change",
    "humidity_task": "task",
    "preservation": "preservation",
    "condensation": "condensation",
    "fire": "fire",
    "water_leak": "water_leak",
    "door_forced": "door_forced",
    "door_held_open": "door_held_open",
    "after_hours_entry": "after_hours_entry",
    "two_person": "two_person",
    "denied_badges": "denied_badges",
    "uv_limit": "threshold",
    "pm25_limit": "threshold",
    "voc_limit": "threshold",
    "battery_low": "threshold",
    "stuck_value": "stuck",
    "spike": "spike",
    "clock_skew": "clock_skew",
    "sensor_silent": "silence",
}

TWO_PERSON_CLASSES = frozenset({"special", "film_master"})


def default_entries(kind: SensorKind, room_class: str, limits: ClimateLimits) -> list[Entry]:
    """Rule entries (as a rule file would write them) for a sensor of ``kind`` in a room of
    ``room_class`` with ``limits``: all the defaults depend on."""
    entries: list[Entry] = [
        {"id": "sensor_silent", "type": "silence"},
        {"id": "clock_skew", "type": "clock_skew"},
        {
            "id": "battery_low",
            "type": "threshold",
            "field": "battery",
            "raise_below": 20,
            "clear_above": 25,
            "category": "trouble",
            "severity": "low",
        },
    ]
    entries += _BY_KIND[kind](room_class, limits)
    return entries


def _climate(_room_class: str, limits: ClimateLimits) -> list[Entry]:
    t, rh = limits.temperature, limits.humidity
    return [
        {
            "id": "temperature_limits",
            "type": "threshold",
            "field": "temperature",
            "raise_above": t.max,
            "clear_below": t.max - 0.5,
            "raise_below": t.min,
            "clear_above": t.min + 0.5,
            "for": "5m",
        },
        {
            "id": "humidity_limits",
            "type": "threshold",
            "field": "humidity",
            "raise_above": rh.max,
            "clear_below": rh.max - 2,
            "raise_below": rh.min,
            "clear_above": rh.min + 2,
            "for": "10m",
        },
        {"id": "temperature_swing", "type": "fluctuation", "field": "temperature"},
        {"id": "humidity_swing", "type": "fluctuation", "field": "humidity"},
        {"id": "humidity_rise", "type": "rate_of_change", "field": "humidity", "max_rise": 3},
        {
            "id": "humidity_task",
            "type": "task",
            "field": "humidity",
            "above": rh.max,
            "for": "2h",
            "title_zh": "检查 {room} 除湿机与空调",
            "title_en": "Check the dehumidifier and air conditioning in {room}",
        },
        {"id": "stuck_value", "type": "stuck"},
        {"id": "spike", "type": "spike"},
        {"id": "preservation", "type": "preservation"},
        {"id": "condensation", "type": "condensation"},
        {"id": "fire", "type": "fire"},
    ]


def _heat(_room_class: str, _limits: ClimateLimits) -> list[Entry]:
    return [
        {"id": "spike", "type": "spike"},
        {"id": "condensation", "type": "condensation"},
        {"id": "fire", "type": "fire"},
    ]


def _smoke(_room_class: str, _limits: ClimateLimits) -> list[Entry]:
    return [{"id": "fire", "type": "fire"}]


def _door(room_class: str, _limits: ClimateLimits) -> list[Entry]:
    return [
        {"id": "door_forced", "type": "door_forced"},
        {"id": "door_held_open", "type": "door_held_open"},
        {"id": "after_hours_entry", "type": "after_hours_entry"},
        {
            "id": "two_person",
            "type": "two_person",
            "enabled": room_class in TWO_PERSON_CLASSES,
        },
        {"id": "denied_badges", "type": "denied_badges"},
    ]


def _water(_room_class: str, _limits: ClimateLimits) -> list[Entry]:
    return [{"id": "water_leak", "type": "water_leak"}]


def _light(_room_class: str, _limits: ClimateLimits) -> list[Entry]:
    return [
        {"id": "uv_limit", "type": "threshold", "field": "uv", "raise_above": 75, "clear_below": 70}
    ]


def _dust(_room_class: str, _limits: ClimateLimits) -> list[Entry]:
    return [
        {
            "id": "pm25_limit",
            "type": "threshold",
            "field": "pm25",
            "raise_above": 75,
            "clear_below": 60,
            "for": "30m",
            "severity": "low",
        }
    ]


def _gas(_room_class: str, _limits: ClimateLimits) -> list[Entry]:
    return [
        {
            "id": "voc_limit",
            "type": "threshold",
            "field": "voc",
            "raise_above": 0.6,
            "clear_below": 0.5,
            "for": "30m",
        }
    ]


_BY_KIND = {
    SensorKind.CLIMATE: _climate,
    SensorKind.HEAT: _heat,
    SensorKind.SMOKE: _smoke,
    SensorKind.DOOR: _door,
    SensorKind.WATER_LEAK: _water,
    SensorKind.LIGHT: _light,
    SensorKind.DUST: _dust,
    SensorKind.GAS: _gas,
}
