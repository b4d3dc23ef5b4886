"""The ``garbage`` scenario: one burst of messages that a collector must refuse, not crash on.

Each message is labelled with what is wrong with it, so a test can check that every kind
is covered and that the collector quarantines each one for the right reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sensors.facility import Facility, SensorInfo, SensorKind
from sensors.simulator.model import format_ts

# What can be wrong with a message. The first seven go to a real sensor's topic and must
# fail ReadingPayload validation; the last two carry a valid payload to a wrong topic.
GARBAGE_KINDS = (
    "truncated-json",
    "wrong-types",
    "humidity-140",
    "temperature-minus-300",
    "nan-text",
    "non-object-json",
    "invalid-utf8",
    "unknown-sensor",
    "bad-topic",
)
TOPIC_KINDS = frozenset({"unknown-sensor", "bad-topic"})


@dataclass(frozen=True, slots=True)
class GarbageMessage:
    """One malformed MQTT message and why it is malformed."""

    kind: str
    topic: str
    payload: bytes


def garbage_messages(
    facility: Facility, *, topic_prefix: str, now: datetime
) -> list[GarbageMessage]:
    """The burst, aimed at the facility's first climate sensor (or first sensor)."""
    victim = _victim(facility)
    topic = f"{topic_prefix}/{victim.site}/{victim.room}/{victim.id}"
    ts = format_ts(now)
    valid = json.dumps({"temperature": 20.0, "humidity": 50.0, "ts": ts, "seq": 1})

    def bad(kind: str, text: str | bytes, to: str = topic) -> GarbageMessage:
        return GarbageMessage(kind, to, text.encode() if isinstance(text, str) else text)

    other_room = next((r.id for r in facility.rooms.values() if r.id != victim.room), "B0-00")
    room_prefix = f"{topic_prefix}/{victim.site}/{victim.room}"
    return [
        bad("truncated-json", valid[: len(valid) // 2]),
        # The payload is strict: numbers as text and "yes" for a bool are refused.
        bad("wrong-types", json.dumps({"temperature": "21.5", "smoke": "yes", "ts": ts})),
        bad("wrong-types", json.dumps({"humidity": 50.0, "seq": "7", "ts": ts})),
        bad("humidity-140", json.dumps({"temperature": 20.0, "humidity": 140, "ts": ts})),
        bad("temperature-minus-300", json.dumps({"temperature": -300.0, "ts": ts})),
        # Python's json writes NaN, which is not JSON; some firmware does the same.
        bad("nan-text", f'{{"temperature": NaN, "humidity": 50.0, "ts": "{ts}"}}'),
        bad("nan-text", json.dumps({"temperature": "NaN", "ts": ts})),
        bad("non-object-json", "[20.0, 50.0]"),
        bad("non-object-json", "21.5"),
        bad("non-object-json", "null"),
        bad("invalid-utf8", b'{"temperature": 20.0, "note": "\xff\xfe"}'),
        bad("invalid-utf8", b"\xc3\x28\xa0\xa1"),
        bad("unknown-sensor", valid, f"{room_prefix}/no-such-sensor"),
        bad("bad-topic", valid, f"{topic_prefix}/{victim.site}"),
        bad("bad-topic", valid, f"{topic}/extra/levels"),
        bad("bad-topic", valid, f"{topic_prefix}/no-such-site/{victim.room}/{victim.id}"),
        bad("bad-topic", valid, f"{topic_prefix}/{victim.site}/{other_room}/{victim.id}"),
        bad("bad-topic", valid, f"{room_prefix}/bad id!"),
        bad("bad-topic", valid, f"{topic_prefix}//{victim.room}/{victim.id}"),
    ]


def _victim(facility: Facility) -> SensorInfo:
    sensors = sorted(
        facility.all_sensors(), key=lambda s: (s.kind is not SensorKind.CLIMATE, s.site, s.id)
    )
    if not sensors:
        raise ValueError("the facility has no sensors to send garbage as")
    return sensors[0]
