"""InfluxDB line protocol for what Lantai writes: readings, room metrics, alarm events and
its own metrics.

Names come from ``collectors.influx_schema`` only. Lines are built with plain string
operations, not influxdb-client's ``Point`` (which costs several times as much): the
forwarder encodes up to 20,000 readings a second on one of two cores. A reading's tag set
depends only on where its sensor hangs, so it is escaped once per sensor and cached.

Escaping (InfluxDB's line protocol reference): in tag keys, tag values and field keys a
comma, an equals sign and a space get a backslash; in string field values a double quote
and a backslash do. Line protocol has no newline inside a value, so one becomes a space.
A tag with no value is left out (an alarm without a room has no ``room`` tag).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from collectors import influx_schema as schema
from sensors.clock import to_ns
from sensors.events import MetricSample
from sensors.facility import Facility

# InfluxDB keeps timestamps as signed 64-bit nanoseconds: 1677-09-21 to 2262-04-11. The
# payload validation already refuses sensor times outside 2000-2100; this guards the rest
# (a clock handed to the system samples, an alarm's stored time).
MIN_NS = -(2**63)
MAX_NS = 2**63 - 1

_TAG_ESCAPES = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", "\n": r"\ ", "\r": r"\ "})
_FLOAT, _BOOL, _STRING = 0, 1, 2
# The type each reading field is written as: numbers always as floats (a field's type is
# fixed per shard, so a sensor sending 21 and then 21.5 must not collide).
_READING_FIELD_TYPES: dict[str, int] = {
    name: (
        _BOOL
        if name in schema.READING_BOOL_FIELDS
        else _STRING
        if name in schema.READING_STRING_FIELDS
        else _FLOAT
    )
    for name in schema.READING_FIELDS
}


def escape_tag(text: str) -> str:
    """A tag key, tag value or field key, escaped."""
    return text.translate(_TAG_ESCAPES)


def quote_string(text: str) -> str:
    """A string field value, quoted and escaped."""
    cleaned = text.replace("\\", "\\\\").replace('"', '\\"')
    if "\n" in cleaned or "\r" in cleaned:
        cleaned = cleaned.replace("\r\n", " ").replace("\n", " ").replace("\r", " ")
    return f'"{cleaned}"'


def check_ns(ns: int) -> int:
    """Refuse a timestamp InfluxDB cannot store (outside int64 nanoseconds)."""
    if not MIN_NS <= ns <= MAX_NS:
        raise ValueError(f"timestamp {ns} ns is outside InfluxDB's range (1677-2262)")
    return ns


def _tags(pairs: Sequence[tuple[str, str | None]]) -> str:
    """``,key=value`` for each pair that has a value."""
    return "".join(f",{escape_tag(k)}={escape_tag(v)}" for k, v in pairs if v)


@dataclass(frozen=True, slots=True)
class AlarmPoint:
    """One alarm change as the ``alarm_event`` measurement keeps it.

    A plain record so that ``collectors`` need not know the alerts package (architecture.md);
    ``lantai.influx_alarms`` fills it from an ``AlarmChange``.
    """

    at: datetime
    site: str
    room: str | None
    sensor: str | None
    rule: str
    category: str
    severity: str
    change: str
    alarm_id: int
    state: str
    message_zh: str
    message_en: str
    value: str | None = None
    by: str | None = None


class LineEncoder:
    """Builds line-protocol lines; knows the facility to tag readings with their place."""

    def __init__(self, facility: Facility) -> None:
        self._facility = facility
        self._prefixes: dict[tuple[str, str, str], str] = {}

    def reading(self, site: str, sensor: str, room: str, ts_ns: int, payload: str) -> str | None:
        """A stored reading (its payload as the JSON text the store keeps) as one line, or
        None when it carries no measurement (a bare heartbeat has nothing to chart)."""
        key = (site, sensor, room)
        prefix = self._prefixes.get(key)
        if prefix is None:
            prefix = self._prefixes[key] = self._reading_prefix(site, sensor, room)
        fields = []
        types = _READING_FIELD_TYPES
        values: dict[str, Any] = json.loads(payload)
        for name, value in values.items():
            kind = types.get(name)
            if kind is None or value is None:
                continue  # ts, seq and unknown keys are not measurements
            if kind == _FLOAT:
                fields.append(f"{name}={float(value)!r}")
            elif kind == _BOOL:
                fields.append(f"{name}=true" if value else f"{name}=false")
            else:
                fields.append(f"{name}={quote_string(str(value))}")
        if not fields:
            return None
        if not 0 <= ts_ns <= MAX_NS:
            check_ns(ts_ns)
        return f"{prefix} {','.join(fields)} {ts_ns}"

    def _reading_prefix(self, site: str, sensor: str, room: str) -> str:
        """The measurement and tags of a sensor's readings. A reading stored under a room or
        sensor the facility no longer has keeps the tags the store knows (site, room, sensor)."""
        info = self._facility.sensor(site, sensor)
        place = self._facility.room(site, room)
        return schema.READING + _tags(
            (
                (schema.Tag.SITE, site),
                (schema.Tag.BUILDING, place.building if place else None),
                (schema.Tag.FLOOR, place.floor if place else None),
                (schema.Tag.ROOM, room),
                (schema.Tag.ROOM_CLASS, place.room_class if place else None),
                (schema.Tag.SENSOR, sensor),
                (schema.Tag.KIND, info.kind.value if info else None),
            )
        )

    def room_metrics(self, sample: MetricSample) -> str | None:
        """The rules' computed room figures as one line (None when it has no value)."""
        place = self._facility.room(sample.site, sample.room)
        tags = _tags(
            (
                (schema.Tag.SITE, sample.site),
                (schema.Tag.BUILDING, place.building if place else None),
                (schema.Tag.FLOOR, place.floor if place else None),
                (schema.Tag.ROOM, sample.room),
                (schema.Tag.ROOM_CLASS, place.room_class if place else None),
            )
        )
        fields = ",".join(
            f"{escape_tag(name)}={float(value)!r}"
            for name, value in sample.values
            if math.isfinite(value)  # line protocol has no NaN or infinity
        )
        if not fields:
            return None
        return f"{schema.ROOM_METRICS}{tags} {fields} {check_ns(to_ns(sample.at))}"

    @staticmethod
    def alarm(point: AlarmPoint) -> str:
        """One alarm change as an ``alarm_event`` line."""
        tags = _tags(
            (
                (schema.Tag.SITE, point.site),
                (schema.Tag.ROOM, point.room),
                (schema.Tag.SENSOR, point.sensor),
                (schema.Tag.RULE, point.rule),
                (schema.Tag.CATEGORY, point.category),
                (schema.Tag.SEVERITY, point.severity),
                (schema.Tag.CHANGE, point.change),
            )
        )
        f = schema.AlarmField
        fields = [
            f"{f.ALARM_ID}={point.alarm_id}i",
            f"{f.STATE}={quote_string(point.state)}",
            f"{f.MESSAGE_ZH}={quote_string(point.message_zh)}",
            f"{f.MESSAGE_EN}={quote_string(point.message_en)}",
        ]
        if point.value is not None:
            fields.append(f"{f.VALUE}={quote_string(point.value)}")
        if point.by is not None:
            fields.append(f"{f.BY}={quote_string(point.by)}")
        return f"{schema.ALARM_EVENT}{tags} {','.join(fields)} {check_ns(to_ns(point.at))}"

    @staticmethod
    def system(samples: Sequence[schema.SystemSample], at: datetime) -> list[str]:
        """Lantai's own numbers, one ``lantai_system`` line per (family, labels)."""
        ns = check_ns(to_ns(at))
        lines = []
        for sample in samples:
            # Tags sorted by key, as InfluxDB prefers; the family first, as it always is.
            tags = _tags(((schema.Tag.METRIC, sample.metric), *sorted(sample.labels)))
            value = float(sample.value)
            if not math.isfinite(value):
                continue  # line protocol has no NaN or infinity; a gauge skips a beat
            lines.append(f"{schema.SYSTEM}{tags} {schema.SYSTEM_VALUE_FIELD}={value!r} {ns}")
        return lines
