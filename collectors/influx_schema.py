"""The time-series schema: InfluxDB measurement, tag and field names, defined once.

The InfluxDB sink writes these names and the Grafana boards (dashboards/) query them;
both import this module, so a renamed field breaks a golden test instead of a board at
3 a.m. (architecture.md: "defined once and used by both the sink and the Grafana queries").

Four measurements:

* ``reading`` — one point per accepted sensor message. Tags place it in the facility;
  fields are the payload's measurements. Numbers are always written as floats (a field's
  type is fixed per shard in InfluxDB: a sensor sending ``21`` then ``21.5`` must not
  collide), booleans as booleans, the door state and badge id as strings.
* ``room_metrics`` — the rules' computed per-room figures (dew point, PI, TWPI, EMC,
  mold index), tagged like a room.
* ``alarm_event`` — one point per alarm change (raised, acked, cleared…): the boards'
  annotations and the active-alarm table read these, so Grafana never calls Lantai.
* ``lantai_system`` — Lantai's own counters and gauges, the same families ``/metrics``
  serves, one point per (family, labels) with the family in the ``metric`` tag and the
  number in the ``value`` field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sensors.payload import MEASUREMENTS

# --- measurements -----------------------------------------------------------------------

READING: Final = "reading"
ROOM_METRICS: Final = "room_metrics"
ALARM_EVENT: Final = "alarm_event"
SYSTEM: Final = "lantai_system"


# --- tags -------------------------------------------------------------------------------


class Tag:
    """Tag keys. A tag whose value is unknown (an alarm with no room) is left out."""

    SITE: Final = "site"
    BUILDING: Final = "building"
    FLOOR: Final = "floor"
    ROOM: Final = "room"
    ROOM_CLASS: Final = "room_class"
    SENSOR: Final = "sensor"
    KIND: Final = "kind"  # the sensor's kind: climate, smoke, door…
    # alarm_event only
    RULE: Final = "rule"
    CATEGORY: Final = "category"
    SEVERITY: Final = "severity"
    CHANGE: Final = "change"  # an alerts Change value: raised, acked, cleared…
    # lantai_system only
    METRIC: Final = "metric"  # the /metrics family name, without the lantai_ prefix


READING_TAGS: Final = (
    Tag.SITE,
    Tag.BUILDING,
    Tag.FLOOR,
    Tag.ROOM,
    Tag.ROOM_CLASS,
    Tag.SENSOR,
    Tag.KIND,
)
ROOM_TAGS: Final = (Tag.SITE, Tag.BUILDING, Tag.FLOOR, Tag.ROOM, Tag.ROOM_CLASS)
ALARM_TAGS: Final = (
    Tag.SITE,
    Tag.ROOM,
    Tag.SENSOR,
    Tag.RULE,
    Tag.CATEGORY,
    Tag.SEVERITY,
    Tag.CHANGE,
)


# --- fields -----------------------------------------------------------------------------

# reading: every payload measurement is a field of the same name.
READING_FIELDS: Final = MEASUREMENTS
# door is the text "open" or "closed", as the sensor sends it; badge is the card's id.
READING_STRING_FIELDS: Final = frozenset({"badge", "door"})
READING_BOOL_FIELDS: Final = frozenset({"smoke", "forced", "granted", "water_leak"})


class ReadingField:
    """The reading fields the Grafana boards pick by name (each is in READING_FIELDS)."""

    TEMPERATURE: Final = "temperature"
    HUMIDITY: Final = "humidity"
    DOOR: Final = "door"
    FORCED: Final = "forced"
    BADGE: Final = "badge"
    GRANTED: Final = "granted"


class RoomMetric:
    """room_metrics fields, as the preservation rule computes them (rules/preservation_rule)."""

    TEMPERATURE: Final = "temperature"
    HUMIDITY: Final = "humidity"
    DEW_POINT: Final = "dew_point"
    PI: Final = "pi"
    TWPI: Final = "twpi"
    EMC: Final = "emc"
    MOLD_INDEX: Final = "mold_index"


ROOM_METRIC_FIELDS: Final = (
    RoomMetric.TEMPERATURE,
    RoomMetric.HUMIDITY,
    RoomMetric.DEW_POINT,
    RoomMetric.PI,
    RoomMetric.TWPI,
    RoomMetric.EMC,
    RoomMetric.MOLD_INDEX,
)


class AlarmField:
    """alarm_event fields: the record's id, the state after the change, and the texts."""

    ALARM_ID: Final = "alarm_id"  # integer
    STATE: Final = "state"  # an AlarmState value
    MESSAGE_ZH: Final = "message_zh"
    MESSAGE_EN: Final = "message_en"
    VALUE: Final = "value"  # the reading that raised it, as text; absent when none
    BY: Final = "by"  # who acted (acked, shelved); absent for the rules' own changes


ALARM_FIELDS: Final = (
    AlarmField.ALARM_ID,
    AlarmField.STATE,
    AlarmField.MESSAGE_ZH,
    AlarmField.MESSAGE_EN,
    AlarmField.VALUE,
    AlarmField.BY,
)

SYSTEM_VALUE_FIELD: Final = "value"


# --- Lantai's own metric families (served at /metrics as lantai_<name>) ------------------


class SystemMetric:
    """Family names. Counters end in ``_total``; labels are listed beside each."""

    INGEST_RECEIVED: Final = "ingest_received_total"
    INGEST_STORED: Final = "ingest_stored_total"
    INGEST_QUARANTINED: Final = "ingest_quarantined_total"  # label: reason
    INGEST_BACKLOG: Final = "ingest_backlog"  # messages received, not yet written
    INGEST_LAG_SECONDS: Final = "ingest_lag_seconds"  # now − newest write
    STORE_WRITE_RETRIES: Final = "store_write_retries_total"
    MQTT_CONNECTED: Final = "mqtt_connected"  # 1 or 0
    RULE_EVALUATIONS: Final = "rule_evaluations_total"
    ALARMS_OPEN: Final = "alarms_open"  # labels: site, severity
    NOTIFICATIONS: Final = "notifications_total"  # labels: channel, outcome
    OUTBOX_PENDING: Final = "outbox_pending"
    SPOOL_DEPTH: Final = "spool_depth"  # points waiting for InfluxDB
    SPOOL_DROPPED: Final = "spool_dropped_total"  # dropped by the full-spool policy
    INFLUX_WRITES: Final = "influx_writes_total"  # label: outcome (ok, retry, failed)
    INSPECTION_TASKS: Final = "inspection_tasks"  # labels: site, status (today's tasks)
    HAZARDS_OPEN: Final = "hazards_open"  # labels: site


SYSTEM_METRICS: Final = tuple(
    value for name, value in vars(SystemMetric).items() if not name.startswith("_")
)

# /metrics serves each family as lantai_<name>; InfluxDB keeps the bare name in Tag.METRIC.
METRIC_PREFIX: Final = "lantai_"


class SystemLabel:
    """Label keys of the families above: labels at /metrics, tags of lantai_system points."""

    SITE: Final = Tag.SITE
    SEVERITY: Final = Tag.SEVERITY
    REASON: Final = "reason"  # a collectors.quarantine Reason value
    CHANNEL: Final = "channel"  # an alerts Channel value: sms, voice, email, webhook
    OUTCOME: Final = "outcome"  # notifications: sent, retry, failed, undelivered; influx: ok…
    STATUS: Final = "status"  # an inspections TaskStatus value: open, done, late, missed


@dataclass(frozen=True, slots=True)
class SystemSample:
    """One number of Lantai's own: a family, its labels, and the value now."""

    metric: str  # a SystemMetric name
    labels: tuple[tuple[str, str], ...]
    value: float
