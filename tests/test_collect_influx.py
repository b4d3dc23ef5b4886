"""A regional collector (`lantai collect`) forwards what it stores into the central InfluxDB.

Real Mosquitto and SQLite, the real influxdb-client against tests/fake_influx.py: what the
collector acknowledged is what the central InfluxDB receives, once, even across an outage.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from collectors.mqtt_source import MqttSettings
from lantai.broker import MosquittoBroker
from lantai.collect import CollectorService
from lantai.settings import LantaiSettings, StoreSettings
from sensors.clock import FakeClock
from sensors.facility import Facility
from tests.conftest import EXAMPLE_SITE
from tests.fake_influx import FakeInflux, fake_influx  # noqa: F401
from tests.mqtt_helpers import climate_stream, publish_all, wait_for

pytestmark = pytest.mark.integration


def test_a_regional_collector_forwards_every_stored_reading_once(
    broker: MosquittoBroker,
    facility: Facility,
    tmp_path: Path,
    unique_id: str,
    fake_influx: FakeInflux,  # noqa: F811
) -> None:
    settings = LantaiSettings(
        facility=EXAMPLE_SITE,
        mqtt=MqttSettings(host=broker.host, port=broker.port, client_id=unique_id),
        store=StoreSettings(readings_path=tmp_path / "region.db"),
        influx=fake_influx.settings(retry_initial_s=0.05, retry_max_s=0.2, flush_interval_s=0.05),
    )
    collector = CollectorService(settings, facility, FakeClock())
    assert collector.influx is not None
    collector.start()
    try:
        assert collector.source.wait_connected(10)
        first = climate_stream(facility, 20)
        publish_all(broker.host, broker.port, first, f"{unique_id}-pub1")
        wait_for(lambda: collector.ingest.stats.stored == 20, 20, "the first readings stored")

        def readings_in_influx() -> list[str]:
            return [line for line in fake_influx.accepted if line.startswith("reading,")]

        wait_for(lambda: len(readings_in_influx()) == 20, 20, "the first readings forwarded")
        # The central InfluxDB goes away; the collector keeps storing and acknowledging.
        fake_influx.outage(503)
        second = climate_stream(facility, 20, start=datetime(2026, 3, 2, tzinfo=UTC))
        publish_all(broker.host, broker.port, second, f"{unique_id}-pub2")
        wait_for(lambda: collector.ingest.stats.stored == 40, 20, "the rest stored")
        assert collector.health()["influx"] == []  # not yet an outage worth an alarm
        fake_influx.restore()
        wait_for(lambda: len(readings_in_influx()) == 40, 30, "the spool replayed")
    finally:
        collector.stop()
    lines = readings_in_influx()
    assert len(set(lines)) == 40  # each reading once
    assert all(",site=yunxi," in line for line in lines)
