"""Typed builders for the Grafana dashboard JSON model, Grafana 11.4 line.

Plain frozen dataclasses, not grafana-foundation-sdk: the SDK's releases carry an epoch, so
a plain install picks the Grafana 10.1 schema, and it has no InfluxDB/Flux query type. We
emit only what our boards use, in the shape Grafana 11.4 itself saves (schemaVersion 40),
so Grafana runs no dashboard migration when it loads a board.

Every builder has ``to_json()``; the dashboard numbers its panels in order, so ids and
positions are stable and the output is byte-for-byte reproducible.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

# What Grafana 11.3-11.5 write (apps/dashboard/pkg/migration/schemaversion/v40.go in
# grafana/grafana: V40 makes ``refresh`` a string; V41 arrives with Grafana 12).
SCHEMA_VERSION: Final = 40
GRAFANA_VERSION: Final = "11.4.0"  # pluginVersion of the built-in panels we configure

# The data source every panel names; deploy/grafana/provisioning/datasources provisions it.
DATASOURCE_UID: Final = "lantai-influxdb"
DATASOURCE_TYPE: Final = "influxdb"
DATASOURCE: Final[Mapping[str, str]] = {"type": DATASOURCE_TYPE, "uid": DATASOURCE_UID}

Json = dict[str, Any]
GRID_WIDTH: Final = 24  # Grafana's grid is 24 columns wide


class PanelType(StrEnum):
    """The built-in visualisations the boards use."""

    STAT = "stat"
    TIMESERIES = "timeseries"
    TABLE = "table"
    STATE_TIMELINE = "state-timeline"
    TEXT = "text"
    ROW = "row"


class Color(StrEnum):
    """Grafana's named colours, so a board reads like the desk's (red = alarm)."""

    GREEN = "green"
    ORANGE = "orange"
    RED = "red"
    BLUE = "blue"
    PURPLE = "purple"
    TEXT = "text"


@dataclass(frozen=True, slots=True)
class FluxQuery:
    """One InfluxDB Flux target; Grafana interpolates ``${var}`` and ``v.*`` before sending."""

    ref_id: str
    query: str

    def to_json(self) -> Json:
        return {"datasource": dict(DATASOURCE), "query": self.query, "refId": self.ref_id}


@dataclass(frozen=True, slots=True)
class GridPos:
    x: int
    y: int
    w: int
    h: int

    def to_json(self) -> Json:
        return {"h": self.h, "w": self.w, "x": self.x, "y": self.y}


@dataclass(frozen=True, slots=True)
class Threshold:
    """A step: from ``value`` up the colour is ``color`` (the first step has no value)."""

    color: Color
    value: float | None = None

    def to_json(self) -> Json:
        return {"color": str(self.color), "value": self.value}


@dataclass(frozen=True, slots=True)
class ValueText:
    """A value mapping: show ``text`` in ``color`` for the exact value ``value``."""

    value: str
    text: str
    color: Color

    def to_json(self) -> Json:
        return {"color": str(self.color), "index": 0, "text": self.text}


@dataclass(frozen=True, slots=True)
class Override:
    """Field overrides for the series whose name is ``name``."""

    name: str
    properties: Mapping[str, Any]

    def to_json(self) -> Json:
        return {
            "matcher": {"id": "byName", "options": self.name},
            "properties": [{"id": key, "value": value} for key, value in self.properties.items()],
        }


@dataclass(frozen=True, slots=True)
class Panel:
    """A panel; ``options`` and ``custom`` are the type's own settings, as Grafana saves them."""

    type: PanelType
    title: str
    width: int
    height: int
    targets: Sequence[FluxQuery] = ()
    description: str = ""
    unit: str | None = None
    decimals: int | None = None
    min: float | None = None
    max: float | None = None
    display_name: str | None = None
    thresholds: Sequence[Threshold] = (Threshold(Color.GREEN),)
    mappings: Sequence[ValueText] = ()
    overrides: Sequence[Override] = ()
    options: Mapping[str, Any] = field(default_factory=dict)
    custom: Mapping[str, Any] = field(default_factory=dict)
    color_mode: str = "thresholds"
    repeat: str | None = None  # rows only: the variable to repeat the row for

    def to_json(self, panel_id: int, pos: GridPos) -> Json:
        if self.type is PanelType.ROW:
            row: Json = {
                "collapsed": False,
                "gridPos": pos.to_json(),
                "id": panel_id,
                "panels": [],
                "title": self.title,
                "type": str(self.type),
            }
            if self.repeat is not None:
                row["repeat"] = self.repeat
            return row
        defaults: Json = {
            "color": {"mode": self.color_mode},
            "mappings": self._mappings(),
            "thresholds": {
                "mode": "absolute",
                "steps": [step.to_json() for step in self.thresholds],
            },
        }
        if self.custom:
            defaults["custom"] = dict(self.custom)
        for key, value in (
            ("unit", self.unit),
            ("decimals", self.decimals),
            ("min", self.min),
            ("max", self.max),
            ("displayName", self.display_name),
        ):
            if value is not None:
                defaults[key] = value
        panel: Json = {
            "datasource": dict(DATASOURCE),
            "fieldConfig": {
                "defaults": defaults,
                "overrides": [override.to_json() for override in self.overrides],
            },
            "gridPos": pos.to_json(),
            "id": panel_id,
            "options": dict(self.options),
            "pluginVersion": GRAFANA_VERSION,
            "targets": [target.to_json() for target in self.targets],
            "title": self.title,
            "type": str(self.type),
        }
        if self.description:
            panel["description"] = self.description
        return panel

    def _mappings(self) -> list[Json]:
        if not self.mappings:
            return []
        return [
            {
                "options": {mapping.value: mapping.to_json() for mapping in self.mappings},
                "type": "value",
            }
        ]


@dataclass(frozen=True, slots=True)
class ConstantVariable:
    """A hidden dashboard constant, e.g. the bucket the queries read."""

    name: str
    value: str

    def to_json(self) -> Json:
        return {
            "current": {"text": self.value, "value": self.value},
            "hide": 2,
            "name": self.name,
            "query": self.value,
            "skipUrlSync": True,
            "type": "constant",
        }


@dataclass(frozen=True, slots=True)
class QueryVariable:
    """A variable whose choices come from a Flux query (a tag's values)."""

    name: str
    label: str
    query: str
    multi: bool = False
    include_all: bool = False

    def to_json(self) -> Json:
        return {
            "current": {},
            "datasource": dict(DATASOURCE),
            "definition": self.query,
            "includeAll": self.include_all,
            "label": self.label,
            "multi": self.multi,
            "name": self.name,
            "options": [],
            "query": self.query,
            "refresh": 2,  # on time-range change: a new room appears without a reload
            "regex": "",
            "sort": 1,
            "type": "query",
        }


Variable = ConstantVariable | QueryVariable


@dataclass(frozen=True, slots=True)
class Annotation:
    """An annotation query: each row of the Flux result becomes a marker on every panel."""

    name: str
    query: str
    color: Color

    def to_json(self) -> Json:
        return {
            "datasource": dict(DATASOURCE),
            "enable": True,
            "hide": False,
            "iconColor": str(self.color),
            "name": self.name,
            "target": {"query": self.query, "refId": "Anno"},
        }


_GRAFANA_BUILT_IN_ANNOTATIONS: Final[Json] = {
    "builtIn": 1,
    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
    "enable": True,
    "hide": True,
    "iconColor": "rgba(0, 211, 255, 1)",
    "name": "Annotations & Alerts",
    "type": "dashboard",
}


@dataclass(frozen=True, slots=True)
class Dashboard:
    """A whole board. Panels flow left to right in rows of 24 columns, in the order given."""

    uid: str
    title: str
    description: str
    panels: Sequence[Panel]
    variables: Sequence[Variable] = ()
    annotations: Sequence[Annotation] = ()
    tags: Sequence[str] = ("lantai",)
    time_from: str = "now-24h"
    refresh: str = "1m"

    def to_json(self) -> Json:
        return {
            "annotations": {
                "list": [
                    dict(_GRAFANA_BUILT_IN_ANNOTATIONS),
                    *(annotation.to_json() for annotation in self.annotations),
                ]
            },
            "description": self.description,
            "editable": False,  # boards are code: change dashboards/, not the UI
            "fiscalYearStartMonth": 0,
            "graphTooltip": 1,  # shared crosshair: compare rooms at one moment
            "links": [],
            "panels": [
                panel.to_json(panel_id, pos)
                for panel_id, (panel, pos) in enumerate(layout(self.panels), start=1)
            ],
            "preload": False,
            "refresh": self.refresh,
            "schemaVersion": SCHEMA_VERSION,
            "tags": list(self.tags),
            "templating": {"list": [variable.to_json() for variable in self.variables]},
            "time": {"from": self.time_from, "to": "now"},
            "timepicker": {},
            "timezone": "browser",
            "title": self.title,
            "uid": self.uid,
            "version": 1,
            "weekStart": "",
        }


def layout(panels: Sequence[Panel]) -> list[tuple[Panel, GridPos]]:
    """Place panels left to right; a panel that does not fit, or a row, starts a new line."""
    placed: list[tuple[Panel, GridPos]] = []
    x = y = line_height = 0
    for panel in panels:
        if not 0 < panel.width <= GRID_WIDTH:
            raise ValueError(f"panel {panel.title!r}: width {panel.width} is not 1-{GRID_WIDTH}")
        if panel.type is PanelType.ROW or x + panel.width > GRID_WIDTH:
            x, y, line_height = 0, y + line_height, 0
        placed.append((panel, GridPos(x=x, y=y, w=panel.width, h=panel.height)))
        x += panel.width
        line_height = max(line_height, panel.height)
        if panel.type is PanelType.ROW:
            x, y, line_height = 0, y + panel.height, 0
    return placed
