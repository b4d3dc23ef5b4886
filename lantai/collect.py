"""A collector-only process (``lantai collect``): MQTT → decode → durable store → ack.

No rules, no alarms, no console. This is what a region runs to take the stream of many
archives: N such processes in one MQTT shared-subscription group (``mqtt.share_group``)
split the stream between them, each writing what it gets to its own store and
acknowledging it only once written. The rules stay where every reading of a sensor reaches
them: each archive's own ``lantai run`` (README "Many archives").

Only the settings' ``facility``, ``mqtt``, ``store`` and ``influx`` sections are read here.
With ``influx`` set, a forwarder tails the local store into the (central) InfluxDB, as
``lantai run`` does: the local SQLite file is the durable spool that gates each ack.
"""

from __future__ import annotations

from dataclasses import asdict

from collectors.decode import Decoder
from collectors.influx_forwarder import InfluxForwarder
from collectors.ingest import Ingest, ReadingListener
from collectors.mqtt_source import PahoSource
from collectors.sqlite_store import SqliteReadingStore
from collectors.topics import subscription
from lantai.influx_sink import build_forwarder
from lantai.settings import LantaiSettings
from sensors.clock import Clock, SystemClock
from sensors.facility import Facility


class CollectorService:
    """Source, decoder, store and ingest loop, started and stopped in order."""

    def __init__(
        self,
        settings: LantaiSettings,
        facility: Facility,
        clock: Clock | None = None,
        *,
        listener: ReadingListener | None = None,
    ) -> None:
        """``listener`` sees each accepted batch before it is written (e.g. a forwarder)."""
        self.settings = settings
        self.facility = facility
        self.clock = clock or SystemClock()
        self.store = SqliteReadingStore(settings.store.readings_path, settings.store.durability)
        self.source = PahoSource(settings.mqtt)
        self.ingest = Ingest(
            self.source,
            Decoder(facility, settings.mqtt.topic_prefix),
            self.store,
            self.clock,
            listener,
        )
        self.influx: InfluxForwarder | None = None
        if settings.influx is not None:
            self.influx = build_forwarder(settings.influx, self.store, facility, self.clock)

    @property
    def subscription(self) -> str:
        """The topic filter this collector subscribes to."""
        mqtt = self.settings.mqtt
        return subscription(mqtt.topic_prefix, mqtt.share_group)

    def start(self) -> None:
        self.store.start()
        if self.influx is not None:
            self.influx.start()
        self.ingest.start()

    def stop(self) -> None:
        """Write and acknowledge what was received, then disconnect and close the store."""
        self.ingest.stop()
        if self.influx is not None:
            self.influx.stop()
        self.store.stop()

    def health(self) -> dict[str, object]:
        """The same ingest figures ``lantai run`` reports at /api/health."""
        problems = []
        if not self.source.connected:
            problems.append("mqtt_disconnected")
        if self.ingest.store_failing:
            problems.append("store_write_failing")
        return {
            "client_id": self.settings.mqtt.client_id,
            "subscription": self.subscription,
            "mqtt_connected": self.source.connected,
            "ingest": {k: v for k, v in asdict(self.ingest.stats).items() if k != "last_write_at"},
            "ingest_backlog": self.ingest.backlog,
            "problems": problems,
            "influx": None if self.influx is None else self.influx.state().problems,
        }
