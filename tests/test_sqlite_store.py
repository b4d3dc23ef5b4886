"""The embedded store: durable batches, exactly-once keys, bounded quarantine."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from collectors import sqlite_store
from collectors.quarantine import Reason, reject
from collectors.sqlite_store import Batch, SqliteReadingStore
from sensors.payload import ReadingPayload
from sensors.reading import PresenceUpdate, Reading

T0 = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


def reading(sensor: str, at: datetime, **values: object) -> Reading:
    raw = json.dumps(values).encode()
    payload = ReadingPayload.model_validate_json(raw)
    return Reading("yunxi", "B2-01", sensor, payload.ts or at, at, payload, raw)


@pytest.fixture
def store(tmp_path: Path) -> SqliteReadingStore:
    s = SqliteReadingStore(tmp_path / "readings.db")
    s.start()
    return s


def test_a_batch_is_stored_and_read_back(store: SqliteReadingStore) -> None:
    store.write(Batch(readings=[reading("b201-th1", T0, temperature=20.5, humidity=50, note="x")]))
    rows = store.readings("yunxi", "b201-th1")
    assert len(rows) == 1
    assert rows[0]["temperature"] == 20.5
    assert rows[0]["note"] == "x"
    assert rows[0]["ts"] == T0


def test_a_redelivered_reading_with_ts_is_stored_once(store: SqliteReadingStore) -> None:
    ts = "2026-03-01T02:00:00Z"
    first = reading("b201-th1", T0, temperature=20.5, ts=ts, seq=1)
    again = reading("b201-th1", T0 + timedelta(minutes=5), temperature=20.5, ts=ts, seq=1)
    store.write(Batch(readings=[first]))
    store.write(Batch(readings=[again]))  # the broker resent it after a crash
    assert store.count_readings() == 1


def test_readings_without_ts_in_one_batch_are_all_kept(store: SqliteReadingStore) -> None:
    # They share the batch's receive time; none may be lost to a key collision.
    batch = [reading("b201-smoke1", T0, smoke=flag) for flag in (True, False, True, False)]
    store.write(Batch(readings=batch))
    store.write(Batch(readings=[reading("b201-smoke1", T0, smoke=True)]))
    assert store.count_readings() == 5
    rows = store.readings("yunxi", "b201-smoke1")
    assert [r["smoke"] for r in reversed(rows)] == [True, False, True, False, True]


def test_latest_merges_fields_reported_at_different_times(store: SqliteReadingStore) -> None:
    store.write(
        Batch(
            readings=[
                reading("b201-th1", T0, temperature=20.0, humidity=50.0, battery=90),
                reading("b201-th1", T0 + timedelta(minutes=1), temperature=21.0),
            ],
            presence=[PresenceUpdate("yunxi", "B2-01", "b201-th1", False, T0)],
        )
    )
    latest = store.latest("yunxi", ["b201-th1", "b201-th2"])
    assert set(latest) == {"b201-th1"}
    got = latest["b201-th1"]
    assert got.values == {"temperature": 21.0, "humidity": 50.0, "battery": 90}
    assert got.last_seen == T0 + timedelta(minutes=1)
    assert got.online is False


def test_quarantine_is_counted_per_reason_and_bounded(
    store: SqliteReadingStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_store, "QUARANTINE_KEEP_ROWS", 10)
    for i in range(5):
        store.write(
            Batch(
                rejected=[
                    reject(T0, f"archive/yunxi/B2-01/x{i}-{j}", b"{}", Reason.UNKNOWN_SENSOR, "d")
                    for j in range(5)
                ]
                + [reject(T0, "archive/x", b"\xff", Reason.BAD_TOPIC, "d")]
            )
        )
    assert store.quarantine_counts() == {"unknown_sensor": 25, "bad_topic": 5}
    kept = store.quarantine(limit=100)
    assert len(kept) == 10  # the newest rows only; the counters keep every message
    assert kept[0].topic == "archive/x"
    assert kept[0].payload == "\ufffd"
    only = store.quarantine(limit=100, reason="unknown_sensor")
    assert only
    assert all(m.reason == "unknown_sensor" for m in only)


def test_a_failed_batch_leaves_nothing_behind(store: SqliteReadingStore) -> None:
    good = reading("b201-th1", T0, temperature=20.0)
    broken = reading("b201-th1", T0, temperature=20.0)
    broken.raw = b"not json"  # cannot happen after decoding; forces SQLite to refuse the batch
    with pytest.raises(Exception, match="malformed JSON"):
        store.write(Batch(readings=[good, broken]))
    assert store.count_readings() == 0
    store.write(Batch(readings=[good]))
    assert store.count_readings() == 1


def test_data_survives_reopening(tmp_path: Path) -> None:
    first = SqliteReadingStore(tmp_path / "r.db")
    first.start()
    first.write(Batch(readings=[reading("b201-th1", T0, temperature=20.0)]))
    first.stop()
    second = SqliteReadingStore(tmp_path / "r.db")
    second.start()
    assert second.count_readings() == 1
