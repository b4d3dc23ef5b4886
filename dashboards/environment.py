"""Stack environment: per room T and RH against the class band, swing, dew point, PI, mold.

One site at a time, a row per selected room (Grafana repeats the row for every value of
``room``), so each room's panels show that room alone and its band lines are its class's.
"""

from __future__ import annotations

from typing import Any, Final

from collectors.influx_schema import READING, ROOM_METRICS, ReadingField, RoomMetric, Tag
from dashboards import flux
from dashboards.common import alarm_annotations, bucket_variable, room_variable, site_variable
from dashboards.model import Color, Dashboard, FluxQuery, Override, Panel, PanelType, Threshold
from sensors.room_classes import ClimateLimits

UID: Final = "lantai-environment"

# The day-night swing limit is peak to peak, twice the "±x" of JGJ 25-2010 §5.2.3 (the
# reading rules/fluctuation.py applies); every built-in class keeps the default ±x.
_SWING_DEFAULTS = ClimateLimits.model_fields
TEMPERATURE_SWING_LIMIT: Final = 2 * float(_SWING_DEFAULTS["temperature_swing"].default)
HUMIDITY_SWING_LIMIT: Final = 2 * float(_SWING_DEFAULTS["humidity_swing"].default)
# rules/preservation_mold.py: 1.0 means germination is expected; half-way is a warning.
MOLD_WARN: Final = 0.5
MOLD_FULL: Final = 1.0

_TIMESERIES: Final[dict[str, Any]] = {
    "legend": {"calcs": [], "displayMode": "list", "placement": "bottom", "showLegend": True},
    "tooltip": {"mode": "multi", "sort": "none"},
}


def _line(fill: int = 0) -> dict[str, Any]:
    # spanNulls: the pivoted frame has a row per time, so one series' gaps are others' rows.
    return {"drawStyle": "line", "fillOpacity": fill, "lineWidth": 1, "spanNulls": True}


def _room_readings(field: str) -> str:
    return (
        flux.source()
        + flux.measurement(READING, flux.is_site(), flux.is_room())
        + flux.fields(field)
    )


def climate_query(field: str) -> str:
    """Every sensor's ``field`` in the room, a column per sensor, plus the class band.

    The band is two rows (range start and stop) with columns ``lower`` and ``upper`` from
    the room class of the room's readings.
    """
    return (
        'import "dict"\n\n'
        + flux.band_dicts(field, "lo", "hi")
        + "\n\ndata = "
        + _room_readings(field)
        + "\n\nsensors = data"
        + flux.group(Tag.SENSOR)
        + "\n  |> aggregateWindow(every: v.windowPeriod, fn: mean, createEmpty: false)"
        + "\n  |> group()"
        + f'\n  |> pivot(rowKey: ["_time"], columnKey: ["{Tag.SENSOR}"], valueColumn: "_value")'
        + "\n\nband = data"
        + f"\n  |> filter(fn: (r) => {flux.known_class()})"
        + "\n  |> first()"
        + "\n  |> group()"
        + "\n  |> first()"
        + "\n  |> map(fn: (r) => ({"
        + f"lower: dict.get(dict: lo, key: r.{Tag.ROOM_CLASS}, default: 0.0), "
        + f"upper: dict.get(dict: hi, key: r.{Tag.ROOM_CLASS}, default: 0.0)"
        + "}))"
        + "\n\nunion(tables: ["
        + "sensors, "
        + "band |> map(fn: (r) => ({r with _time: v.timeRangeStart})), "
        + "band |> map(fn: (r) => ({r with _time: v.timeRangeStop}))"
        + "])"
        + '\n  |> sort(columns: ["_time"])'
    )


def swing_query(field: str) -> str:
    """Max − min of ``field`` per sensor per day."""
    return (
        _room_readings(field)
        + flux.group(Tag.SENSOR)
        + "\n  |> aggregateWindow(every: 1d, fn: spread, createEmpty: false)"
        + "\n  |> group()"
        + f'\n  |> pivot(rowKey: ["_time"], columnKey: ["{Tag.SENSOR}"], valueColumn: "_value")'
    )


def room_metrics_query(*names: str) -> str:
    """The preservation rule's room figures, a column per figure."""
    return (
        flux.source()
        + flux.measurement(ROOM_METRICS, flux.is_site(), flux.is_room())
        + flux.fields(*names)
        + flux.group("_field")
        + "\n  |> aggregateWindow(every: v.windowPeriod, fn: mean, createEmpty: false)"
        + "\n  |> group()"
        + '\n  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")'
    )


def _band_overrides() -> tuple[Override, Override]:
    style = {
        "color": {"fixedColor": str(Color.RED), "mode": "fixed"},
        "custom.lineStyle": {"dash": [10, 10], "fill": "dash"},
    }
    return (
        Override(name="lower", properties={"displayName": "Band min 下限", **style}),
        Override(name="upper", properties={"displayName": "Band max 上限", **style}),
    )


def _climate_panel(title: str, field: str, unit: str) -> Panel:
    return Panel(
        type=PanelType.TIMESERIES,
        title=title,
        description="Each sensor in the room (mean per interval) and the room class's band.",
        width=12,
        height=8,
        targets=(FluxQuery("A", climate_query(field)),),
        unit=unit,
        decimals=1,
        color_mode="palette-classic",
        custom=_line(),
        overrides=_band_overrides(),
        options=_TIMESERIES,
    )


def _swing_panel(title: str, field: str, unit: str, limit: float) -> Panel:
    return Panel(
        type=PanelType.TIMESERIES,
        title=title,
        description=f"Max − min per sensor per day; the line is the limit ({limit:g} {unit} "
        "peak to peak, JGJ 25-2010 §5.2.3).",
        width=6,
        height=7,
        targets=(FluxQuery("A", swing_query(field)),),
        unit=unit,
        decimals=1,
        min=0,
        color_mode="palette-classic",
        custom={
            "drawStyle": "bars",
            "fillOpacity": 60,
            "lineWidth": 1,
            "thresholdsStyle": {"mode": "line"},
        },
        thresholds=(Threshold(Color.GREEN), Threshold(Color.RED, limit)),
        options=_TIMESERIES,
    )


def _metrics_panel(
    title: str, names: tuple[str, ...], unit: str, width: int, description: str
) -> Panel:
    return Panel(
        type=PanelType.TIMESERIES,
        title=title,
        description=description,
        width=width,
        height=7,
        targets=(FluxQuery("A", room_metrics_query(*names)),),
        unit=unit,
        decimals=1,
        color_mode="palette-classic",
        custom=_line(),
        options=_TIMESERIES,
    )


def build(bucket: str = flux.DEFAULT_BUCKET) -> Dashboard:
    mold = Panel(
        type=PanelType.TIMESERIES,
        title="Mold risk 霉菌风险",
        description="Share of the time to mold germination used up (1 = germination "
        "expected; rules/preservation_mold.py).",
        width=6,
        height=7,
        targets=(FluxQuery("A", room_metrics_query(RoomMetric.MOLD_INDEX)),),
        unit="percentunit",
        min=0,
        max=MOLD_FULL,
        color_mode="thresholds",
        custom={**_line(fill=20), "thresholdsStyle": {"mode": "line+area"}},
        thresholds=(
            Threshold(Color.GREEN),
            Threshold(Color.ORANGE, MOLD_WARN),
            Threshold(Color.RED, MOLD_FULL),
        ),
        options=_TIMESERIES,
    )
    panels = (
        Panel(type=PanelType.ROW, title="$room", width=24, height=1, repeat=flux.ROOM_VAR),
        _climate_panel("Temperature 温度", ReadingField.TEMPERATURE, "celsius"),
        _climate_panel("Relative humidity 相对湿度", ReadingField.HUMIDITY, "humidity"),
        _swing_panel(
            "Day–night swing, T 温度日较差",
            ReadingField.TEMPERATURE,
            "celsius",
            TEMPERATURE_SWING_LIMIT,
        ),
        _swing_panel(
            "Day–night swing, RH 湿度日较差",
            ReadingField.HUMIDITY,
            "humidity",
            HUMIDITY_SWING_LIMIT,
        ),
        _metrics_panel(
            "Dew point 露点",
            (RoomMetric.DEW_POINT, RoomMetric.TEMPERATURE),
            "celsius",
            6,
            "The room's dew point beside its air temperature: a wall or a box colder "
            "than the dew point condenses.",
        ),
        mold,
        _metrics_panel(
            "Preservation index 保存指数 (years 年)",
            (RoomMetric.PI, RoomMetric.TWPI),
            "none",
            12,
            "PI now and time-weighted PI (TWPI, needs 7 days): expected years to "
            "noticeable chemical decay at these conditions.",
        ),
        _metrics_panel(
            "Equilibrium moisture content 平衡含水率",
            (RoomMetric.EMC,),
            "percent",
            12,
            "The moisture content paper settles at in this air (mechanical damage risk "
            "when too low or too high).",
        ),
    )
    return Dashboard(
        uid=UID,
        title="Lantai · Stack environment 库房环境",
        description="Temperature and humidity per room against the class band, "
        "day–night swing, dew point, preservation index and mold risk.",
        panels=panels,
        variables=(bucket_variable(bucket), site_variable(multi=False), room_variable()),
        annotations=alarm_annotations(flux.is_site(), flux.in_rooms()),
        time_from="now-7d",
        refresh="5m",
    )
