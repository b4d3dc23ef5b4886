"""The wire contract, decoded: every message becomes a reading, a presence update or a rejection."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from collectors.decode import Decoder
from collectors.quarantine import MAX_PAYLOAD_BYTES, PAYLOAD_KEEP_BYTES, Reason, Rejected
from sensors.facility import Facility
from sensors.reading import PresenceUpdate, Reading

NOW = datetime(2026, 3, 1, 2, 13, tzinfo=UTC)
TOPIC = "archive/yunxi/B2-01/b201-th1"


@pytest.fixture
def decoder(facility: Facility) -> Decoder:
    return Decoder(facility)


def test_a_reading_keeps_its_values_and_unknown_keys(decoder: Decoder) -> None:
    raw = json.dumps({"temperature": 20.5, "humidity": 51, "battery": 88, "firmware": "1.2"})
    result = decoder.decode(TOPIC, raw.encode(), NOW)
    assert isinstance(result, Reading)
    assert (result.site, result.room, result.sensor) == ("yunxi", "B2-01", "b201-th1")
    assert result.payload.temperature == 20.5
    assert result.payload.humidity == 51.0
    assert result.payload.model_extra == {"firmware": "1.2"}
    assert result.ts == NOW  # no ts sent: the receive time stands in
    assert result.raw == raw.encode()


@pytest.mark.parametrize(
    ("ts", "expected"),
    [
        ("2026-03-01T02:13:00Z", datetime(2026, 3, 1, 2, 13, tzinfo=UTC)),
        ("2026-03-01T10:13:00+08:00", datetime(2026, 3, 1, 2, 13, tzinfo=UTC)),
        (1772331180, datetime(2026, 3, 1, 2, 13, tzinfo=UTC)),
        (1772331180000, datetime(2026, 3, 1, 2, 13, tzinfo=UTC)),
        (1772331180.5, datetime(2026, 3, 1, 2, 13, 0, 500000, tzinfo=UTC)),
    ],
)
def test_timestamps_in_every_contract_form(
    decoder: Decoder, ts: object, expected: datetime
) -> None:
    result = decoder.decode(TOPIC, json.dumps({"temperature": 20, "ts": ts}).encode(), NOW)
    assert isinstance(result, Reading)
    assert result.ts == expected


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        (TOPIC, b'{"humidity": 140}', Reason.OUT_OF_RANGE),
        (TOPIC, b'{"temperature": -300}', Reason.OUT_OF_RANGE),
        (TOPIC, b'{"temperature": NaN}', Reason.OUT_OF_RANGE),
        (TOPIC, b'{"temperature": Infinity}', Reason.OUT_OF_RANGE),
        (TOPIC, b'{"temperature": 1e999}', Reason.OUT_OF_RANGE),
        (TOPIC, b'{"temperature": "20.5"}', Reason.WRONG_TYPE),
        (TOPIC, b'{"smoke": 1}', Reason.WRONG_TYPE),
        (TOPIC, b'{"door": "ajar"}', Reason.WRONG_TYPE),
        (TOPIC, b'{"seq": -1}', Reason.OUT_OF_RANGE),
        (TOPIC, b'{"temperature": 20', Reason.NOT_JSON),
        (TOPIC, b"", Reason.NOT_JSON),
        (TOPIC, b"\xff\xfe\x00garbage", Reason.NOT_UTF8),
        (TOPIC, b"[1, 2]", Reason.NOT_AN_OBJECT),
        (TOPIC, b'"hello"', Reason.NOT_AN_OBJECT),
        (TOPIC, b"[" * 10_000 + b"]" * 10_000, Reason.NOT_JSON),
        (TOPIC, b'{"ts": "2026-03-01T02:13:00"}', Reason.BAD_TIMESTAMP),
        (TOPIC, b'{"ts": "yesterday"}', Reason.BAD_TIMESTAMP),
        (TOPIC, b'{"ts": 0}', Reason.BAD_TIMESTAMP),
        (TOPIC, b'{"ts": true}', Reason.BAD_TIMESTAMP),
        ("archive/yunxi/B2-01/no-such-sensor", b"{}", Reason.UNKNOWN_SENSOR),
        ("archive/elsewhere/B2-01/b201-th1", b"{}", Reason.UNKNOWN_SENSOR),
        ("archive/yunxi/B3-01/b201-th1", b"{}", Reason.WRONG_ROOM),
        ("archive/yunxi/B2-01", b"{}", Reason.BAD_TOPIC),
        ("archive/yunxi/B2-01/b201-th1/extra/level", b"{}", Reason.BAD_TOPIC),
        ("archive/yunxi/B2 01/b201-th1", b"{}", Reason.BAD_TOPIC),
        ("other/yunxi/B2-01/b201-th1", b"{}", Reason.BAD_TOPIC),
        ("archive/yunxi/_batch", b"[]", Reason.NOT_AN_OBJECT),  # an empty batch
        (TOPIC + "/status", b"maybe", Reason.BAD_STATUS),
    ],
)
def test_bad_messages_are_quarantined_with_a_reason(
    decoder: Decoder, topic: str, payload: bytes, reason: Reason
) -> None:
    result = decoder.decode(topic, payload, NOW)
    assert isinstance(result, Rejected)
    assert result.reason is reason
    assert result.topic == topic
    assert result.detail


def test_an_unknown_sensor_names_itself_for_the_installer(decoder: Decoder) -> None:
    result = decoder.decode("archive/yunxi/B2-01/th-new-7", b'{"temperature": 20}', NOW)
    assert isinstance(result, Rejected)
    assert "th-new-7" in result.detail
    assert result.topic == "archive/yunxi/B2-01/th-new-7"


def test_huge_payloads_are_refused_before_parsing_and_kept_short(decoder: Decoder) -> None:
    payload = b'{"x": "' + b"a" * (1024 * 1024) + b'"}'
    result = decoder.decode(TOPIC, payload, NOW)
    assert isinstance(result, Rejected)
    assert result.reason is Reason.TOO_LARGE
    assert result.payload_size == len(payload) > MAX_PAYLOAD_BYTES
    assert len(result.payload) == PAYLOAD_KEEP_BYTES


@pytest.mark.parametrize(("payload", "online"), [(b"online", True), (b"offline", False)])
def test_presence_from_the_status_topic(decoder: Decoder, payload: bytes, online: bool) -> None:
    result = decoder.decode(TOPIC + "/status", payload, NOW)
    assert isinstance(result, PresenceUpdate)
    assert result.online is online
    assert (result.site, result.room, result.sensor) == ("yunxi", "B2-01", "b201-th1")


def test_cached_topic_verdicts_stay_right(decoder: Decoder) -> None:
    # The decoder caches what a topic resolves to; the second decode must agree.
    for _ in range(2):
        assert isinstance(decoder.decode(TOPIC, b"{}", NOW), Reading)
        bad = decoder.decode("archive/yunxi/B2-01/ghost", b"{}", NOW)
        assert isinstance(bad, Rejected)
        assert bad.reason is Reason.UNKNOWN_SENSOR
