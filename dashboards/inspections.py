"""Inspections: today's tasks done, late, missed and open; open hazards; per site.

Read from Lantai's own samples in lantai_system (lantai/metrics.py writes them): the
inspection ledger lives in the state database, which Grafana does not query.
"""

from __future__ import annotations

from typing import Any, Final

from collectors.influx_schema import SystemLabel, SystemMetric
from dashboards import flux
from dashboards.common import alarm_annotations, bucket_variable, site_variable
from dashboards.model import Color, Dashboard, FluxQuery, Override, Panel, PanelType, Threshold

UID: Final = "lantai-inspections"

# inspections.models.TaskStatus values and the colour each shows in (checked by a test).
STATUS_COLORS: Final = {
    "done": Color.GREEN,
    "open": Color.BLUE,
    "late": Color.ORANGE,
    "missed": Color.RED,
}

_STAT: Final[dict[str, Any]] = {
    "colorMode": "value",
    "graphMode": "area",
    "justifyMode": "auto",
    "orientation": "auto",
    "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
    "showPercentChange": False,
    "textMode": "value_and_name",
    "wideLayout": True,
}
_TIMESERIES: Final[dict[str, Any]] = {
    "legend": {"calcs": [], "displayMode": "list", "placement": "bottom", "showLegend": True},
    "tooltip": {"mode": "multi", "sort": "none"},
}


def tasks_query() -> str:
    """Today's task counts per status, summed over the selected sites, a column each.

    Windowed with the timestamps on the window edges, so the sites' points line up for
    the sum; the stat panels show the last window.
    """
    return (
        flux.system_metric(SystemMetric.INSPECTION_TASKS, flux.in_sites())
        + flux.group(SystemLabel.SITE, SystemLabel.STATUS)
        + "\n  |> aggregateWindow(every: v.windowPeriod, fn: last, createEmpty: false)"
        + flux.group("_time", SystemLabel.STATUS)
        + "\n  |> sum()"
        + "\n  |> group()"
        + f'\n  |> pivot(rowKey: ["_time"], columnKey: ["{SystemLabel.STATUS}"], '
        + 'valueColumn: "_value")'
    )


def hazards_query() -> str:
    """Open hazards per site, a column per site."""
    return (
        flux.system_metric(SystemMetric.HAZARDS_OPEN, flux.in_sites())
        + flux.group(SystemLabel.SITE)
        + "\n  |> aggregateWindow(every: v.windowPeriod, fn: last, createEmpty: false)"
        + "\n  |> group()"
        + f'\n  |> pivot(rowKey: ["_time"], columnKey: ["{SystemLabel.SITE}"], '
        + 'valueColumn: "_value")'
    )


def _status_overrides() -> tuple[Override, ...]:
    return tuple(
        Override(name=status, properties={"color": {"fixedColor": str(color), "mode": "fixed"}})
        for status, color in STATUS_COLORS.items()
    )


def build(bucket: str = flux.DEFAULT_BUCKET) -> Dashboard:
    panels = (
        Panel(
            type=PanelType.STAT,
            title="Today's tasks 今日巡检任务",
            description="Tasks of each site's calendar day by status: done in their "
            "window, late (signed after it), missed (window closed unsigned), open.",
            width=12,
            height=6,
            targets=(FluxQuery("A", tasks_query()),),
            decimals=0,
            overrides=_status_overrides(),
            options=_STAT,
        ),
        Panel(
            type=PanelType.STAT,
            title="Open hazards 未整改隐患",
            description="Hazards found and not yet accepted after rectification, per site.",
            width=12,
            height=6,
            targets=(FluxQuery("A", hazards_query()),),
            decimals=0,
            thresholds=(Threshold(Color.GREEN), Threshold(Color.ORANGE, 1)),
            options=_STAT,
        ),
        Panel(
            type=PanelType.TIMESERIES,
            title="Tasks by status 任务状态",
            width=12,
            height=8,
            targets=(FluxQuery("A", tasks_query()),),
            decimals=0,
            min=0,
            color_mode="palette-classic",
            custom={"drawStyle": "line", "fillOpacity": 10, "lineWidth": 1, "spanNulls": True},
            overrides=_status_overrides(),
            options=_TIMESERIES,
        ),
        Panel(
            type=PanelType.TIMESERIES,
            title="Open hazards over time 隐患趋势",
            width=12,
            height=8,
            targets=(FluxQuery("A", hazards_query()),),
            decimals=0,
            min=0,
            color_mode="palette-classic",
            custom={"drawStyle": "line", "fillOpacity": 10, "lineWidth": 1, "spanNulls": True},
            options=_TIMESERIES,
        ),
    )
    return Dashboard(
        uid=UID,
        title="Lantai · Inspections 巡检",
        description="Today's inspection tasks and open hazards per site.",
        panels=panels,
        variables=(bucket_variable(bucket), site_variable(multi=True)),
        annotations=alarm_annotations(flux.in_sites()),
        time_from="now-7d",
        refresh="5m",
    )
