"""Faults: the time-series store unavailable while readings keep coming.

The whole service (real Mosquitto, real SQLite, the wall clock, the rules in their own
process) takes a live stream while (a) another program holds the readings file's write
lock, or (b) InfluxDB answers 503 (tests/fake_influx.py over real HTTP).

What must hold: alarms are not delayed (the rules see each reading before it is written,
and InfluxDB is downstream of everything); nothing is acknowledged to the broker while
the SQLite file is locked, so the broker keeps it; afterwards every reading is stored
once, in the order published, and reaches InfluxDB ordered by time in each series.

The outage lasts 15 s in ``make test``; the issue's full 5 minutes run by hand with
``LANTAI_FAULT_MINUTES=5 .venv/bin/pytest tests/test_fault_store.py``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from alerts.models import Alarm, AlarmChange, Change
from collectors.influx_settings import InfluxSettings
from collectors.mqtt_source import MqttSettings
from lantai.broker import MosquittoBroker
from lantai.service import LantaiService
from lantai.settings import LantaiSettings, StateSettings, StoreSettings
from sensors.clock import SystemClock
from sensors.facility import Facility, SensorKind
from tests.conftest import EXAMPLE_SITE
from tests.fake_influx import FakeInflux, fake_influx  # noqa: F401
from tests.mqtt_helpers import drain_session, publish_all, wait_for

# How long the store stays unavailable (the issue asks for 5 minutes; see the docstring).
FAULT_S = float(os.environ.get("LANTAI_FAULT_MINUTES", "0.25")) * 60
# The suite's 120 s per test would cut a long run short: the outage plus its aftermath.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(int(3 * FAULT_S) + 120)]
FIRE = "fire:yunxi:B2-01"
SMOKE = ("archive/yunxi/B2-01/b201-smoke1", b'{"smoke": true}')
# Sensors report in rounds this far apart (every climate sensor once a round).
ROUND_S = 0.5


class Changes:
    """An alarm-service listener: what was raised, and when (monotonic seconds)."""

    name = "fault-test"

    def __init__(self) -> None:
        self.raised: dict[str, float] = {}

    def notify(self, change: AlarmChange) -> None:
        if change.change is Change.RAISED:
            self.raised.setdefault(change.alarm.key, time.monotonic())


class Stream:
    """Every climate sensor of the example site, one reading each a round, stamped now."""

    def __init__(self, broker: MosquittoBroker, facility: Facility, client_id: str) -> None:
        self.host, self.port = broker.host, broker.port
        self.client_id = client_id
        self.sensors = sorted(
            (s for s in facility.all_sensors() if s.kind is SensorKind.CLIMATE),
            key=lambda s: s.id,
        )
        self.sent = 0

    def round(self) -> None:
        now = datetime.now(UTC).isoformat()
        batch = []
        for s in self.sensors:
            body = {"temperature": 19.5, "humidity": 50.0, "ts": now, "seq": self.sent}
            batch.append((f"archive/{s.site}/{s.room}/{s.id}", json.dumps(body).encode()))
            self.sent += 1
        publish_all(self.host, self.port, batch, self.client_id)

    def run_for(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.round()
            time.sleep(ROUND_S)


def _settings(
    broker: MosquittoBroker, tmp_path: Path, client_id: str, influx: InfluxSettings | None = None
) -> LantaiSettings:
    return LantaiSettings(
        facility=EXAMPLE_SITE,
        mqtt=MqttSettings(host=broker.host, port=broker.port, client_id=client_id),
        store=StoreSettings(readings_path=tmp_path / "readings.db"),
        state=StateSettings(url=f"sqlite:///{tmp_path / 'state.db'}"),
        influx=influx,
    )


@pytest.fixture
def changes() -> Changes:
    return Changes()


@contextmanager
def running(
    settings: LantaiSettings, facility: Facility, changes: Changes
) -> Iterator[LantaiService]:
    """The whole service on the wall clock (the rules in their own process), no console."""
    service = LantaiService(settings, facility, SystemClock(), extra_listeners=[changes])
    service.start(console=False)
    try:
        assert service.source.wait_connected(10)
        yield service
    finally:
        service.stop()


def alarm_state(service: LantaiService, key: str) -> Alarm | None:
    """The newest alarm record of ``key``, if any."""
    found = [a for a in service.alarm_store.list(states=None) if a.key == key]
    return max(found, key=lambda a: a.id, default=None)


def stored_seqs(service: LantaiService) -> list[int]:
    """The ``seq`` of every stored climate reading, in the order the store wrote them."""
    rows = service.readings.readings_after(0, 1_000_000)
    return [json.loads(payload)["seq"] for _, _, _, _, _, payload in rows if "seq" in payload]


def test_a_locked_readings_file_holds_the_acks_not_the_alarms_and_loses_nothing(
    broker: MosquittoBroker,
    facility: Facility,
    tmp_path: Path,
    unique_id: str,
    changes: Changes,
) -> None:
    settings = _settings(broker, tmp_path, unique_id)
    stream = Stream(broker, facility, f"{unique_id}-pub")
    with running(settings, facility, changes) as service:
        stream.round()
        wait_for(lambda: service.ingest.stats.stored == stream.sent, 20, "the first round")
        before = service.ingest.stats.stored

        # Another program takes the readings file's write lock and holds it.
        locker = sqlite3.connect(settings.store.readings_path, isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")
        try:
            stream.run_for(min(2.0, FAULT_S / 4))
            wait_for(lambda: service.ingest.store_failing, 20, "the store to refuse")
            # Smoke in B2-01 while the store is locked: the fire alarm comes at once.
            sent_at = time.monotonic()
            publish_all(broker.host, broker.port, [SMOKE], f"{unique_id}-smoke")
            wait_for(lambda: FIRE in changes.raised, 10, "the fire alarm during the lock")
            assert changes.raised[FIRE] >= sent_at
            # ...and nothing has been written or acknowledged meanwhile.
            assert service.ingest.stats.stored == before
            assert service.readings.readings("yunxi", "b201-smoke1") == []
            problems = service.health()["problems"]
            assert isinstance(problems, list)
            assert "store_write_failing" in problems
            stream.run_for(FAULT_S - (time.monotonic() - sent_at))
            assert service.ingest.stats.stored == before
        finally:
            locker.execute("ROLLBACK")
            locker.close()

        total = stream.sent + 1  # and the smoke reading
        wait_for(lambda: service.ingest.stats.stored == total, 90, "the backlog written")
        # Every reading once, in the order published (one publisher, QoS 1).
        assert stored_seqs(service) == list(range(stream.sent))
        assert len(service.readings.readings("yunxi", "b201-smoke1")) == 1
        assert service.readings.count_readings() == total
        assert service.ingest.stats.write_retries >= 2
        assert not service.ingest.store_failing
        assert service.health()["problems"] == []
        # Lantai's hearing was never in doubt long enough to call any sensor silent.
        silent = [k for k in changes.raised if k.startswith("sensor_silent:")]
        climate = {s.id for s in stream.sensors}
        assert [k for k in silent if k.rsplit(":", 1)[1] in climate] == []
    # Everything was acknowledged in the end: the broker holds nothing for the session.
    assert drain_session(broker.host, broker.port, unique_id) == 0


def test_influx_answering_503_delays_no_alarm_and_replays_in_time_order(
    broker: MosquittoBroker,
    facility: Facility,
    tmp_path: Path,
    unique_id: str,
    changes: Changes,
    fake_influx: FakeInflux,  # noqa: F811
) -> None:
    influx = fake_influx.settings(
        timeout_s=1.0,
        retry_initial_s=0.05,
        retry_max_s=1.0,
        flush_interval_s=0.05,
        outage_alarm_after_s=min(5.0, FAULT_S / 2),
    )
    settings = _settings(broker, tmp_path, unique_id, influx=influx)
    stream = Stream(broker, facility, f"{unique_id}-pub")
    fake_influx.outage(503)
    with running(settings, facility, changes) as service:
        assert service.influx is not None
        assert service.influx_health is not None
        stream.run_for(min(2.0, FAULT_S / 4))
        sent_at = time.monotonic()
        publish_all(broker.host, broker.port, [SMOKE], f"{unique_id}-smoke")
        wait_for(lambda: FIRE in changes.raised, 10, "the fire alarm during the outage")
        assert changes.raised[FIRE] >= sent_at
        stream.run_for(FAULT_S - (time.monotonic() - sent_at))
        total = stream.sent + 1
        # Stored locally and acknowledged as ever; InfluxDB has none of it yet.
        wait_for(lambda: service.ingest.stats.stored == total, 30, "the readings stored")
        assert fake_influx.accepted == []
        refused = fake_influx.requests
        assert len(refused) >= 2  # retried, with backoff
        state = service.influx.state()
        assert state.depth >= total
        assert (state.last_error or "").startswith("503")
        assert service.health()["problems"] == []  # InfluxDB's trouble, not the monitoring's
        # The influx_spool alarm (checked on the service's 30 s timer) names the outage.
        wait_for(lambda: service.influx is not None and service.influx.state().outage, 20, "")
        service.influx_health.check()
        wait_for(lambda: "influx_spool:yunxi" in changes.raised, 5, "the influx_spool alarm")
        spool_alarm = alarm_state(service, "influx_spool:yunxi")
        assert spool_alarm is not None
        assert spool_alarm.state.active
        assert "503" in spool_alarm.message_en

        fake_influx.restore()

        def readings_in_influx() -> list[str]:
            return [line for line in fake_influx.accepted if line.startswith("reading,")]

        wait_for(lambda: len(readings_in_influx()) == total, 60, "every reading in InfluxDB")
        wait_for(lambda: service.influx is not None and service.influx.state().depth == 0, 10, "")
        service.influx_health.check()
        cleared = alarm_state(service, "influx_spool:yunxi")
        assert cleared is not None
        assert not cleared.state.active  # returned to normal (still to be acknowledged)
    lines = readings_in_influx()
    assert len(set(lines)) == len(lines)  # each point once
    # Per series (one sensor), timestamps only go forward: a replay is in time order.
    by_sensor: dict[str, list[int]] = {}
    for line in lines:
        sensor = line.split(",sensor=")[1].split(",")[0].split(" ")[0]
        by_sensor.setdefault(sensor, []).append(int(line.rsplit(" ", 1)[1]))
    for sensor, stamps in by_sensor.items():
        assert stamps == sorted(stamps), sensor
        assert len(set(stamps)) == len(stamps), sensor
    assert len(by_sensor["b201-smoke1"]) == 1
