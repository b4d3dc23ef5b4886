"""Why a message was refused, and the record kept of it.

A refused message is never dropped in silence: it is stored with its topic, the start of
its payload and a reason, counted per reason, and acknowledged like any stored message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

# What is kept of a refused payload: enough to see what a device sent, not a 1 MB blob.
PAYLOAD_KEEP_BYTES = 1024
# Larger payloads are refused before parsing; no sensor reading comes near this.
MAX_PAYLOAD_BYTES = 64 * 1024


class Reason(StrEnum):
    """The reason codes an installer sees in the quarantine list."""

    BAD_TOPIC = "bad_topic"  # does not follow <prefix>/<site>/<room>/<sensor_id>
    UNKNOWN_SENSOR = "unknown_sensor"  # not in the facility config: register it
    WRONG_ROOM = "wrong_room"  # the sensor is registered in another room
    TOO_LARGE = "too_large"
    NOT_UTF8 = "not_utf8"
    NOT_JSON = "not_json"
    NOT_AN_OBJECT = "not_an_object"
    WRONG_TYPE = "wrong_type"  # e.g. "smoke": 1 instead of true
    OUT_OF_RANGE = "out_of_range"  # e.g. humidity 140, temperature -300, NaN
    BAD_TIMESTAMP = "bad_timestamp"
    BAD_STATUS = "bad_status"  # a status topic that is not online/offline


@dataclass(frozen=True, slots=True)
class Rejected:
    """A quarantined message."""

    received_at: datetime
    topic: str
    payload: bytes  # truncated to PAYLOAD_KEEP_BYTES
    payload_size: int
    reason: Reason
    detail: str


def reject(
    received_at: datetime, topic: str, payload: bytes, reason: Reason, detail: str
) -> Rejected:
    return Rejected(
        received_at=received_at,
        topic=topic,
        payload=payload[:PAYLOAD_KEEP_BYTES],
        payload_size=len(payload),
        reason=reason,
        detail=detail[:500],
    )
