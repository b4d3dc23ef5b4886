"""Why a message was refused, and the record kept of it.

A refused message is never dropped in silence: it is stored with its topic, the start of
its payload and a reason, counted per reason, and acknowledged like any stored message.
"""

from __future__ import annotations

import math
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


def unparseable_reason(payload: bytes) -> Reason:
    """Why text that is not JSON was refused: not UTF-8 at all, or not JSON."""
    try:
        payload.decode("utf-8")
    except UnicodeDecodeError:
        return Reason.NOT_UTF8
    return Reason.NOT_JSON


def non_finite_extra(extra: dict[str, object] | None) -> str | None:
    """The first unknown key whose value holds NaN or ±Infinity, else None.

    Pydantic's parser reads those literals (and 1e309) as floats; the known fields refuse
    them, but unknown keys are kept as they came, and SQLite's json functions refuse the
    literals: one such message would fail its whole batch's write for ever (found by
    tests/test_fuzz_ingest.py). So they are refused here, as a NaN temperature is.
    """
    if not extra:
        return None
    for key, value in extra.items():
        stack = [value]
        while stack:
            item = stack.pop()
            if isinstance(item, float):
                if not math.isfinite(item):
                    return key
            elif isinstance(item, dict):
                stack.extend(item.values())
            elif isinstance(item, list):
                stack.extend(item)
    return None


def non_finite_detail(key: str) -> str:
    return f"{key}: NaN and Infinity are not JSON numbers"
