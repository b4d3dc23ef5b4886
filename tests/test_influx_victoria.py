"""Against a real line-protocol server: Debian's VictoriaMetrics takes InfluxDB's v2 write
API (gzip included), so what the forwarder sends is parsed by a real parser and read back.

VictoriaMetrics names a series ``<measurement>_<field>`` with the tags as labels, keeps
milliseconds, and stores booleans as 1 and 0 (strings as 0). The test skips only where the
binary is missing (``apt-get install victoria-metrics``; .ci/run installs it).
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from collectors.decode import Decoder
from collectors.influx_forwarder import InfluxForwarder, spool_path_for
from collectors.influx_lines import AlarmPoint, LineEncoder
from collectors.influx_settings import InfluxSettings
from collectors.influx_writer import InfluxClientWriter
from collectors.sqlite_store import Batch, SqliteReadingStore
from lantai.broker import free_port
from sensors.clock import FakeClock
from sensors.facility import Facility
from sensors.reading import Reading

BINARY = Path("/usr/bin/victoria-metrics")


@pytest.fixture
def victoria(tmp_path: Path) -> Iterator[str]:
    if not BINARY.exists():
        pytest.skip("no /usr/bin/victoria-metrics (apt-get install victoria-metrics)")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [
            str(BINARY),
            f"-storageDataPath={tmp_path / 'vm'}",
            f"-httpListenAddr=127.0.0.1:{port}",
            "-retentionPeriod=100y",  # the test's readings are an hour old, whatever the date
            "-loggerLevel=ERROR",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).text == "OK":
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "VictoriaMetrics did not start"
            assert proc.poll() is None, "VictoriaMetrics exited"
            time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _export(url: str, name: str) -> list[dict[str, Any]]:
    """The series of one metric name, read back once VictoriaMetrics has them (bounded)."""
    deadline = time.monotonic() + 20
    while True:
        httpx.get(f"{url}/internal/force_flush", timeout=5)
        answer = httpx.get(f"{url}/api/v1/export", params={"match[]": name}, timeout=5)
        answer.raise_for_status()
        series = [json.loads(line) for line in answer.text.splitlines()]
        if series or time.monotonic() > deadline:
            return series
        time.sleep(0.1)


def test_readings_and_alarms_are_parsed_and_read_back_from_a_real_server(
    victoria: str, facility: Facility, tmp_path: Path
) -> None:
    store = SqliteReadingStore(tmp_path / "readings.db")
    store.start()
    settings = InfluxSettings(
        url=victoria, org="lantai", bucket="lantai", token=SecretStr("unused-by-victoria")
    )
    clock = FakeClock(datetime.now(UTC).replace(microsecond=0))
    forwarder = InfluxForwarder(
        settings,
        store,
        spool_path_for(store.path),
        LineEncoder(facility),
        InfluxClientWriter(settings),
        clock,
    )
    forwarder.open()
    try:
        start = clock.now() - timedelta(hours=1)
        decoder = Decoder(facility)
        batch = Batch()
        for i in range(3):
            ts = (start + timedelta(minutes=i)).isoformat()
            for topic, body in (
                ("B2-01/b201-th1", f'{{"temperature": {18 + i}, "humidity": 50.5, "ts": "{ts}"}}'),
                (
                    "B2-01/b201-smoke1",
                    f'{{"smoke": {"true" if i == 2 else "false"}, "ts": "{ts}"}}',
                ),
            ):
                reading = decoder.decode(f"archive/yunxi/{topic}", body.encode(), clock.now())
                assert isinstance(reading, Reading), reading
                batch.readings.append(reading)
        store.write(batch)
        forwarder.enqueue_alarm(
            AlarmPoint(
                start,
                "yunxi",
                "B2-01",
                "b201-smoke1",
                "fire",
                "fire",
                "critical",
                "raised",
                7,
                "unacked",
                "火警",
                "Fire",
            )
        )
        while forwarder.step() != settings.flush_interval_s:
            pass
        assert forwarder.stats.forwarded == 7
        assert forwarder.state().last_error is None
    finally:
        forwarder.stop()
        store.stop()

    minutes = [int((start + timedelta(minutes=i)).timestamp() * 1000) for i in range(3)]
    place = {
        "site": "yunxi",
        "building": "main",
        "floor": "F2",
        "room": "B2-01",
        "room_class": "paper",
    }
    (temperature,) = _export(victoria, "reading_temperature")
    assert temperature["metric"] == {
        "__name__": "reading_temperature",
        **place,
        "sensor": "b201-th1",
        "kind": "climate",
    }
    assert temperature["values"] == [18, 19, 20]
    assert temperature["timestamps"] == minutes
    (smoke,) = _export(victoria, "reading_smoke")
    assert (smoke["metric"]["kind"], smoke["values"]) == ("smoke", [0, 0, 1])
    (alarm,) = _export(victoria, "alarm_event_alarm_id")
    assert alarm["metric"] == {
        "__name__": "alarm_event_alarm_id",
        "site": "yunxi",
        "room": "B2-01",
        "sensor": "b201-smoke1",
        "rule": "fire",
        "category": "fire",
        "severity": "critical",
        "change": "raised",
    }
    assert (alarm["values"], alarm["timestamps"]) == ([7], [minutes[0]])
