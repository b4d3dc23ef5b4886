"""``lantai bench ingest``: the real pipeline against the MQTT client's own ceiling.

The stream is queued in the broker first (each consumer has a persistent session), then
drained by (1) ``mosquitto_sub``, the C client, as the physical limit, (2) a bare paho
subscriber that only counts, on the same protocol as the pipeline, and (3) the pipeline:
decode, validate, rules, durable SQLite write, acknowledge. Same stream, same run. The
rules are built as the service builds them (in their own process unless
``rules_in_process``; state database, metrics to the store, the timer sweep every 5 s).

With ``batch`` N > 1 the same readings are published as JSON arrays of N on
``archive/<site>/_batch``, as a gateway would send them. The pipeline's figure is still
readings/s; the two clients only count messages, so theirs are messages/s × N (what they
would reach if the pipeline cost nothing per element).
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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
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
from collectors.ingest import Ingest
from collectors.mqtt_source import MqttProtocol, MqttSettings, PahoSource
from collectors.sqlite_store import Durability, SqliteReadingStore
from lantai.bench.stream import bench_facility
from lantai.broker import MosquittoBroker
from lantai.settings import LantaiSettings
from rules.engine import RulesEngine
from rules.persistence import SqlStateStore
from rules.process import RulesProcess, RulesSpec
from sensors.clock import SystemClock
from sensors.events import TaskRequest
from sensors.facility import Facility

Rules = RulesEngine | RulesProcess


# The service's timer sweep, as lantai/settings.py sets it by default.
SWEEP_INTERVAL_S: float = LantaiSettings.model_fields["sweep_interval_s"].default


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


def build_rules(
    facility: Facility,
    workdir: Path,
    metrics: SqliteReadingStore,
    input_healthy: Callable[[], bool],
    *,
    in_process: bool,
) -> Rules:
    """The full default rule set, built as lantai/service.py builds it, publishing to the
    real alarm service; started."""
    url = f"sqlite:///{workdir / 'state.db'}"
    state = create_state_engine(url)
    alarms = AlarmService(AlarmStore(state), facility, SystemClock(), listeners=[LogListener()])
    alarms.start(deliver=False)  # no notifiers here: nothing to deliver
    rules: Rules
    if in_process:
        rule_state = SqlStateStore(state)
        rule_state.start()
        rules = RulesEngine(
            facility,
            alarms,
            SystemClock(),
            tasks=_Tasks(),
            metrics=metrics,
            state_store=rule_state,
            input_healthy=input_healthy,
        )
    else:
        rules = RulesProcess(
            RulesSpec(facility, None, url),
            alarms,
            tasks=_Tasks(),
            metrics=metrics,
            input_healthy=input_healthy,
        )
    rules.start()
    return rules


class _Tasks:
    """Stands in for the inspection service: the bench's in-limits stream asks for none."""

    def __init__(self) -> None:
        self.requested = 0

    def request(self, tasks: Sequence[TaskRequest]) -> None:
        self.requested += len(tasks)


class _Sweeper:
    """Calls the rules' timer sweep as the service's scheduler does, while a drain runs."""

    def __init__(self, rules: Rules) -> None:
        self._rules = rules
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-sweep", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(SWEEP_INTERVAL_S):
            self._rules.tick()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


@dataclass(frozen=True, slots=True)
class Drained:
    """One drain by the pipeline."""

    rate: float  # readings/s
    stored: int  # rows in the store afterwards
    per_part: float  # messages per part the decoder handed on (see collectors/ingest.py)
    rules_rss_mb: float | None  # the rules' own process, when they run in one


def drain_pipeline(
    broker: MosquittoBroker,
    facility: Facility,
    count: int,
    protocol: MqttProtocol,
    client_id: str,
    workdir: Path,
    *,
    rules: bool,
    rules_in_process: bool = False,
) -> Drained:
    """Drain the queued stream with the real pipeline."""
    store = SqliteReadingStore(workdir / f"{client_id}.db", Durability.FULL)
    store.start()
    source = PahoSource(
        MqttSettings(host=broker.host, port=broker.port, protocol=protocol, client_id=client_id)
    )
    ingest: Ingest | None = None

    def input_healthy() -> bool:
        return source.connected and not (ingest is not None and ingest.store_failing)

    listener = (
        build_rules(facility, workdir, store, input_healthy, in_process=rules_in_process)
        if rules
        else None
    )
    ingest = Ingest(source, Decoder(facility), store, SystemClock(), listener)
    sweeper = _Sweeper(listener) if listener is not None else None
    began = time.perf_counter()
    ingest.start()
    deadline = began + 600
    while ingest.stats.stored + ingest.stats.quarantined < count:
        if time.perf_counter() > deadline:
            raise TimeoutError(f"pipeline stored {ingest.stats.stored} of {count}")
        time.sleep(0.002)
    elapsed = time.perf_counter() - began
    rules_rss_mb = None
    if isinstance(listener, RulesProcess) and listener.child_pid is not None:
        rules_rss_mb = psutil.Process(listener.child_pid).memory_info().rss / 1e6
    if sweeper is not None:
        sweeper.stop()
    ingest.stop()
    if listener is not None:
        listener.stop()
    stored = store.count_readings()
    store.stop()
    stats = ingest.stats
    return Drained(count / elapsed, stored, stats.received / max(1, stats.parts), rules_rss_mb)


def run_ingest_bench(
    *,
    count: int = 100_000,
    sensors: int = 200,
    protocol: str = "3.1.1",
    rounds: int = 3,
    rules: bool = True,
    rules_in_process: bool = False,
    batch: int = 1,
    compare: bool = False,
) -> dict[str, Any]:
    """Interleaved rounds of bare paho and the pipeline on the same stream; medians.

    With ``compare`` each round also drains the pipeline without rules, from its own
    session of the same stream, so that what the rules cost is measured in pairs on the
    same machine at the same moment (this machine kind's speed varies by tens of per cent
    from one minute to the next, which unpaired runs cannot tell from the code).
    """
    if batch < 1:
        raise ValueError("batch must be at least 1")
    proto = MqttProtocol(protocol)
    messages = -(-count // batch)  # what the broker carries: readings in arrays of `batch`
    facility = bench_facility(sensors)
    drains = ["bare", "pipe", *(["plain"] if compare and rules else [])]
    rates: dict[str, list[float]] = {name: [] for name in drains}
    parts: dict[str, list[float]] = {name: [] for name in drains}
    csub_rates: list[float] = []
    rules_rss: list[float] = []
    lost = 0
    published_total = 0
    with tempfile.TemporaryDirectory(prefix="lantai-bench-") as tmp:
        workdir = Path(tmp)
        broker = MosquittoBroker(workdir / "broker").start()
        try:
            for r in range(rounds):
                ids = {name: f"bench-{name}-{r}" for name in drains}
                for client_id in ids.values():
                    prime_session(broker, client_id, proto)
                prime_mosquitto_sub(broker, f"bench-c-{r}")
                published = _publish(broker, count, sensors, batch)
                published_total += published["published"]
                csub = drain_mosquitto_sub(broker, messages, f"bench-c-{r}")
                if csub is not None:
                    csub_rates.append(csub * count / messages)
                # Rotate the order so that no drain always runs on a warmer machine.
                for name in drains[r % len(drains) :] + drains[: r % len(drains)]:
                    if name == "bare":
                        rate = drain_bare_paho(broker, messages, proto, ids[name])
                        rates[name].append(rate * count / messages)  # messages/s x per message
                        continue
                    drained = drain_pipeline(
                        broker,
                        facility,
                        count,
                        proto,
                        ids[name],
                        workdir,
                        rules=rules and name == "pipe",
                        rules_in_process=rules_in_process,
                    )
                    rates[name].append(drained.rate)
                    parts[name].append(drained.per_part)
                    lost += published["published"] - drained.stored
                    if drained.rules_rss_mb is not None:
                        rules_rss.append(drained.rules_rss_mb)
            rss_mb = psutil.Process().memory_info().rss / 1e6
        finally:
            broker.stop()
    ratios = [p / b for p, b in zip(rates["pipe"], rates["bare"], strict=True)]
    result: dict[str, Any] = {
        "bench": "ingest",
        "protocol": proto.value,
        "readings": count,
        "messages": messages,
        "batch": batch,
        "sensors": sensors,
        "rounds": rounds,
        "rules": rules,
        "rules_in_process": rules and rules_in_process,
        "readings_per_s": round(statistics.median(rates["pipe"])),
        "bare_paho_per_s": round(statistics.median(rates["bare"])),
        "mosquitto_sub_per_s": round(statistics.median(csub_rates)) if csub_rates else None,
        "ratio": round(statistics.median(ratios), 3),
        "ratio_per_round": [round(x, 3) for x in ratios],
        "messages_per_part": round(statistics.median(parts["pipe"])),
        "published": published_total,
        "lost": lost,
        "rss_mb": round(rss_mb, 1),
        # The rules' own process, when they run in one (its RSS at the end of a drain).
        "rules_rss_mb": round(max(rules_rss), 1) if rules_rss else None,
    }
    if "plain" in rates:
        plain = [p / b for p, b in zip(rates["plain"], rates["bare"], strict=True)]
        paired = [w / wo for w, wo in zip(rates["pipe"], rates["plain"], strict=True)]
        result["no_rules"] = {
            "readings_per_s": round(statistics.median(rates["plain"])),
            "ratio": round(statistics.median(plain), 3),
            "ratio_per_round": [round(x, 3) for x in plain],
        }
        # Per round, with rules ÷ without: the share of the throughput the rules leave.
        result["with_over_without"] = round(statistics.median(paired), 3)
        result["with_over_without_per_round"] = [round(x, 3) for x in paired]
    return result


def _publish(broker: MosquittoBroker, count: int, sensors: int, batch: int) -> dict[str, Any]:
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
            f"--batch={batch}",
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=900,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result
