"""Security desk overview: room status grid, active alarms, door events, sensors offline."""

from __future__ import annotations

from typing import Final

from collectors.influx_schema import READING, AlarmField, ReadingField, Tag
from dashboards import flux
from dashboards.common import alarm_annotations, bucket_variable, site_variable
from dashboards.model import (
    Color,
    Dashboard,
    FluxQuery,
    Override,
    Panel,
    PanelType,
    Threshold,
    ValueText,
)

UID: Final = "lantai-desk"
# A sensor silent this long is listed as offline. The rules' silence check is per sensor
# (3 x its reporting interval); the board needs one figure, so it takes a generous one.
OFFLINE_AFTER: Final = "15m"
# A room's climate status looks at readings this recent.
STATUS_WINDOW: Final = "-1h"

# Room status codes: the worst wins.
OK, OUT_OF_BAND, ALARM = 0, 1, 2

_DOOR_FIELDS: Final = (
    ReadingField.DOOR,
    ReadingField.FORCED,
    ReadingField.BADGE,
    ReadingField.GRANTED,
)


def room_status_query() -> str:
    """Per room: alarm if an alarm there is open, else out-of-band if the latest T or RH is."""
    t_bands = flux.band_dicts(ReadingField.TEMPERATURE, "tLo", "tHi")
    h_bands = flux.band_dicts(ReadingField.HUMIDITY, "hLo", "hHi")
    return (
        'import "dict"\n\n'
        f"{t_bands}\n{h_bands}\n"
        "outside = (v, lo, hi) => if v < lo or v > hi then 1 else 0\n\n"
        "climate = "
        + flux.source(start=STATUS_WINDOW, stop="now()")
        + flux.measurement(READING, flux.in_sites(), flux.known_class())
        + flux.fields(ReadingField.TEMPERATURE, ReadingField.HUMIDITY)
        + flux.group(Tag.SITE, Tag.ROOM, Tag.ROOM_CLASS, "_field")
        + "\n  |> last()"
        + "\n  |> map(fn: (r) => ({"
        + f"{Tag.SITE}: r.{Tag.SITE}, {Tag.ROOM}: r.{Tag.ROOM}, status: "
        + f'if r._field == "{ReadingField.TEMPERATURE}" then outside(v: r._value, '
        + f"lo: dict.get(dict: tLo, key: r.{Tag.ROOM_CLASS}, default: 0.0), "
        + f"hi: dict.get(dict: tHi, key: r.{Tag.ROOM_CLASS}, default: 0.0)) "
        + "else outside(v: r._value, "
        + f"lo: dict.get(dict: hLo, key: r.{Tag.ROOM_CLASS}, default: 0.0), "
        + f"hi: dict.get(dict: hHi, key: r.{Tag.ROOM_CLASS}, default: 0.0))"
        + "}))\n\n"
        + "alarms = "
        + flux.latest_alarm_changes(flux.in_sites())
        + f"\n  |> filter(fn: (r) => exists r.{Tag.ROOM})"
        + f"\n  |> map(fn: (r) => ({{{Tag.SITE}: r.{Tag.SITE}, {Tag.ROOM}: r.{Tag.ROOM}, "
        + f"status: {ALARM}}}))\n\n"
        + "union(tables: [climate, alarms])"
        + flux.group(Tag.SITE, Tag.ROOM)
        + '\n  |> max(column: "status")'
    )


def active_alarms_query() -> str:
    """Every alarm whose last change left it open (not closed), newest first."""
    return (
        flux.latest_alarm_changes(flux.in_sites())
        + "\n  |> group()"
        + "\n  |> keep(columns: "
        + flux.string_list(
            (
                "_time",
                Tag.SITE,
                Tag.ROOM,
                Tag.SENSOR,
                Tag.SEVERITY,
                Tag.CATEGORY,
                AlarmField.STATE,
                AlarmField.MESSAGE_ZH,
                AlarmField.MESSAGE_EN,
                AlarmField.VALUE,
                AlarmField.ALARM_ID,
            )
        )
        + ")"
        + '\n  |> sort(columns: ["_time"], desc: true)'
    )


def door_events_query() -> str:
    return (
        flux.source()
        + flux.measurement(READING, flux.in_sites())
        + flux.fields(*_DOOR_FIELDS)
        + flux.pivot_fields()
        + "\n  |> group()"
        + "\n  |> keep(columns: "
        + flux.string_list(("_time", Tag.SITE, Tag.ROOM, Tag.SENSOR, *_DOOR_FIELDS))
        + ")"
        + '\n  |> sort(columns: ["_time"], desc: true)'
        + "\n  |> limit(n: 200)"
    )


def offline_query() -> str:
    """Sensors whose newest reading in the last week is older than OFFLINE_AFTER."""
    return (
        'import "date"\n\n'
        f"cutoff = date.sub(d: {OFFLINE_AFTER}, from: now())\n\n"
        + flux.source(start="-7d", stop="now()")
        + flux.measurement(READING, flux.in_sites())
        # Drop _value first: a door sensor's fields are text and booleans, and grouping
        # columns of different types together is an error in Flux.
        + "\n  |> keep(columns: "
        + flux.string_list(("_time", Tag.SITE, Tag.ROOM, Tag.SENSOR))
        + ")"
        + flux.group(Tag.SITE, Tag.ROOM, Tag.SENSOR)
        + '\n  |> max(column: "_time")'
        + "\n  |> filter(fn: (r) => r._time < cutoff)"
        + "\n  |> group()"
        + "\n  |> keep(columns: "
        + flux.string_list(("_time", Tag.SITE, Tag.ROOM, Tag.SENSOR))
        + ")"
        + '\n  |> sort(columns: ["_time"])'
    )


def _time_column(title: str) -> Override:
    return Override(name="_time", properties={"displayName": title, "unit": "dateTimeAsLocal"})


def build(bucket: str = flux.DEFAULT_BUCKET) -> Dashboard:
    status = Panel(
        type=PanelType.STAT,
        title="Room status 库房状态",
        description="Per room: alarm if one is open there; out of band if the latest "
        f"temperature or RH (last {STATUS_WINDOW[1:]}) is outside its room class's band.",
        width=24,
        height=8,
        targets=(FluxQuery("A", room_status_query()),),
        display_name="${__field.labels.site} · ${__field.labels.room}",
        mappings=(
            ValueText(str(OK), "正常 OK", Color.GREEN),
            ValueText(str(OUT_OF_BAND), "超限 Out of band", Color.ORANGE),
            ValueText(str(ALARM), "报警 Alarm", Color.RED),
        ),
        thresholds=(
            Threshold(Color.GREEN),
            Threshold(Color.ORANGE, OUT_OF_BAND),
            Threshold(Color.RED, ALARM),
        ),
        options={
            "colorMode": "background",
            "graphMode": "none",
            "justifyMode": "center",
            "orientation": "auto",
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "showPercentChange": False,
            "textMode": "value_and_name",
            "wideLayout": True,
        },
    )
    table_options = {"cellHeight": "sm", "showHeader": True}
    alarms = Panel(
        type=PanelType.TABLE,
        title="Active alarms 活动报警",
        description="The last change of every alarm that is not closed "
        f"(raised within {flux.ALARM_LOOKBACK[1:]}).",
        width=24,
        height=9,
        targets=(FluxQuery("A", active_alarms_query()),),
        overrides=(
            _time_column("Last change 最近变化"),
            Override(
                name=AlarmField.STATE,
                properties={
                    "custom.cellOptions": {"type": "color-background"},
                    "mappings": [
                        {
                            "options": {
                                "unacked": {"color": "red", "index": 0, "text": "未确认 unacked"},
                                "acked": {"color": "orange", "index": 1, "text": "已确认 acked"},
                                "rtn_unacked": {
                                    "color": "yellow",
                                    "index": 2,
                                    "text": "已恢复未确认 returned",
                                },
                            },
                            "type": "value",
                        }
                    ],
                },
            ),
        ),
        options=table_options,
    )
    doors = Panel(
        type=PanelType.TABLE,
        title="Door events 门禁事件",
        description="Door, forced-open, badge and access-granted readings in the time range.",
        width=12,
        height=10,
        targets=(FluxQuery("A", door_events_query()),),
        overrides=(_time_column("Time 时间"),),
        options=table_options,
    )
    offline = Panel(
        type=PanelType.TABLE,
        title="Sensors offline 离线传感器",
        description=f"Sensors with no reading for {OFFLINE_AFTER} (seen within 7 days).",
        width=12,
        height=10,
        targets=(FluxQuery("A", offline_query()),),
        overrides=(_time_column("Last reading 最后读数"),),
        options=table_options,
    )
    return Dashboard(
        uid=UID,
        title="Lantai · Security desk 安防值班",
        description="The guard's overview: rooms, open alarms, doors and silent sensors.",
        panels=(status, alarms, doors, offline),
        variables=(bucket_variable(bucket), site_variable(multi=True)),
        annotations=alarm_annotations(flux.in_sites()),
        time_from="now-6h",
        refresh="30s",
    )
