"""System health: ingest rate, quarantine by reason, spool, notifications, MQTT, lag.

Lantai's own figures, the families /metrics serves, as lantai/metrics.py writes them to the
lantai_system measurement (family in the ``metric`` tag, labels as tags, number in
``value``). Counters are cumulative, so panels show their rate or per-interval increase;
``nonNegative`` drops the step down when a process restarts and its counters begin at 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from collectors.influx_schema import SystemLabel, SystemMetric, Tag
from dashboards import flux
from dashboards.common import alarm_annotations, bucket_variable
from dashboards.model import Color, Dashboard, FluxQuery, Panel, PanelType, Threshold, ValueText

UID: Final = "lantai-system"

_TIMESERIES: Final[dict[str, Any]] = {
    "legend": {"calcs": [], "displayMode": "list", "placement": "bottom", "showLegend": True},
    "tooltip": {"mode": "multi", "sort": "none"},
}
_WINDOW_LAST: Final = "\n  |> aggregateWindow(every: v.windowPeriod, fn: last, createEmpty: false)"


def _wide(columns: Sequence[str]) -> str:
    """One table, a column per series: stable names for the legend and overrides."""
    return (
        "\n  |> group()"
        f'\n  |> pivot(rowKey: ["_time"], columnKey: {flux.string_list(columns)}, '
        'valueColumn: "_value")'
    )


def rate_query(metrics: Sequence[str]) -> str:
    """Per-second rate of counters, a column per family."""
    return (
        flux.system_metrics(metrics)
        + flux.group(Tag.METRIC)
        + _WINDOW_LAST
        + "\n  |> derivative(unit: 1s, nonNegative: true)"
        + _wide((Tag.METRIC,))
    )


def increase_query(metric: str, labels: Sequence[str]) -> str:
    """How much a counter grew in each interval, a column per label combination."""
    return (
        flux.system_metric(metric)
        + flux.group(*labels)
        + _WINDOW_LAST
        + "\n  |> difference(nonNegative: true)"
        + _wide(labels)
    )


def gauge_query(metrics: Sequence[str]) -> str:
    """Gauges (and counters shown as totals), a column per family."""
    return (
        flux.system_metrics(metrics) + flux.group(Tag.METRIC) + _WINDOW_LAST + _wide((Tag.METRIC,))
    )


def alarms_open_query() -> str:
    """Open alarms per severity, summed over the sites."""
    return (
        flux.system_metric(SystemMetric.ALARMS_OPEN)
        + flux.group(SystemLabel.SITE, SystemLabel.SEVERITY)
        + _WINDOW_LAST
        + flux.group("_time", SystemLabel.SEVERITY)
        + "\n  |> sum()"
        + _wide((SystemLabel.SEVERITY,))
    )


def _series(title: str, query: str, unit: str, description: str, *, bars: bool = False) -> Panel:
    style = {"drawStyle": "bars", "fillOpacity": 60} if bars else {"drawStyle": "line"}
    return Panel(
        type=PanelType.TIMESERIES,
        title=title,
        description=description,
        width=12,
        height=8,
        targets=(FluxQuery("A", query),),
        unit=unit,
        min=0,
        color_mode="palette-classic",
        custom={"fillOpacity": 10, "lineWidth": 1, "spanNulls": True, **style},
        options=_TIMESERIES,
    )


def build(bucket: str = flux.DEFAULT_BUCKET) -> Dashboard:
    panels = (
        _series(
            "Ingest rate 接收速率",
            rate_query((SystemMetric.INGEST_RECEIVED, SystemMetric.INGEST_STORED)),
            "reqps",
            "Messages received from MQTT and readings stored, per second.",
        ),
        _series(
            "Quarantine by reason 隔离原因",
            increase_query(SystemMetric.INGEST_QUARANTINED, (SystemLabel.REASON,)),
            "short",
            "Messages refused and kept for inspection, per interval, by reason.",
            bars=True,
        ),
        _series(
            "InfluxDB spool 写入缓冲",
            gauge_query((SystemMetric.SPOOL_DEPTH, SystemMetric.SPOOL_DROPPED)),
            "short",
            "Points waiting on disk for InfluxDB, and the total dropped by the full-spool "
            "policy (should stay 0).",
        ),
        _series(
            "InfluxDB writes 写入结果",
            increase_query(SystemMetric.INFLUX_WRITES, (SystemLabel.OUTCOME,)),
            "short",
            "Write requests per interval by outcome (ok, retry, failed).",
            bars=True,
        ),
        _series(
            "Notifications 通知结果",
            increase_query(SystemMetric.NOTIFICATIONS, (SystemLabel.CHANNEL, SystemLabel.OUTCOME)),
            "short",
            "Notifications per interval by channel and outcome.",
            bars=True,
        ),
        _series(
            "Open alarms 未关闭报警",
            alarms_open_query(),
            "short",
            "Open alarms by severity, all sites.",
        ),
        Panel(
            type=PanelType.STATE_TIMELINE,
            title="MQTT connection 消息总线连接",
            description="Whether the collector is connected to the broker.",
            width=12,
            height=5,
            targets=(FluxQuery("A", gauge_query((SystemMetric.MQTT_CONNECTED,))),),
            mappings=(
                ValueText("1", "connected 已连接", Color.GREEN),
                ValueText("0", "disconnected 断开", Color.RED),
            ),
            thresholds=(Threshold(Color.RED), Threshold(Color.GREEN, 1)),
            options={
                "alignValue": "left",
                "legend": {"displayMode": "list", "placement": "bottom", "showLegend": False},
                "mergeValues": True,
                "rowHeight": 0.9,
                "showValue": "never",
                "tooltip": {"mode": "single", "sort": "none"},
            },
        ),
        _series(
            "Ingest lag 写入延迟",
            gauge_query((SystemMetric.INGEST_LAG_SECONDS,)),
            "s",
            "Time since the newest write to the store.",
        ),
        _series(
            "Queues 队列",
            gauge_query((SystemMetric.INGEST_BACKLOG, SystemMetric.OUTBOX_PENDING)),
            "short",
            "Messages received and not yet written; notifications waiting in the outbox.",
        ),
        _series(
            "Rule evaluations 规则评估",
            rate_query((SystemMetric.RULE_EVALUATIONS, SystemMetric.STORE_WRITE_RETRIES)),
            "ops",
            "Rule evaluations per second, and store write retries per second.",
        ),
    )
    return Dashboard(
        uid=UID,
        title="Lantai · System health 系统健康",
        description="Lantai's own figures: ingest, quarantine, InfluxDB spool, "
        "notifications, MQTT.",
        panels=panels,
        variables=(bucket_variable(bucket),),
        annotations=alarm_annotations(),
        time_from="now-24h",
        refresh="1m",
    )
