"""The whole service with InfluxDB hung: alarms come as ever, and everything arrives after.

Real Mosquitto, real SQLite, the real influxdb-client against tests/fake_influx.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alerts.models import AlarmChange, Change
from collectors.mqtt_source import MqttSettings
from lantai.broker import MosquittoBroker
from lantai.service import LantaiService
from lantai.settings import LantaiSettings, StateSettings, StoreSettings
from sensors.clock import FakeClock
from sensors.facility import Facility
from tests.conftest import EXAMPLE_SITE
from tests.fake_influx import FakeInflux, fake_influx  # noqa: F401
from tests.mqtt_helpers import climate_stream, publish_all, wait_for

pytestmark = pytest.mark.integration


class Changes:
    """An alarm-service listener: the keys of the alarms raised, in order."""

    name = "test"

    def __init__(self) -> None:
        self.raised: list[str] = []

    def notify(self, change: AlarmChange) -> None:
        if change.change is Change.RAISED:
            self.raised.append(change.alarm.key)


def test_a_hung_influx_delays_no_alarm_and_everything_arrives_in_order_after(
    broker: MosquittoBroker,
    facility: Facility,
    tmp_path: Path,
    unique_id: str,
    fake_influx: FakeInflux,  # noqa: F811
) -> None:
    fake_influx.hang()
    settings = LantaiSettings(
        facility=EXAMPLE_SITE,
        mqtt=MqttSettings(host=broker.host, port=broker.port, client_id=unique_id),
        store=StoreSettings(readings_path=tmp_path / "readings.db"),
        state=StateSettings(url=f"sqlite:///{tmp_path / 'state.db'}"),
        influx=fake_influx.settings(
            timeout_s=1.0, retry_initial_s=0.05, retry_max_s=0.2, flush_interval_s=0.05
        ),
    )
    changes = Changes()
    service = LantaiService(settings, facility, FakeClock(), extra_listeners=[changes])
    service.start(console=False)
    try:
        assert service.source.wait_connected(10)
        stream = climate_stream(facility, 30)
        smoke = ("archive/yunxi/B2-01/b201-smoke1", b'{"smoke": true}')
        publish_all(broker.host, broker.port, [*stream, smoke], f"{unique_id}-pub")
        # The fire alarm is recorded while the forwarder is stuck in a request.
        wait_for(lambda: "fire:yunxi:B2-01" in changes.raised, 20, "the fire alarm")
        wait_for(lambda: service.ingest.stats.stored == 31, 20, "the readings stored")
        wait_for(lambda: len(fake_influx.requests) >= 1, 10, "a write tried")
        assert fake_influx.accepted == []
        health = service.health()
        assert health["problems"] == []  # InfluxDB's trouble is not the monitoring's
        influx = health["influx"]
        assert isinstance(influx, dict)
        assert influx["depth"] >= 31
        fake_influx.restore()

        def arrived() -> list[str]:
            return [line for line in fake_influx.accepted if line.startswith("reading,")]

        wait_for(lambda: len(arrived()) == 31, 30, "every reading in InfluxDB")
        wait_for(
            lambda: any(
                line.startswith("alarm_event,") and ",category=fire," in line
                for line in fake_influx.accepted
            ),
            10,
            "the alarm event in InfluxDB",
        )
        wait_for(lambda: service.influx is not None and service.influx.state().depth == 0, 10, "")
    finally:
        service.stop()
    # In the order published (one publisher, QoS 1): the stream's humidity, then smoke.
    lines = arrived()
    sensors = [line.split(",sensor=")[1].split(",")[0] for line in lines]
    assert sensors == [topic.rsplit("/", 1)[1] for topic, _ in [*stream, smoke]]
    seqs = [json.loads(body)["seq"] for _, body in stream]
    assert seqs == list(range(30))
    assert lines[-1].split(" ")[1] == "smoke=true"
    assert len(set(lines)) == len(lines)
