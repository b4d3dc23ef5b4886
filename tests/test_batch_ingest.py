"""Batches through a real Mosquitto: every element stored or quarantined, then the one ack."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from collectors.mqtt_source import MqttProtocol
from collectors.sqlite_store import SqliteReadingStore
from lantai.broker import MosquittoBroker
from sensors.facility import Facility, SensorKind
from tests.ingest_helpers import Recorder, SwitchableStore, make_ingest
from tests.mqtt_helpers import drain_session, publish_all, wait_for

pytestmark = pytest.mark.integration

BATCH = "archive/yunxi/_batch"


@pytest.fixture
def store(readings_store: SqliteReadingStore) -> SqliteReadingStore:
    return readings_store


def batches(
    facility: Facility, count: int, size: int, start: datetime | None = None
) -> list[tuple[str, bytes]]:
    """``count`` readings as arrays of ``size``, round-robin over the climate sensors."""
    sensors = sorted(
        (s for s in facility.all_sensors() if s.kind is SensorKind.CLIMATE), key=lambda s: s.id
    )
    begin = start or datetime(2026, 3, 1, tzinfo=UTC)
    items = []
    for i in range(count):
        s = sensors[i % len(sensors)]
        ts = (begin + timedelta(seconds=i)).isoformat()
        items.append({"room": s.room, "sensor": s.id, "temperature": 19.5, "ts": ts, "seq": i})
    return [(BATCH, json.dumps(items[i : i + size]).encode()) for i in range(0, len(items), size)]


@pytest.mark.parametrize("protocol", [MqttProtocol.V311, MqttProtocol.V5])
def test_batches_are_stored_element_by_element_then_acknowledged(
    broker: MosquittoBroker,
    facility: Facility,
    store: SqliteReadingStore,
    unique_id: str,
    protocol: MqttProtocol,
) -> None:
    recorder = Recorder()
    ingest, source = make_ingest(broker, facility, store, unique_id, recorder, protocol=protocol)
    ingest.start()
    assert source.wait_subscribed(10)
    good = batches(facility, 1000, 100)
    mixed = json.dumps(
        [
            {"room": "B2-01", "sensor": "b201-th1", "temperature": 21, "ts": "2026-03-02T00:00Z"},
            {"room": "B2-01", "sensor": "b201-th1", "humidity": 140},
            {"room": "B2-01", "sensor": "ghost", "temperature": 20},
            {"room": "B3-01", "sensor": "b201-th1", "temperature": 20},
        ]
    ).encode()
    published = [*good, (BATCH, mixed), (BATCH, b"not json"), (BATCH, b"[]")]
    publish_all(broker.host, broker.port, published, f"{unique_id}-pub")
    wait_for(lambda: ingest.stats.received >= len(published), 20, "every message")
    ingest.stop()
    assert store.count_readings() == 1001
    assert store.quarantine_counts() == {
        "out_of_range": 1,
        "unknown_sensor": 1,
        "wrong_room": 1,
        "not_json": 1,
        "not_an_object": 1,
    }
    quarantined = {q.detail.split(":")[0] for q in store.quarantine(limit=10)}
    assert {"batch[1]", "batch[2]", "batch[3]"} < quarantined
    assert len(recorder.readings) == 1001  # the rules saw every good element
    assert ingest.stats.stored == 1001
    assert ingest.stats.quarantined == 5
    # Everything was acknowledged: the broker holds nothing more for this session.
    assert drain_session(broker.host, broker.port, unique_id) == 0


def test_a_redelivered_batch_is_stored_once(
    broker: MosquittoBroker, facility: Facility, store: SqliteReadingStore, unique_id: str
) -> None:
    ingest, source = make_ingest(broker, facility, store, unique_id)
    ingest.start()
    assert source.wait_subscribed(10)
    once = batches(facility, 300, 50)
    publish_all(broker.host, broker.port, once + once, f"{unique_id}-pub")
    wait_for(lambda: ingest.stats.received >= 12, 20, "both copies")
    ingest.stop()
    assert ingest.stats.stored == 600  # both copies were accepted...
    assert store.count_readings() == 300  # ...and each reading is kept once, by its key


def test_no_element_is_acknowledged_until_the_whole_batch_is_written(
    broker: MosquittoBroker, facility: Facility, store: SqliteReadingStore, unique_id: str
) -> None:
    watched = SwitchableStore(store)
    watched.failing = True
    ingest, source = make_ingest(broker, facility, watched, unique_id)
    ingest.start()
    assert source.wait_subscribed(10)
    publish_all(broker.host, broker.port, batches(facility, 500, 250), f"{unique_id}-pub")
    wait_for(lambda: watched.refused >= 2, 10, "the store to refuse writes")
    ingest.stop()  # stops with the store still down: neither batch may have been acked
    assert store.count_readings() == 0

    # The same session gets both messages again, and all 500 elements are written.
    again, _ = make_ingest(broker, facility, store, unique_id)
    again.start()
    wait_for(lambda: again.stats.stored >= 500, 20, "the redelivered batches")
    again.stop()
    assert store.count_readings() == 500
    assert drain_session(broker.host, broker.port, unique_id) == 0


def test_a_drained_backlog_of_batches_is_written_in_bounded_transactions(
    broker: MosquittoBroker, facility: Facility, store: SqliteReadingStore, unique_id: str
) -> None:
    # A persistent session, then a backlog queued while the collector is away...
    first, source = make_ingest(broker, facility, store, unique_id)
    first.start()
    assert source.wait_subscribed(10)
    first.stop()
    publish_all(broker.host, broker.port, batches(facility, 4000, 100), f"{unique_id}-pub")
    # ...drained at once: 40 messages would make one 4,000-row transaction.
    watched = SwitchableStore(store)
    ingest, _ = make_ingest(broker, facility, watched, unique_id, max_batch=500)
    ingest.start()
    wait_for(lambda: ingest.stats.stored >= 4000, 20, "the backlog")
    ingest.stop()
    assert store.count_readings() == 4000
    assert sum(watched.sizes) == 4000
    # Drained in bulk, and split at a message boundary once a transaction reached
    # max_batch rows (without the split one transaction would take most of the backlog).
    assert 500 <= max(watched.sizes) < 500 + 100
    assert drain_session(broker.host, broker.port, unique_id) == 0
