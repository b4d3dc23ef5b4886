"""Flux building blocks, spelled from collectors/influx_schema.py and nothing else.

Every measurement, tag and field name in a board's query comes from the schema module's
constants, so a renamed field fails tests/test_dashboards_schema.py instead of leaving a
panel empty. Grafana fills in ``${var}`` (dashboard variables) and ``v.timeRangeStart``,
``v.timeRangeStop``, ``v.windowPeriod`` before the query reaches InfluxDB.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

from collectors.influx_schema import (
    ALARM_EVENT,
    SYSTEM,
    SYSTEM_VALUE_FIELD,
    AlarmField,
    Tag,
)
from sensors.room_classes import builtin_room_classes

BUCKET_VAR: Final = "bucket"
DEFAULT_BUCKET: Final = "lantai"
SITE_VAR: Final = "site"
ROOM_VAR: Final = "room"

# How far back "what is open now" looks: an alarm raised and left open longer than this
# drops off the desk's active list (the console's alarm list has no such limit).
ALARM_LOOKBACK: Final = "-30d"
# How far back the variable queries look for sites and rooms.
TAG_LOOKBACK: Final = "-30d"

# Columns the queries make themselves (map/rename), besides the schema's names; the schema
# test accepts these and nothing else that the schema does not define.
COMPUTED_COLUMNS: Final = frozenset({"text", "tags", "lower", "upper", "status"})

# alerts/ values the queries compare with. dashboards/ may not import alerts/ (architecture
# rule), so they are spelled here and tests/test_dashboards_schema.py checks them against
# alerts.models.Change and AlarmState.
CHANGES_RAISED: Final = ("raised", "reraised")
CHANGES_CLEARED: Final = ("cleared", "closed")
STATE_CLOSED: Final = "closed"


def var(name: str) -> str:
    """A variable's value inside a Flux string literal: ``"${site}"``."""
    return '"${' + name + '}"'


def var_set(name: str) -> str:
    """A multi-value variable as a Flux array of strings: ``${site:json}``."""
    return "${" + name + ":json}"


def string_list(values: Iterable[str]) -> str:
    return "[" + ", ".join(f'"{value}"' for value in values) + "]"


def source(start: str = "v.timeRangeStart", stop: str = "v.timeRangeStop") -> str:
    """``from(bucket: …) |> range(…)``; start/stop are Flux expressions."""
    return f"from(bucket: {var(BUCKET_VAR)})\n  |> range(start: {start}, stop: {stop})"


def measurement(name: str, *conditions: str) -> str:
    test = " and ".join((f'r._measurement == "{name}"', *conditions))
    return f"\n  |> filter(fn: (r) => {test})"


def fields(*names: str) -> str:
    test = " or ".join(f'r._field == "{name}"' for name in names)
    return f"\n  |> filter(fn: (r) => {test})"


def in_sites() -> str:
    """The condition "the site is one of the selected" (a multi-value variable)."""
    # exists first: contains() of a missing tag (null) is an error, and "and" short-circuits.
    return f"exists r.{Tag.SITE} and contains(value: r.{Tag.SITE}, set: {var_set(SITE_VAR)})"


def in_rooms() -> str:
    return f"exists r.{Tag.ROOM} and contains(value: r.{Tag.ROOM}, set: {var_set(ROOM_VAR)})"


def is_site() -> str:
    """The condition "the site is the selected one" (a single-value variable)."""
    return f"r.{Tag.SITE} == {var(SITE_VAR)}"


def is_room() -> str:
    return f"r.{Tag.ROOM} == {var(ROOM_VAR)}"


def one_of(column: str, values: Iterable[str]) -> str:
    return "(" + " or ".join(f'r.{column} == "{value}"' for value in values) + ")"


def system_metric(metric: str, *conditions: str) -> str:
    """Lantai's own series: one family of lantai_system, its ``value`` field."""
    return system_metrics((metric,), *conditions)


def system_metrics(metrics: Iterable[str], *conditions: str) -> str:
    """Several families of lantai_system (the ``metric`` tag tells them apart)."""
    return (
        source()
        + measurement(SYSTEM, one_of(Tag.METRIC, metrics), *conditions)
        + fields(SYSTEM_VALUE_FIELD)
    )


def group(*columns: str) -> str:
    return f"\n  |> group(columns: {string_list(columns)})"


def pivot_fields() -> str:
    """One row per point with a column per field (alarm events, door events)."""
    return '\n  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")'


# --- room-class bands ---------------------------------------------------------------------


def class_dict(name: str, values: Mapping[str, float]) -> str:
    """A Flux dictionary ``room class → number``, e.g. each class's lowest temperature."""
    pairs = ", ".join(f'{{key: "{key}", value: {values[key]:.1f}}}' for key in sorted(values))
    return f"{name} = dict.fromList(pairs: [{pairs}])"


def band_dicts(measure: str, lo: str, hi: str) -> str:
    """Flux dictionaries ``lo``/``hi``: each room class's band for temperature or humidity.

    The bands are the built-in room classes of sensors/room_classes.py (JGJ 25-2010 and
    DA/T 87-2021). A facility's own classes and per-room overrides are not in the boards:
    the committed JSON cannot know a deployment's facility file.
    """
    classes = builtin_room_classes()
    lows = {name: getattr(cls.limits, measure).min for name, cls in classes.items()}
    highs = {name: getattr(cls.limits, measure).max for name, cls in classes.items()}
    return class_dict(lo, lows) + "\n" + class_dict(hi, highs)


def known_class() -> str:
    """The condition "the room is of a built-in class": rooms of other classes get no band."""
    classes = string_list(sorted(builtin_room_classes()))
    return f"exists r.{Tag.ROOM_CLASS} and contains(value: r.{Tag.ROOM_CLASS}, set: {classes})"


# --- alarm events -------------------------------------------------------------------------


def latest_alarm_changes(*conditions: str) -> str:
    """The last change of every alarm (one row per alarm_id) within ALARM_LOOKBACK."""
    return (
        source(start=ALARM_LOOKBACK, stop="now()")
        + measurement(ALARM_EVENT, *conditions)
        + pivot_fields()
        + group(AlarmField.ALARM_ID)
        + '\n  |> sort(columns: ["_time"])'
        + '\n  |> last(column: "_time")'
        + f'\n  |> filter(fn: (r) => r.{AlarmField.STATE} != "{STATE_CLOSED}")'
    )


def alarm_annotation(changes: Iterable[str], *conditions: str) -> str:
    """Alarm changes in the time range as annotation rows: time, text (zh / en), tags."""
    return (
        source()
        + measurement(ALARM_EVENT, one_of(Tag.CHANGE, changes), *conditions)
        + fields(AlarmField.MESSAGE_ZH, AlarmField.MESSAGE_EN)
        + pivot_fields()
        + "\n  |> group()"
        + "\n  |> map(fn: (r) => ({"
        + "_time: r._time, "
        + f'text: r.{AlarmField.MESSAGE_ZH} + " / " + r.{AlarmField.MESSAGE_EN}, '
        + f'tags: (if exists r.{Tag.SITE} then r.{Tag.SITE} else "") + ","'
        + f' + (if exists r.{Tag.ROOM} then r.{Tag.ROOM} else "") + ","'
        + f' + (if exists r.{Tag.SEVERITY} then r.{Tag.SEVERITY} else "")'
        + "}))"
    )
