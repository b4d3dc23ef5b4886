"""A gateway's batch, decoded: each element judged on its own, as if sent alone."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from pydantic_core import to_json

from collectors.batch import MAX_BATCH_BYTES, MAX_BATCH_ELEMENTS, DecodedBatch
from collectors.decode import Decoder
from collectors.quarantine import MAX_PAYLOAD_BYTES, PAYLOAD_KEEP_BYTES, Reason, Rejected
from lantai.bench.stream import BENCH_SITE, bench_facility, stream_batches
from sensors.facility import Facility
from sensors.reading import Reading

NOW = datetime(2026, 3, 1, 2, 13, tzinfo=UTC)
BATCH = "archive/yunxi/_batch"
GOOD = {"room": "B2-01", "sensor": "b201-th1", "temperature": 20.5, "humidity": 51}


@pytest.fixture
def decoder(facility: Facility) -> Decoder:
    return Decoder(facility)


def element(i: int, **extra: object) -> dict[str, object]:
    """A good element: b201-th1 or b202-th1 alternately, with ts and seq."""
    room, sensor = ("B2-01", "b201-th1") if i % 2 == 0 else ("B2-02", "b202-th1")
    ts = f"2026-03-01T02:{i // 60:02d}:{i % 60:02d}Z"
    return {"room": room, "sensor": sensor, "temperature": 19 + i / 10, "ts": ts, "seq": i, **extra}


def decode_batch(decoder: Decoder, items: object) -> DecodedBatch:
    result = decoder.decode(BATCH, json.dumps(items).encode(), NOW)
    assert isinstance(result, DecodedBatch), result
    return result


def alone(decoder: Decoder, item: dict[str, object]) -> Reading:
    """The element sent on its own topic, without its place: what the batch must equal."""
    place = f"archive/yunxi/{item['room']}/{item['sensor']}"
    payload = to_json({k: v for k, v in item.items() if k not in {"room", "sensor"}})
    result = decoder.decode(place, payload, NOW)
    assert isinstance(result, Reading), result
    return result


def test_each_element_is_the_reading_its_own_message_would_make(decoder: Decoder) -> None:
    items = [element(i) for i in range(20)] + [{**GOOD, "firmware": "1.2"}]
    result = decode_batch(decoder, items)
    assert result.rejected == []
    assert result.readings == [alone(decoder, item) for item in items]
    first, last = result.readings[0], result.readings[-1]
    assert (first.site, first.room, first.sensor) == ("yunxi", "B2-01", "b201-th1")
    assert first.ts == datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
    # The place is the element's topic, not part of its payload; unknown keys are kept.
    assert last.payload.model_extra == {"firmware": "1.2"}
    assert json.loads(last.raw) == {"temperature": 20.5, "humidity": 51, "firmware": "1.2"}
    assert last.ts == NOW  # no ts sent: the receive time stands in, as for one message


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ({**GOOD, "humidity": 140}, Reason.OUT_OF_RANGE),
        ({**GOOD, "seq": -1}, Reason.OUT_OF_RANGE),
        ({**GOOD, "temperature": "20.5"}, Reason.WRONG_TYPE),
        ({**GOOD, "smoke": 1}, Reason.WRONG_TYPE),
        ({**GOOD, "ts": "2026-03-01T02:13:00"}, Reason.BAD_TIMESTAMP),
        ({**GOOD, "ts": 0}, Reason.BAD_TIMESTAMP),
        (42, Reason.NOT_AN_OBJECT),
        ([GOOD], Reason.NOT_AN_OBJECT),
        ("hello", Reason.NOT_AN_OBJECT),
        ({"sensor": "b201-th1", "temperature": 20}, Reason.BAD_TOPIC),
        ({"room": "B2-01", "temperature": 20}, Reason.BAD_TOPIC),
        ({**GOOD, "room": 7}, Reason.BAD_TOPIC),
        ({**GOOD, "room": "B2 01"}, Reason.BAD_TOPIC),
        ({**GOOD, "sensor": "b201-th1/status"}, Reason.BAD_TOPIC),
        ({**GOOD, "sensor": "+"}, Reason.BAD_TOPIC),
        ({**GOOD, "sensor": "th-new-7"}, Reason.UNKNOWN_SENSOR),
        ({**GOOD, "room": "B3-01"}, Reason.WRONG_ROOM),
        ({**GOOD, "note": "x" * MAX_PAYLOAD_BYTES}, Reason.TOO_LARGE),
    ],
)
def test_a_bad_element_is_quarantined_alone_naming_its_index(
    decoder: Decoder, bad: object, reason: Reason
) -> None:
    items = [element(0), bad, element(2)]
    result = decode_batch(decoder, items)
    assert result.readings == [alone(decoder, element(0)), alone(decoder, element(2))]
    assert len(result.rejected) == 1
    refused = result.rejected[0]
    assert refused.reason is reason
    assert refused.detail.startswith("batch[1]: ")
    assert refused.topic == BATCH
    assert refused.received_at == NOW
    # The element itself is kept, place and all, as the quarantine's payload.
    kept = to_json(bad)
    assert refused.payload_size == len(kept)
    if len(kept) <= PAYLOAD_KEEP_BYTES:
        assert json.loads(refused.payload) == bad
    else:
        assert refused.payload == kept[:PAYLOAD_KEEP_BYTES]


def test_the_reason_is_the_one_its_own_message_would_get(decoder: Decoder) -> None:
    bad = {**GOOD, "humidity": 140, "temperature": -300}
    result = decode_batch(decoder, [bad])
    single = decoder.decode("archive/yunxi/B2-01/b201-th1", to_json(bad), NOW)
    assert isinstance(single, Rejected)
    assert result.readings == []
    assert [r.reason for r in result.rejected] == [single.reason]
    assert result.rejected[0].detail == f"batch[0]: {single.detail}"


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity", b"1e999"])
def test_non_finite_numbers_are_out_of_range_per_element(decoder: Decoder, literal: bytes) -> None:
    payload = b'[{"room": "B2-01", "sensor": "b201-th1", "temperature": ' + literal + b"}, "
    payload += json.dumps(element(1)).encode() + b"]"
    result = decoder.decode(BATCH, payload, NOW)
    assert isinstance(result, DecodedBatch)
    assert [r.reason for r in result.rejected] == [Reason.OUT_OF_RANGE]
    assert result.rejected[0].detail.startswith("batch[0]: temperature")
    assert [r.sensor for r in result.readings] == ["b202-th1"]


def test_every_bad_element_gets_its_own_record(decoder: Decoder) -> None:
    items: list[object] = [element(i) for i in range(10)]
    items[3] = {**element(3), "humidity": 140}
    items[7] = {**element(7), "sensor": "ghost"}
    items[8] = "not a reading"
    result = decode_batch(decoder, items)
    assert len(result.readings) == 7
    details = sorted(r.detail.split(":")[0] for r in result.rejected)
    assert details == ["batch[3]", "batch[7]", "batch[8]"]
    assert {r.reason for r in result.rejected} == {
        Reason.OUT_OF_RANGE,
        Reason.UNKNOWN_SENSOR,
        Reason.NOT_AN_OBJECT,
    }


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"[]", Reason.NOT_AN_OBJECT),
        (b'{"room": "B2-01", "sensor": "b201-th1"}', Reason.NOT_AN_OBJECT),
        (b"42", Reason.NOT_AN_OBJECT),
        (b"[{", Reason.NOT_JSON),
        (b"", Reason.NOT_JSON),
        (b"[" * 10_000 + b"]" * 10_000, Reason.NOT_JSON),
        (b"\xff\xfe[]", Reason.NOT_UTF8),
        (b'[{"badge": "\xff"}]', Reason.NOT_UTF8),
        (json.dumps([GOOD] * (MAX_BATCH_ELEMENTS + 1)).encode(), Reason.TOO_LARGE),
        (b"[" + b" " * MAX_BATCH_BYTES + b"]", Reason.TOO_LARGE),
    ],
)
def test_a_batch_that_is_not_a_bounded_non_empty_array_is_quarantined_whole(
    decoder: Decoder, payload: bytes, reason: Reason
) -> None:
    result = decoder.decode(BATCH, payload, NOW)
    assert isinstance(result, Rejected)
    assert result.reason is reason
    assert result.topic == BATCH
    assert result.payload_size == len(payload)
    assert result.detail.startswith("batch")


def test_the_limits_themselves_are_accepted(decoder: Decoder) -> None:
    items = [element(i) for i in range(MAX_BATCH_ELEMENTS)]
    payload = json.dumps(items).encode()
    assert len(payload) <= MAX_BATCH_BYTES
    result = decoder.decode(BATCH, payload, NOW)
    assert isinstance(result, DecodedBatch)
    assert len(result.readings) == MAX_BATCH_ELEMENTS


def test_a_batch_for_a_site_not_in_the_facility_is_quarantined_whole(decoder: Decoder) -> None:
    result = decoder.decode("archive/elsewhere/_batch", json.dumps([GOOD]).encode(), NOW)
    assert isinstance(result, Rejected)
    assert result.reason is Reason.UNKNOWN_SENSOR
    assert "elsewhere" in result.detail


def test_presence_is_not_batched(decoder: Decoder) -> None:
    # A status topic is one per message; inside a batch a "status" sensor is no place.
    result = decode_batch(decoder, [{"room": "B2-01", "sensor": "status", "temperature": 20}])
    assert [r.reason for r in result.rejected] == [Reason.UNKNOWN_SENSOR]
    assert result.readings == []


def test_the_benchmark_batches_decode_whole() -> None:
    # `lantai bench ingest --batch N` publishes these: every element must be a reading.
    bench = bench_facility(20)
    messages = stream_batches(bench, 250, 100)
    assert [topic for topic, _ in messages] == [f"archive/{BENCH_SITE}/_batch"] * 3
    decoder = Decoder(bench)
    results = [decoder.decode(topic, payload, NOW) for topic, payload in messages]
    assert all(isinstance(r, DecodedBatch) and not r.rejected for r in results)
    readings = [x for r in results if isinstance(r, DecodedBatch) for x in r.readings]
    assert [len(r.readings) for r in results if isinstance(r, DecodedBatch)] == [100, 100, 50]
    assert len({(x.site, x.sensor, x.ts) for x in readings}) == 250
