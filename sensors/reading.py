"""A validated reading: the payload plus where it came from and when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sensors.payload import ReadingPayload


# Not frozen: a frozen dataclass costs four times as much to build, and one is built per
# message on the hot path. Treat readings as immutable all the same.
@dataclass(slots=True)
class Reading:
    """One accepted sensor message, placed in the facility.

    ``ts`` is the sensor's own timestamp when it sent one, otherwise the receive time;
    (site, sensor, ts) identifies a reading, as (tags, time) does in InfluxDB, so a
    message redelivered after a crash is stored once.
    """

    site: str
    room: str
    sensor: str
    ts: datetime
    received_at: datetime
    payload: ReadingPayload
    raw: bytes  # the message as the sensor sent it (validated), kept as the record


@dataclass(frozen=True, slots=True)
class PresenceUpdate:
    """A device's own online/offline report (retained; its Last Will says ``offline``)."""

    site: str
    room: str
    sensor: str
    online: bool
    received_at: datetime
