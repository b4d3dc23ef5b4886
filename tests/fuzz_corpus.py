"""Malformed messages as devices and gateways really send them, each with its verdict.

Every case names what the collector must do with it: how many readings it stores and how
many of its parts are quarantined, per reason. tests/test_fuzz_ingest.py checks each
verdict against the decoder alone, then sends the corpus (with hypothesis-generated
messages and valid readings) through a real ``lantai run`` and counts what arrived.

A case that stores readings carries no ``ts``: the store stamps such readings with a
fresh nanosecond each, so the case may be sent many times and is stored every time (a
repeated ``ts`` would be a redelivery, stored once by design).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from collectors.batch import MAX_BATCH_BYTES, MAX_BATCH_ELEMENTS
from collectors.quarantine import Reason

SITE = "yunxi"
ROOM = "B2-01"
SENSOR = "b201-th1"  # a climate sensor of the example site, in ROOM
OTHER_ROOM_SENSOR = ("B2-02", "b202-th1")  # a sensor of another room
TOPIC = f"archive/{SITE}/{ROOM}/{SENSOR}"
STATUS = f"{TOPIC}/status"
BATCH = f"archive/{SITE}/_batch"
GOOD = b'{"temperature": 20.5, "humidity": 51.0, "seq": 7}'
MEGABYTE = 1 << 20
DEEP = 10_000  # nesting levels


@dataclass(frozen=True)
class Case:
    """One message and what the collector must make of it."""

    name: str
    topic: str
    payload: bytes
    stored: int = 0
    reasons: Mapping[Reason, int] = field(default_factory=dict)
    # Heavy cases (a megabyte each) are sent this many times, not once per corpus round.
    copies: int | None = None

    @property
    def quarantined(self) -> int:
        return sum(self.reasons.values())


def quarantined(name: str, topic: str, payload: bytes, reason: Reason, **kw: int) -> Case:
    return Case(name, topic, payload, reasons={reason: 1}, **kw)


def _dumps(value: object) -> bytes:
    return json.dumps(value).encode()


def _element(room: str, sensor: object, **values: object) -> dict[str, object]:
    return {"room": room, "sensor": sensor, **values}


def _truncations() -> Iterable[Case]:
    """Every cut of a good message, as a dropped connection or a full buffer leaves it."""
    for cut in range(len(GOOD)):
        yield quarantined(f"truncated at {cut}", TOPIC, GOOD[:cut], Reason.NOT_JSON)


def _payloads() -> Iterable[Case]:
    q, t = quarantined, TOPIC
    # Wrong types: the contract is strict (a string "21" is not a number).
    yield q("smoke as 1", t, b'{"smoke": 1}', Reason.WRONG_TYPE)
    yield q("smoke as text", t, b'{"smoke": "true"}', Reason.WRONG_TYPE)
    yield q("temperature as text", t, b'{"temperature": "21"}', Reason.WRONG_TYPE)
    yield q("temperature as bool", t, b'{"temperature": true}', Reason.WRONG_TYPE)
    yield q("temperature as array", t, b'{"temperature": [21]}', Reason.WRONG_TYPE)
    yield q("temperature as object", t, b'{"temperature": {"v": 21}}', Reason.WRONG_TYPE)
    yield q("door ajar", t, b'{"door": "ajar"}', Reason.WRONG_TYPE)
    yield q("badge as number", t, b'{"badge": 42}', Reason.WRONG_TYPE)
    yield q("seq as float", t, b'{"seq": 1.5}', Reason.WRONG_TYPE)
    yield q("seq negative", t, b'{"seq": -1}', Reason.OUT_OF_RANGE)
    # Numbers JSON has no words for, and numbers too large for any sensor.
    for literal in (b"NaN", b"Infinity", b"-Infinity", b"1e309", b"-1e309"):
        yield q(
            f"temperature {literal!r}", t, b'{"temperature": ' + literal + b"}", Reason.OUT_OF_RANGE
        )
        # In an unknown key (kept as it came): refused too, or SQLite's json functions
        # would refuse the batch's write for ever (the bug this corpus found).
        yield q(
            f"extra {literal!r}", t, b'{"note": [1, {"x": ' + literal + b"}]}", Reason.OUT_OF_RANGE
        )
    yield q("huge temperature", t, _dumps({"temperature": 10**30}), Reason.OUT_OF_RANGE)
    yield q("seq past int64", t, _dumps({"seq": 2**64}), Reason.OUT_OF_RANGE)
    yield q("humidity 140", t, b'{"humidity": 140}', Reason.OUT_OF_RANGE)
    yield Case("huge integer in an extra key", t, _dumps({"note": 10**100}), stored=1)
    yield Case("explicit nulls", t, b'{"temperature": null, "humidity": null}', stored=1)
    yield Case("unknown keys only", t, b'{"firmware": "1.2.3", "rssi": -70}', stored=1)
    yield Case("empty object", t, b"{}", stored=1)
    yield Case(
        "same key twice (the last wins)", t, b'{"temperature": 500, "temperature": 20}', stored=1
    )
    yield q(
        "same key twice, last out of range",
        t,
        b'{"temperature": 20, "temperature": 500}',
        Reason.OUT_OF_RANGE,
    )
    yield q(
        "same key twice, last wrong type", t, b'{"smoke": false, "smoke": 1}', Reason.WRONG_TYPE
    )
    # Not an object at all.
    for body in (b"null", b"[]", b"[1, 2]", b'[{"temperature": 20}]', b'"text"', b"42", b"true"):
        yield q(f"top level {body!r}", t, body, Reason.NOT_AN_OBJECT)
    # Not JSON.
    for body in (
        b"",
        b" ",
        b"\t\r\n",
        b"\x00",
        b"{",
        b"}",
        b"{'temperature': 20}",
        b"temperature=20",
        b'{"temperature": 20}{"temperature": 21}',
        b'{"temperature": 20,}',
        b"<xml/>",
    ):
        yield q(f"not json {body[:20]!r}", t, body, Reason.NOT_JSON)
    yield q("UTF-8 BOM", t, b"\xef\xbb\xbf" + GOOD, Reason.NOT_JSON)
    yield q("deep arrays", t, b"[" * DEEP + b"]" * DEEP, Reason.NOT_JSON)
    yield q("deep objects", t, b'{"a":' * DEEP + b"1" + b"}" * DEEP, Reason.NOT_JSON)
    yield q(
        "deep in an extra key", t, b'{"note": ' + b"[" * DEEP + b"]" * DEEP + b"}", Reason.NOT_JSON
    )
    yield q("lone surrogate escape", t, b'{"badge": "\\ud800"}', Reason.NOT_JSON)
    yield q("raw control character", t, b'{"badge": "a\x01b"}', Reason.NOT_JSON)
    # Not UTF-8.
    yield q("binary", t, b"\xff\xfe\xfd\x00\x01", Reason.NOT_UTF8)
    yield q("bad continuation", t, b'{"badge": "\xc3\x28"}', Reason.NOT_UTF8)
    yield q("overlong slash", t, b'{"badge": "\xc0\xaf"}', Reason.NOT_UTF8)
    yield q("latin-1", t, '{"badge": "café"}'.encode("latin-1"), Reason.NOT_UTF8)
    yield q("UTF-16 with BOM", t, '{"temperature": 20}'.encode("utf-16"), Reason.NOT_UTF8)
    yield q("encoded surrogate", t, b'{"badge": "\xed\xa0\x80"}', Reason.NOT_UTF8)
    # Timestamps.
    yield q("ts 1970", t, b'{"ts": "1970-01-01T00:00:00Z"}', Reason.BAD_TIMESTAMP)
    yield q("ts naive", t, b'{"ts": "2026-03-01T00:00:00"}', Reason.BAD_TIMESTAMP)
    yield q("ts month 13", t, b'{"ts": "2026-13-01T00:00:00Z"}', Reason.BAD_TIMESTAMP)
    yield q("ts 1e30", t, b'{"ts": 1e30}', Reason.BAD_TIMESTAMP)
    yield q("ts as object", t, b'{"ts": {}}', Reason.BAD_TIMESTAMP)
    # A megabyte: refused by size before any parsing.
    yield q("1 MB reading", t, b"x" * MEGABYTE, Reason.TOO_LARGE, copies=5)
    yield q("1 MB JSON", t, b'{"note": "' + b"x" * MEGABYTE + b'"}', Reason.TOO_LARGE, copies=5)
    yield q("1 MB status", STATUS, b"online" * (MEGABYTE // 6), Reason.BAD_STATUS, copies=5)


def _topics() -> Iterable[Case]:
    q = quarantined
    for topic in (
        "archive",
        f"archive/{SITE}",
        f"archive/{SITE}/{ROOM}",
        f"archive/{SITE}/{ROOM}/{SENSOR}/extra/deep",
        f"archive/{SITE}/{ROOM}/{SENSOR}/statuss",
        f"archive/{SITE}/{ROOM}/{SENSOR}/status/extra",
        f"archive/{SITE}/{ROOM}/{SENSOR}/",
        f"archive//{ROOM}/{SENSOR}",
        f"archive/{SITE}//{SENSOR}",
        f"archive/{SITE}/B2 01/{SENSOR}",
        f"archive/云溪/{ROOM}/{SENSOR}",
        f"archive/{SITE}/{ROOM}/" + "a" * 65,
        f"archive/{SITE}/{ROOM}/b201;DROP TABLE readings",
        "archive/" + "a/" * 100 + "a",
        "archive/" + "x" * 60_000,
        f"archive/{SITE}/{ROOM}/{SENSOR}\u200b",
        f"archive/{SITE}/{ROOM}/../{SENSOR}",
    ):
        yield q(f"bad topic {topic[:40]!r}", topic, GOOD, Reason.BAD_TOPIC)
    yield q("unknown sensor", f"archive/{SITE}/{ROOM}/nope-th9", GOOD, Reason.UNKNOWN_SENSOR)
    yield q("unknown site", f"archive/nosite/{ROOM}/{SENSOR}", GOOD, Reason.UNKNOWN_SENSOR)
    # Four levels, so a reading's topic: room "_batch", sensor "extra", not registered.
    yield q("below a batch topic", f"archive/{SITE}/_batch/extra", GOOD, Reason.UNKNOWN_SENSOR)
    yield q("unknown site's batch", "archive/nosite/_batch", b"[]", Reason.UNKNOWN_SENSOR)
    room, sensor = OTHER_ROOM_SENSOR
    yield q("wrong room", f"archive/{SITE}/{ROOM}/{sensor}", GOOD, Reason.WRONG_ROOM)
    yield q("wrong room 2", f"archive/{SITE}/{room}/{SENSOR}", GOOD, Reason.WRONG_ROOM)
    for body in (b"", b"ONLINE!", b"1", b'{"online": true}', b"\xff", b"on line", b"null"):
        yield q(f"status {body!r}", STATUS, body, Reason.BAD_STATUS)


def _batches() -> Iterable[Case]:
    q, b = quarantined, BATCH
    good = _element(ROOM, SENSOR, temperature=20.0)
    yield q("batch empty", b, b"[]", Reason.NOT_AN_OBJECT)
    yield q("batch object", b, b"{}", Reason.NOT_AN_OBJECT)
    yield q("batch null", b, b"null", Reason.NOT_AN_OBJECT)
    yield q("batch truncated", b, _dumps([good, good])[:-3], Reason.NOT_JSON)
    yield q("batch not utf-8", b, b"[\xff]", Reason.NOT_UTF8)
    yield q("batch deep", b, b"[" * DEEP + b"]" * DEEP, Reason.NOT_JSON)
    yield q("batch too many", b, _dumps([good] * (MAX_BATCH_ELEMENTS + 1)), Reason.TOO_LARGE)
    big = _dumps([_element(ROOM, SENSOR, note="x" * 1000)] * (MAX_BATCH_BYTES // 1000))
    yield q("batch too many bytes", b, big, Reason.TOO_LARGE, copies=20)
    yield Case("batch of good elements", b, _dumps([good, good, good]), stored=3)
    room, sensor = OTHER_ROOM_SENSOR
    junk: list[object] = [
        good,
        1,
        "text",
        None,
        [good],
        {"sensor": SENSOR},  # no room
        _element(ROOM, 5),
        _element(ROOM, "nope-th9", temperature=20.0),
        _element(ROOM, sensor, temperature=20.0),
        _element(ROOM, f"{SENSOR}/status"),
        _element(ROOM, SENSOR, temperature="20"),
        _element(ROOM, SENSOR, humidity=140),
        _element(ROOM, SENSOR, ts="1970-01-01T00:00:00Z"),
        _element(room, sensor, humidity=45.0),
    ]
    yield Case(
        "batch with junk elements",
        b,
        _dumps(junk),
        stored=2,
        reasons={
            Reason.NOT_AN_OBJECT: 4,
            Reason.BAD_TOPIC: 3,
            Reason.UNKNOWN_SENSOR: 1,
            Reason.WRONG_ROOM: 1,
            Reason.WRONG_TYPE: 1,
            Reason.OUT_OF_RANGE: 1,
            Reason.BAD_TIMESTAMP: 1,
        },
    )
    non_finite = (
        b"[" + _dumps(good) + b', {"room": "B2-01", "sensor": "b201-th1", "temperature": NaN},'
    )
    non_finite += b' {"room": "B2-01", "sensor": "b201-th1", "note": {"x": -Infinity}}]'
    yield Case("batch with NaN", b, non_finite, stored=1, reasons={Reason.OUT_OF_RANGE: 2})


def corpus() -> list[Case]:
    """Every hand-written case, once."""
    return [*_truncations(), *_payloads(), *_topics(), *_batches()]


def outcome(cases: Iterable[Case]) -> tuple[int, Counter[Reason]]:
    """Readings stored and parts quarantined (per reason) by these messages together."""
    stored, reasons = 0, Counter[Reason]()
    for case in cases:
        stored += case.stored
        reasons.update(case.reasons)
    return stored, reasons
