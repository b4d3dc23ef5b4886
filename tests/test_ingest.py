"""The collector against a real Mosquitto: stored, then acknowledged, and nothing lost."""

from __future__ import annotations

import pytest

from collectors.mqtt_source import MqttProtocol
from collectors.sqlite_store import SqliteReadingStore
from lantai.broker import MosquittoBroker
from sensors.facility import Facility
from tests.ingest_helpers import Recorder, SwitchableStore, make_ingest
from tests.mqtt_helpers import climate_stream, drain_session, publish_all, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def store(readings_store: SqliteReadingStore) -> SqliteReadingStore:
    return readings_store


@pytest.mark.parametrize("protocol", [MqttProtocol.V311, MqttProtocol.V5])
def test_readings_are_stored_then_acknowledged(
    broker: MosquittoBroker,
    facility: Facility,
    store: SqliteReadingStore,
    unique_id: str,
    protocol: MqttProtocol,
) -> None:
    recorder = Recorder()
    ingest, source = make_ingest(broker, facility, store, unique_id, recorder, protocol)
    ingest.start()
    assert source.wait_connected(10)
    good = climate_stream(facility, 500)
    garbage = [
        ("archive/yunxi/B2-01/b201-th1", b'{"humidity": 140}'),
        ("archive/yunxi/B2-01/ghost", b'{"temperature": 20}'),
        ("archive/nonsense", b"x"),
    ]
    publish_all(broker.host, broker.port, good + garbage, f"{unique_id}-pub")
    wait_for(lambda: ingest.stats.stored + ingest.stats.quarantined >= 503, 20, "all messages")
    ingest.stop()
    assert store.count_readings() == 500
    assert store.quarantine_counts() == {"out_of_range": 1, "unknown_sensor": 1, "bad_topic": 1}
    assert len(recorder.readings) == 500
    # Everything was acknowledged: the broker holds nothing more for this session.
    assert drain_session(broker.host, broker.port, unique_id) == 0


def test_nothing_is_acknowledged_until_it_is_written(
    broker: MosquittoBroker, facility: Facility, store: SqliteReadingStore, unique_id: str
) -> None:
    flaky = SwitchableStore(store, failing=True)
    ingest, source = make_ingest(broker, facility, flaky, unique_id)
    ingest.start()
    assert source.wait_connected(10)
    publish_all(broker.host, broker.port, climate_stream(facility, 200), f"{unique_id}-pub")
    wait_for(lambda: flaky.refused >= 2, 10, "the store to refuse writes")
    ingest.stop()  # stops while the store is still down: nothing may have been acked
    assert store.count_readings() == 0

    # A new collector with the same session gets every message again, and stores it once.
    ingest2, _ = make_ingest(broker, facility, store, unique_id)
    ingest2.start()
    wait_for(lambda: ingest2.stats.stored >= 200, 20, "the redelivered stream")
    ingest2.stop()
    assert store.count_readings() == 200


def test_writes_resume_when_the_store_comes_back(
    broker: MosquittoBroker, facility: Facility, store: SqliteReadingStore, unique_id: str
) -> None:
    flaky = SwitchableStore(store, failing=True)
    ingest, source = make_ingest(broker, facility, flaky, unique_id)
    ingest.start()
    assert source.wait_connected(10)
    publish_all(broker.host, broker.port, climate_stream(facility, 300), f"{unique_id}-pub")
    wait_for(lambda: flaky.refused >= 2, 10, "the store to refuse writes")
    flaky.failing = False
    wait_for(lambda: ingest.stats.stored >= 300, 20, "the retried batch")
    ingest.stop()
    assert store.count_readings() == 300
    assert ingest.stats.write_retries >= 2
    assert drain_session(broker.host, broker.port, unique_id) == 0


def test_the_collector_rides_out_a_broker_restart(
    fresh_broker: MosquittoBroker, facility: Facility, store: SqliteReadingStore, unique_id: str
) -> None:
    ingest, source = make_ingest(fresh_broker, facility, store, unique_id)
    ingest.start()
    assert source.wait_connected(10)
    publish_all(fresh_broker.host, fresh_broker.port, climate_stream(facility, 100), "pub-1")
    wait_for(lambda: ingest.stats.stored >= 100, 10, "the first stream")

    fresh_broker.stop()
    wait_for(lambda: not source.connected, 10, "the collector to notice")
    fresh_broker.start()  # same port and persistence directory
    wait_for(lambda: source.connected, 15, "the collector to reconnect")
    later = climate_stream(facility, 100, start=None)
    later = [(t, p.replace(b'"seq": ', b'"seq": 1000')) for t, p in later]  # distinct readings
    # Distinct timestamps too: shift by a day so they are new keys.
    later = [(t, p.replace(b"2026-03-01", b"2026-03-02")) for t, p in later]
    publish_all(fresh_broker.host, fresh_broker.port, later, "pub-2")
    # Rows, not the stored counter: PUBACKs still queued when the broker stopped make it
    # send those messages again, and a redelivered reading is written once (and counted).
    wait_for(lambda: store.count_readings() >= 200, 15, "the stream after the restart")
    ingest.stop()
    assert store.count_readings() == 200
    assert source.session >= 2
