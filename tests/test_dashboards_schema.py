"""Every Flux query on every board names only what the InfluxDB sink writes.

The queries are read as text (the JSON Grafana gets), and every measurement, field and
column they name is looked up in collectors/influx_schema.py for the measurements the
query reads: a board asking for ``r._field == "temprature"`` would show an empty panel in
production, and fails here instead. The values the queries compare with (alarm changes
and states, metric families, task statuses) are checked against their owners' enums.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest

from alerts.models import AlarmState, Change
from collectors import influx_schema as schema
from collectors.influx_schema import SystemLabel, Tag
from dashboards import build, flux, inspections
from inspections.models import TaskStatus
from rules.preservation_mold import MOLD_INDEX_MAX

# measurement → (tags, fields)
SCHEMA: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    schema.READING: (frozenset(schema.READING_TAGS), frozenset(schema.READING_FIELDS)),
    schema.ROOM_METRICS: (frozenset(schema.ROOM_TAGS), frozenset(schema.ROOM_METRIC_FIELDS)),
    schema.ALARM_EVENT: (frozenset(schema.ALARM_TAGS), frozenset(schema.ALARM_FIELDS)),
    schema.SYSTEM: (
        frozenset(
            {Tag.METRIC} | {v for k, v in vars(SystemLabel).items() if not k.startswith("_")}
        ),
        frozenset({schema.SYSTEM_VALUE_FIELD}),
    ),
}
# Columns InfluxDB adds to every table.
BUILTIN = frozenset({"_time", "_value", "_field", "_measurement", "_start", "_stop"})

_MEASUREMENT = re.compile(r'(?:r\._measurement ==|measurement:) "([^"]*)"')
_FIELD = re.compile(r'r\._field == "([^"]*)"')
_COLUMN = re.compile(r'(?<![\w.])r\.(\w+)|(?<![\w.])r\["([^"]+)"\]')
_NAMED = re.compile(r'(?:column|valueColumn|tag): "([^"]*)"')
_LISTED = re.compile(r"(?:columns|columnKey|rowKey): \[([^\]]*)\]")
_COMPARED = re.compile(r'(?<![\w.])r\.(\w+) [!=]= "([^"$]*)"')
# Which values a compared column may hold, where the schema's owners define them.
VALUES: dict[str, frozenset[str]] = {
    Tag.METRIC: frozenset(schema.SYSTEM_METRICS),
    Tag.CHANGE: frozenset(Change),
    schema.AlarmField.STATE: frozenset(AlarmState),
}


def problems(query: str) -> list[str]:
    """What in ``query`` the schema does not define; empty when it is all known."""
    measurements = set(_MEASUREMENT.findall(query))
    if not measurements:
        return ["the query names no measurement"]
    found = [f"unknown measurement {m!r}" for m in sorted(measurements - set(SCHEMA))]
    tags: set[str] = set()
    fields: set[str] = set()
    for name in measurements & set(SCHEMA):
        tags |= SCHEMA[name][0]
        fields |= SCHEMA[name][1]
    found += [f"unknown field {f!r}" for f in _FIELD.findall(query) if f not in fields]
    columns = {a or b for a, b in _COLUMN.findall(query)}
    columns |= set(_NAMED.findall(query))
    for listed in _LISTED.findall(query):
        columns |= set(re.findall(r'"([^"]*)"', listed))
    known = tags | fields | BUILTIN | flux.COMPUTED_COLUMNS
    found += [f"unknown column {c!r}" for c in sorted(columns - known)]
    for column, value in _COMPARED.findall(query):
        if column in VALUES and value not in VALUES[column]:
            found.append(f"unknown {column} value {value!r}")
    return found


def _flux_queries(node: object, where: str = "") -> Iterator[tuple[str, str]]:
    """(where, query) for every Flux text in a board: targets, variables, annotations."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "query" and isinstance(value, str) and "(" in value:
                yield where, value
            else:
                yield from _flux_queries(value, f"{where}.{key}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _flux_queries(item, f"{where}[{index}]")


def _all_queries() -> list[tuple[str, str]]:
    out = []
    for name, text in sorted(build.rendered().items()):
        out += [(f"{name}{where}", query) for where, query in _flux_queries(json.loads(text))]
    return out


def test_the_boards_have_queries_for_every_measurement() -> None:
    queries = _all_queries()
    assert len(queries) >= 30
    named = set()
    for _, query in queries:
        named |= set(_MEASUREMENT.findall(query))
    assert named == set(SCHEMA)


@pytest.mark.parametrize(("where", "query"), _all_queries(), ids=lambda v: str(v)[:60])
def test_a_board_query_names_only_schema_names(where: str, query: str) -> None:
    assert problems(query) == [], where


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ('from(bucket: "x") |> filter(fn: (r) => r._field == "temperature")', "no measurement"),
        ('filter(fn: (r) => r._measurement == "readings")', "unknown measurement 'readings'"),
        (
            'filter(fn: (r) => r._measurement == "reading" and r._field == "temprature")',
            "unknown field 'temprature'",
        ),
        (
            'filter(fn: (r) => r._measurement == "reading" and r.roomclass == "${x}")',
            "unknown column 'roomclass'",
        ),
        ('r._measurement == "reading" |> group(columns: ["site", "rom"])', "unknown column 'rom'"),
        ('r._measurement == "room_metrics" and r["dewpoint"] > 1.0', "unknown column 'dewpoint'"),
        (
            'r._measurement == "room_metrics" and r._field == "smoke"',  # a reading field
            "unknown field 'smoke'",
        ),
        ('r._measurement == "lantai_system" and r.metric == "ingest_total"', "metric value"),
        ('r._measurement == "alarm_event" and r.change == "raise"', "change value 'raise'"),
        ('r._measurement == "alarm_event" and r.state != "close"', "state value 'close'"),
    ],
)
def test_the_check_catches_a_name_the_schema_lacks(query: str, problem: str) -> None:
    found = problems(query)
    assert len(found) == 1
    assert problem in found[0]


def test_the_values_the_boards_spell_are_their_owners_values() -> None:
    # dashboards/ may not import alerts/ or inspections/, so it spells these; here they meet.
    assert set(flux.CHANGES_RAISED) | set(flux.CHANGES_CLEARED) <= set(Change)
    assert AlarmState.CLOSED.value == flux.STATE_CLOSED
    assert set(inspections.STATUS_COLORS) == set(TaskStatus)
    desk = json.loads(build.rendered()["lantai-desk.json"])
    state_column = next(
        override
        for panel in desk["panels"]
        for override in panel["fieldConfig"]["overrides"]
        if override["matcher"]["options"] == schema.AlarmField.STATE
    )
    (mapping,) = state_column["properties"][1]["value"]
    assert set(mapping["options"]) == {s.value for s in AlarmState if s.open}


def test_the_mold_scale_is_the_rules_scale() -> None:
    from dashboards.environment import MOLD_FULL  # noqa: PLC0415

    assert MOLD_FULL == MOLD_INDEX_MAX


def test_the_reading_fields_the_boards_pick_are_reading_fields() -> None:
    picked = {v for k, v in vars(schema.ReadingField).items() if not k.startswith("_")}
    assert len(picked) == 6
    assert picked <= set(schema.READING_FIELDS)
