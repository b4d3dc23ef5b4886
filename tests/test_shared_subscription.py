"""Collectors scale out with an MQTT shared subscription; the rules stay partitioned by site.

Two real `lantai collect` processes in one ``$share`` group split a stream between them
with nothing lost or duplicated. A rules engine on a plain subscription to the site sees
every reading of a flapping sensor and raises one alarm, while each collector saw only
part of that sensor's readings: which is why rules never sit behind ``$share``.
"""

from __future__ import annotations

import itertools
import json
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

import pytest

from collectors.decode import Decoder
from collectors.ingest import Ingest
from collectors.mqtt_source import MqttProtocol, MqttSettings, PahoSource
from collectors.sqlite_store import SqliteReadingStore
from collectors.topics import subscription
from lantai.broker import MosquittoBroker
from lantai.cli import EXIT_CONFIG, main
from lantai.service import LantaiService
from lantai.settings import load_settings
from rules.engine import RulesEngine
from sensors.clock import FakeClock, from_ns, to_ns
from sensors.events import Transition
from sensors.facility import Facility, SensorKind
from sensors.yamlconfig import ConfigError
from tests.conftest import EXAMPLE_SITE, ROOT
from tests.mqtt_helpers import publish_all, wait_for
from tests.scenarios import RecordingSink, reading

pytestmark = pytest.mark.integration

EXAMPLE_COLLECT = ROOT / "lantai" / "example-collect.yaml"
GROUP = "region"
START = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
FLAPPING = ("B2-01", "b201-th1")  # a paper stack: raise above 24 °C for 5 min, clear below 23.5
TOTAL = 4000
LANTAI = (sys.executable, "-m", "lantai")


def test_the_example_collector_settings_load_with_a_share_group() -> None:
    settings = load_settings(EXAMPLE_COLLECT)
    assert settings.mqtt.share_group == GROUP
    assert settings.mqtt.protocol is MqttProtocol.V5
    assert settings.facility.resolve() == EXAMPLE_SITE.resolve()
    assert subscription(settings.mqtt.topic_prefix, settings.mqtt.share_group) == (
        "$share/region/archive/#"
    )


def test_lantai_run_refuses_a_share_group(facility: Facility) -> None:
    settings = load_settings(EXAMPLE_COLLECT)
    with pytest.raises(ConfigError) as refused:
        LantaiService(settings, facility)
    assert "mqtt.share_group" in str(refused.value)


def test_a_bad_client_id_is_refused_before_connecting(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["collect", "--settings", str(EXAMPLE_COLLECT), "--client-id", "no spaces"])
    assert code == EXIT_CONFIG
    assert "--client-id: mqtt.client_id: String should match pattern" in capsys.readouterr().err


@dataclass
class Collector:
    """A `lantai collect` child process and the lines it printed."""

    client_id: str
    db: Path
    process: subprocess.Popen[str]
    lines: queue.Queue[str]

    def line(self, timeout: float) -> str:
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"{self.client_id} printed nothing in {timeout}s") from None


def _pump(stream: IO[str], into: queue.Queue[str]) -> None:
    for line in stream:
        into.put(line.rstrip("\n"))


def start_collector(broker: MosquittoBroker, tmp_path: Path, client_id: str) -> Collector:
    db = tmp_path / f"{client_id}.db"
    config = tmp_path / f"{client_id}.yaml"
    config.write_text(
        f"facility: {EXAMPLE_SITE}\n"
        "mqtt:\n"
        f"  host: {broker.host}\n"
        f"  port: {broker.port}\n"
        '  protocol: "5"\n'
        f"  share_group: {GROUP}\n"
        "store:\n"
        f"  readings_path: {db}\n",
        encoding="utf-8",
    )
    log = (tmp_path / f"{client_id}.log").open("w", encoding="utf-8")
    process = subprocess.Popen(
        [*LANTAI, "collect", "--settings", str(config), "--client-id", client_id],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    log.close()  # the child has its own handle
    lines: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    threading.Thread(target=_pump, args=(process.stdout, lines), daemon=True).start()
    return Collector(client_id, db, process, lines)


@pytest.fixture
def collectors(fresh_broker: MosquittoBroker, tmp_path: Path) -> Iterator[list[Collector]]:
    started = [start_collector(fresh_broker, tmp_path, f"collector-{n}") for n in (1, 2)]
    yield started
    for c in started:
        if c.process.poll() is None:
            c.process.kill()
            c.process.wait(10)


def flapping_values() -> list[float]:
    """One reading every 30 s: normal, then 8 min above the limit, then hovering across it."""
    normal = [20.0] * 10
    above = [24.6] * 16  # raises once 5 min have passed above 24
    hovering = [23.8, 24.4] * 17  # never below 23.5: hysteresis holds the one alarm
    return normal + above + hovering


def stream(facility: Facility) -> list[tuple[str, bytes]]:
    """TOTAL readings over every climate sensor, the flapping sensor's spread through them."""
    others = sorted(
        (s for s in facility.all_sensors() if s.kind is SensorKind.CLIMATE and s.id != FLAPPING[1]),
        key=lambda s: s.id,
    )
    flapping = flapping_values()
    background = TOTAL - len(flapping)
    messages: list[tuple[str, bytes]] = []
    for i in range(background):
        s = others[i % len(others)]
        ts = START + timedelta(seconds=i)
        body = {"temperature": 19.5, "humidity": 50.0, "ts": ts.isoformat(), "seq": i}
        messages.append((f"archive/{s.site}/{s.room}/{s.id}", json.dumps(body).encode()))
    room, sensor = FLAPPING
    # An odd stride (each insert shifts the next by one, so 64 + 1): the broker deals the
    # group's messages out in turn, and an even stride would hand them all to one member.
    every = 64
    assert every * len(flapping) < background
    for k, value in reversed(list(enumerate(flapping))):
        ts = START + timedelta(seconds=30 * k)
        body = {"temperature": value, "humidity": 50.0, "ts": ts.isoformat(), "seq": k}
        messages.insert(k * every, (f"archive/yunxi/{room}/{sensor}", json.dumps(body).encode()))
    return messages


def stored_keys(db: Path) -> set[tuple[str, str, int]]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return set(conn.execute("SELECT site, sensor, ts_ns FROM readings"))


def count(db: Path) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM readings").fetchone()[0])


def test_two_collectors_in_a_share_group_split_the_stream_and_rules_see_it_whole(
    fresh_broker: MosquittoBroker,
    collectors: list[Collector],
    facility: Facility,
    tmp_path: Path,
) -> None:
    for c in collectors:
        line = c.line(timeout=30)
        assert line == f"Lantai collector {c.client_id} subscribed to $share/{GROUP}/archive/#"

    # The edge: one rules engine on a plain subscription, as `lantai run` holds it.
    clock = FakeClock(START)
    sink = RecordingSink()
    engine = RulesEngine(facility, sink, clock)
    engine.start()
    edge_store = SqliteReadingStore(tmp_path / "edge.db")
    edge_store.start()
    source = PahoSource(
        MqttSettings(
            host=fresh_broker.host,
            port=fresh_broker.port,
            client_id="edge-rules",
            protocol=MqttProtocol.V5,
        )
    )
    edge = Ingest(source, Decoder(facility), edge_store, clock, engine)
    edge.start()
    try:
        assert source.wait_subscribed(10)
        messages = stream(facility)
        publish_all(fresh_broker.host, fresh_broker.port, messages, "gateway")
        wait_for(lambda: edge.stats.stored >= TOTAL, 60, "the edge to take the stream")
        wait_for(
            lambda: sum(count(c.db) for c in collectors) >= TOTAL,
            60,
            "the collectors to store the stream",
        )
    finally:
        edge.stop()
        edge_store.stop()
    for c in collectors:
        c.process.send_signal(signal.SIGTERM)
    for c in collectors:
        assert c.process.wait(30) == 0
        summary = json.loads(c.line(timeout=5))
        assert summary["stopped"] is True
        assert summary["ingest"]["quarantined"] == 0

    # Nothing lost, nothing twice: the shares are disjoint and make up the stream.
    first, second = (stored_keys(c.db) for c in collectors)
    published = stored_keys(tmp_path / "edge.db")
    assert len(published) == TOTAL
    assert first, "collector-1 got nothing"
    assert second, "collector-2 got nothing"
    assert first.isdisjoint(second)
    assert first | second == published
    split = (len(first), len(second))
    print(f"shared-subscription split: {split[0]} + {split[1]} = {TOTAL}")

    # The flapping sensor's readings were interleaved across both collectors...
    sensor = FLAPPING[1]
    flapping_ts = sorted(k[2] for k in published if k[1] == sensor)
    assert len(flapping_ts) == len(flapping_values())
    owner = [1 if ("yunxi", sensor, ts) in first else 2 for ts in flapping_ts]
    assert set(owner) == {1, 2}, owner
    switches = sum(a != b for a, b in itertools.pairwise(owner))
    assert switches >= 2, owner  # not one contiguous half each: truly interleaved

    # ...while the engine on the plain subscription saw all of them, in order, and raised
    # the hovering sensor's temperature alarm exactly once, at 5 min past the first high.
    limits = [e for e in sink.events if e.sensor == sensor and e.rule == "temperature_limits"]
    assert [(e.transition, e.at) for e in limits] == [
        (Transition.RAISE, START + timedelta(seconds=30 * 20))
    ]
    assert engine.stats.readings == TOTAL
    assert to_ns(START) == flapping_ts[0]

    # Rules behind $share would each hold half a sensor's story: here each half still
    # spans the 5 minutes above, so each raises its own alarm, and the guard gets two.
    raised = [raises_from_share(facility, c.db, sensor) for c in collectors]
    assert raised == [1, 1]


def raises_from_share(facility: Facility, db: Path, sensor: str) -> int:
    """Feed one collector's share of a sensor to an engine of its own; count its raises."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "SELECT ts_ns, payload FROM readings WHERE sensor = ? ORDER BY ts_ns", (sensor,)
        ).fetchall()
    sink = RecordingSink()
    partial = RulesEngine(facility, sink, FakeClock(START))
    partial.start()
    partial.on_readings(
        [reading(facility, sensor, from_ns(ts), json.loads(body)) for ts, body in rows], []
    )
    return sum(
        e.rule == "temperature_limits" and e.transition is Transition.RAISE for e in sink.events
    )
