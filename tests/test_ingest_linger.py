"""The decoder gathers a busy stream into parts worth their costs and never holds a quiet one.

``collectors/ingest.py`` (LINGER_S): while the last part held more than one message, the
decoder waits a few milliseconds for paho to queue more; after a part of one message it
goes on at once. Against a real Mosquitto, counted by the ingest's own part counters.
"""

from __future__ import annotations

import pytest

from collectors.sqlite_store import SqliteReadingStore
from lantai.broker import MosquittoBroker
from sensors.facility import Facility
from tests.ingest_helpers import make_ingest
from tests.mqtt_helpers import climate_stream, publish_all, wait_for

pytestmark = pytest.mark.integration


def test_a_quiet_stream_is_never_held(
    broker: MosquittoBroker, facility: Facility, readings_store: SqliteReadingStore, unique_id: str
) -> None:
    ingest, source = make_ingest(broker, facility, readings_store, unique_id)
    ingest.start()
    try:
        assert source.wait_connected(10)
        # One message at a time, each stored before the next is sent: a site's normal pace.
        for n, message in enumerate(climate_stream(facility, 15), start=1):
            publish_all(broker.host, broker.port, [message], f"{unique_id}-pub")

            def stored(n: int = n) -> bool:
                return ingest.stats.stored >= n

            wait_for(stored, 10, f"reading {n}")
    finally:
        ingest.stop()
    assert (ingest.stats.received, ingest.stats.parts) == (15, 15)
    assert ingest.stats.lingers == 0


def test_a_backlog_is_gathered_into_larger_parts(
    broker: MosquittoBroker, facility: Facility, readings_store: SqliteReadingStore, unique_id: str
) -> None:
    # A backlog, as after a restart: the session is made, then 4,000 readings are queued in
    # the broker while the collector is away, and arrive as fast as the broker sends them.
    first, source = make_ingest(broker, facility, readings_store, unique_id)
    first.start()
    try:
        assert source.wait_connected(10)
    finally:
        first.stop()
    publish_all(broker.host, broker.port, climate_stream(facility, 4000), f"{unique_id}-pub")
    ingest, source = make_ingest(broker, facility, readings_store, unique_id)
    ingest.start()
    try:
        wait_for(lambda: ingest.stats.stored >= 4000, 60, "every reading")
    finally:
        ingest.stop()
    stats = ingest.stats
    assert readings_store.count_readings() == 4000
    # The backlog made the stream busy, so the decoder waited for paho to fill its parts
    # (here ~235 messages a part; ~23 with the wait switched off).
    assert stats.lingers > 0, stats
    assert stats.received / stats.parts >= 20, stats
