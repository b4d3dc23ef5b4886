"""``lantai bench ingest``: the real pipeline against the MQTT client's own ceiling.

The stream is queued in the broker first (each consumer has a persistent session), then
drained by (1) ``mosquitto_sub``, the C client, as the physical limit, (2) a bare paho
subscriber that only counts, on the same protocol as the pipeline, and (3) the pipeline:
decode, validate, rules, durable SQLite write, acknowledge. Same stream, same run.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psutil
from paho.mqtt.enums import CallbackAPIVersion

from alerts.listeners.log import LogListener
from alerts.service import AlarmService
from alerts.store import AlarmStore
from alerts.tables import create_state_engine
from collectors.decode import Decoder
from collectors.ingest import Ingest, ReadingListener
from collectors.mqtt_source import MqttProtocol, MqttSettings, PahoSource
from collectors.sqlite_store import Durability, SqliteReadingStore
from lantai.bench.stream import bench_facility
from lantai.broker import MosquittoBroker
from rules.engine import RulesEngine
from sensors.clock import SystemClock
from sensors.facility import Facility


def _paho(client_id: str, protocol: MqttProtocol) -> mqtt.Client:
    v5 = protocol is MqttProtocol.V5
    return mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
        clean_session=None if v5 else False,
    )


def _connect(client: mqtt.Client, broker: MosquittoBroker, protocol: MqttProtocol) -> None:
    if protocol is MqttProtocol.V5:
        from paho.mqtt.packettypes import PacketTypes  # noqa: PLC0415
        from paho.mqtt.properties import Properties  # noqa: PLC0415

        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = 3600
        client.connect(broker.host, broker.port, 60, clean_start=False, properties=props)
    else:
        client.connect(broker.host, broker.port, 60)


def prime_session(broker: MosquittoBroker, client_id: str, protocol: MqttProtocol) -> None:
    """Create a persistent session subscribed to the stream, then leave."""
    client = _paho(client_id, protocol)
    subscribed = threading.Event()
    client.on_subscribe = lambda *_: subscribed.set()
    client.on_connect = lambda c, *_: c.subscribe("archive/#", qos=1)
    _connect(client, broker, protocol)
    client.loop_start()
    if not subscribed.wait(10):
        raise TimeoutError(f"{client_id} was not subscribed")
    client.disconnect()
    client.loop_stop()


def drain_bare_paho(
    broker: MosquittoBroker, count: int, protocol: MqttProtocol, client_id: str
) -> float:
    """A paho subscriber that only counts: the ceiling for any Python pipeline on paho."""
    client = _paho(client_id, protocol)
    done = threading.Event()
    seen = [0]

    def on_message(*_: Any) -> None:  # noqa: ANN401
        seen[0] += 1
        if seen[0] >= count:
            done.set()

    client.on_message = on_message
    began = time.perf_counter()
    _connect(client, broker, protocol)
    client.loop_start()
    if not done.wait(600):
        raise TimeoutError(f"bare paho saw {seen[0]} of {count}")
    elapsed = time.perf_counter() - began
    client.disconnect()
    client.loop_stop()
    return count / elapsed


def drain_mosquitto_sub(broker: MosquittoBroker, count: int, client_id: str) -> float | None:
    """The C client draining the same backlog: the physical limit on this machine."""
    binary = shutil.which("mosquitto_sub")
    if binary is None:
        return None
    args = [binary, "-h", broker.host, "-p", str(broker.port), "-q", "1", "-c", "-i", client_id]
    began = time.perf_counter()
    subprocess.run(
        [*args, "-t", "archive/#", "-C", str(count)],
        check=True,
        timeout=600,
        stdout=subprocess.DEVNULL,
    )
    return count / (time.perf_counter() - began)


def prime_mosquitto_sub(broker: MosquittoBroker, client_id: str) -> None:
    binary = shutil.which("mosquitto_sub")
    if binary is not None:
        subprocess.run(
            [
                binary,
                "-h",
                broker.host,
                "-p",
                str(broker.port),
                "-q",
                "1",
                "-c",
                "-i",
                client_id,
                "-t",
                "archive/#",
                "-E",
            ],
            check=True,
            timeout=30,
        )


def rules_listener(facility: Facility, workdir: Path) -> ReadingListener:
    """The full default rule set, publishing to the real alarm service and store."""
    store = AlarmStore(create_state_engine(f"sqlite:///{workdir / 'state.db'}"))
    alarms = AlarmService(store, facility, SystemClock(), listeners=[LogListener()])
    alarms.start(deliver=False)  # no notifiers here: nothing to deliver
    engine = RulesEngine(facility, alarms, SystemClock())
    engine.start()
    return engine


def drain_pipeline(
    broker: MosquittoBroker,
    facility: Facility,
    count: int,
    protocol: MqttProtocol,
    client_id: str,
    workdir: Path,
    *,
    rules: bool,
) -> tuple[float, int, int]:
    """Drain with the real pipeline; returns (readings/s, stored rows, batches)."""
    store = SqliteReadingStore(workdir / f"{client_id}.db", Durability.FULL)
    store.start()
    listener = rules_listener(facility, workdir) if rules else None
    source = PahoSource(
        MqttSettings(host=broker.host, port=broker.port, protocol=protocol, client_id=client_id)
    )
    ingest = Ingest(source, Decoder(facility), store, SystemClock(), listener)
    began = time.perf_counter()
    ingest.start()
    deadline = began + 600
    while ingest.stats.stored + ingest.stats.quarantined < count:
        if time.perf_counter() > deadline:
            raise TimeoutError(f"pipeline stored {ingest.stats.stored} of {count}")
        time.sleep(0.002)
    elapsed = time.perf_counter() - began
    ingest.stop()
    stored = store.count_readings()
    store.stop()
    return count / elapsed, stored, ingest.stats.batches


def run_ingest_bench(
    *,
    count: int = 100_000,
    sensors: int = 200,
    protocol: str = "3.1.1",
    rounds: int = 3,
    rules: bool = True,
) -> dict[str, Any]:
    """Interleaved rounds of bare paho and the pipeline on the same stream; medians."""
    proto = MqttProtocol(protocol)
    facility = bench_facility(sensors)
    pipeline_rates: list[float] = []
    bare_rates: list[float] = []
    ratios: list[float] = []
    csub_rates: list[float] = []
    lost = 0
    published_total = 0
    with tempfile.TemporaryDirectory(prefix="lantai-bench-") as tmp:
        workdir = Path(tmp)
        broker = MosquittoBroker(workdir / "broker").start()
        try:
            for r in range(rounds):
                ids = {
                    "bare": f"bench-bare-{r}",
                    "pipe": f"lantai-bench-{r}",
                    "csub": f"bench-c-{r}",
                }
                prime_session(broker, ids["bare"], proto)
                prime_session(broker, ids["pipe"], proto)
                prime_mosquitto_sub(broker, ids["csub"])
                published = _publish(broker, count, sensors)
                published_total += published["published"]
                csub = drain_mosquitto_sub(broker, count, ids["csub"])
                if csub is not None:
                    csub_rates.append(csub)

                def bare(ids: dict[str, str] = ids) -> float:
                    return drain_bare_paho(broker, count, proto, ids["bare"])

                def pipe(ids: dict[str, str] = ids) -> tuple[float, int, int]:
                    return drain_pipeline(
                        broker, facility, count, proto, ids["pipe"], workdir, rules=rules
                    )

                # Alternate the order so neither drain always runs on a warmer machine.
                if r % 2 == 0:
                    bare_rate = bare()
                    rate, stored, _ = pipe()
                else:
                    rate, stored, _ = pipe()
                    bare_rate = bare()
                bare_rates.append(bare_rate)
                pipeline_rates.append(rate)
                ratios.append(rate / bare_rate)
                lost += published["published"] - stored
            rss_mb = psutil.Process().memory_info().rss / 1e6
        finally:
            broker.stop()
    return {
        "bench": "ingest",
        "protocol": proto.value,
        "messages": count,
        "sensors": sensors,
        "rounds": rounds,
        "rules": rules,
        "readings_per_s": round(statistics.median(pipeline_rates)),
        "bare_paho_per_s": round(statistics.median(bare_rates)),
        "mosquitto_sub_per_s": round(statistics.median(csub_rates)) if csub_rates else None,
        "ratio": round(statistics.median(ratios), 3),
        "ratio_per_round": [round(x, 3) for x in ratios],
        "published": published_total,
        "lost": lost,
        "rss_mb": round(rss_mb, 1),
    }


def _publish(broker: MosquittoBroker, count: int, sensors: int) -> dict[str, Any]:
    # A separate process: the publisher must not share the pipeline's interpreter lock.
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "lantai.bench.stream",
            broker.host,
            str(broker.port),
            str(count),
            str(sensors),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=900,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result
