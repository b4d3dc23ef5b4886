"""What the collector tests share: a listener that records, a store that can refuse, and
the ingest wired to a real broker."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from collectors.decode import Decoder
from collectors.ingest import DEFAULT_MAX_BATCH, Ingest
from collectors.mqtt_source import MqttProtocol, MqttSettings, PahoSource
from collectors.sqlite_store import Batch, SqliteReadingStore
from lantai.broker import MosquittoBroker
from sensors.clock import SystemClock
from sensors.facility import Facility
from sensors.reading import PresenceUpdate, Reading


class Recorder:
    """A ReadingListener that keeps what it was handed (the rules' view)."""

    def __init__(self) -> None:
        self.readings: list[Reading] = []
        self.presence: list[PresenceUpdate] = []

    def on_readings(self, readings: Sequence[Reading], presence: Sequence[PresenceUpdate]) -> None:
        self.readings.extend(readings)
        self.presence.extend(presence)


class SwitchableStore:
    """The real store behind a switch that makes writes fail, like a locked database; it
    records each transaction's size."""

    def __init__(self, inner: SqliteReadingStore, *, failing: bool = False) -> None:
        self.inner = inner
        self.failing = failing
        self.refused = 0
        self.sizes: list[int] = []

    def write(self, batch: Batch) -> None:
        if self.failing:
            self.refused += 1
            raise sqlite3.OperationalError("database is locked")
        self.inner.write(batch)
        self.sizes.append(len(batch.readings) + len(batch.rejected))


def make_ingest(
    broker: MosquittoBroker,
    facility: Facility,
    store: SqliteReadingStore | SwitchableStore,
    client_id: str,
    listener: Recorder | None = None,
    protocol: MqttProtocol = MqttProtocol.V311,
    *,
    max_batch: int = DEFAULT_MAX_BATCH,
) -> tuple[Ingest, PahoSource]:
    """The ingest on ``broker`` (reconnecting within 1-2 s), not yet started."""
    source = PahoSource(
        MqttSettings(
            host=broker.host,
            port=broker.port,
            client_id=client_id,
            protocol=protocol,
            reconnect_min_s=1,
            reconnect_max_s=2,
        )
    )
    ingest = Ingest(
        source,
        Decoder(facility),
        store,
        SystemClock(),
        listener,
        max_batch=max_batch,
        retry_max_s=0.5,
    )
    return ingest, source
