"""``lantai bench soak``: the example site at 10x its rate for N minutes; is memory flat?

The service runs in this process, as ``lantai run`` runs it (rules in their own process,
console on a free port); the simulator runs in a process of its own, so its memory is not
counted. Every ``sample_s`` seconds the bench notes the service's RSS and open file
descriptors (and its rules process's), the size of both databases, and the alarm latency
of a few smoke probes: smoke=true published on one smoke detector, timed to the moment
the alarm's record exists (as ``lantai bench alarm``'s ``recorded_*``), then cleared and
acknowledged so the next probe raises a new alarm. Every ``inject_every_s`` the next
incident of ``SCENARIOS`` is injected into the simulator (``lantai inject``).

The verdict: RSS is "flat" when its least-squares slope over the second half of the run
(the first half holds the warm-up: caches, connection pools, the SQLite page cache) is
below ``flat_mb_per_h``; runs shorter than ``MIN_VERDICT_MINUTES`` are "too short".
"""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psutil
from paho.mqtt.enums import CallbackAPIVersion

from alerts.models import AlarmChange, AlarmState, Change, Via
from collectors.mqtt_source import MqttSettings
from lantai.broker import MosquittoBroker, free_port
from lantai.demo import DEMO_ALERTING, EXAMPLE_RULES, EXAMPLE_SITE
from lantai.service import LantaiService
from lantai.settings import ConsoleSettings, LantaiSettings, StateSettings, StoreSettings
from rules.process import RulesProcess
from sensors.events import Category
from sensors.facility import load_facility
from sensors.simulator import send_injection

# The incidents injected in turn, each with its target in the example site; "clear" ends
# the running ones. The probe detector (PROBE_SENSOR) sits in a room none of them touch.
SCENARIOS: tuple[tuple[str, str | None], ...] = (
    ("fire", "B2-03"),
    ("clear", None),
    ("door-forced", "B3-03"),
    ("clear", None),
    ("hvac-failure", "B2-01"),
    ("clear", None),
    ("sensor-dropout", "b202-th1"),
    ("clear", None),
    ("garbage", None),
)
PROBE_SENSOR = "b304-smoke"
SPEED = 10.0  # the simulator's rate against the site's configured intervals
SAMPLE_S = 10.0
INJECT_EVERY_S = 60.0
PROBES_PER_SAMPLE = 2
# Below this RSS slope (MB per hour, second half of the run) memory counts as flat: at it,
# a year of running would add ~90 GB, so a real leak shows far above; the RSS of a steady
# CPython service wobbles by about a megabyte, which over a 15-minute half is ~4 MB/h.
FLAT_MB_PER_H = 10.0
MIN_VERDICT_MINUTES = 10.0
PROBE_TIMEOUT_S = 10.0
MB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class SoakSample:
    """One look at the service, ``t_s`` seconds into the run."""

    t_s: float
    rss_mb: float  # the service process (collector, alarms, console)
    rules_rss_mb: float | None  # the rules' own process; None when they run in-process
    fds: int
    rules_fds: int | None
    readings_db_mb: float  # readings.db with its -wal and -shm
    state_db_mb: float
    stored: int  # readings stored so far
    quarantined: int
    alarm_changes: int  # raised, cleared, acknowledged… so far
    latency_ms: tuple[float, ...]  # this period's smoke probes, published → alarm record
    injected: str | None  # the scenario injected in this period


class _ProbeWatch:
    """A listener that notes when the probe detector's fire alarm is raised and cleared."""

    name = "soak-probe"

    def __init__(self, sensor: str) -> None:
        self._sensor = sensor
        self.raised = threading.Event()
        self.cleared = threading.Event()
        self.raised_at = 0.0
        self.alarm_id = 0

    def notify(self, change: AlarmChange) -> None:
        alarm = change.alarm
        if alarm.category is not Category.FIRE or alarm.sensor != self._sensor:
            return
        if change.change is Change.RAISED:
            self.raised_at = time.perf_counter()
            self.alarm_id = alarm.id
            self.raised.set()
        elif change.change in (Change.CLEARED, Change.CLOSED):
            self.cleared.set()


def run_soak(
    minutes: float,
    *,
    sample_s: float = SAMPLE_S,
    speed: float = SPEED,
    inject_every_s: float = INJECT_EVERY_S,
    flat_mb_per_h: float = FLAT_MB_PER_H,
    on_sample: Callable[[SoakSample], None] | None = None,
) -> dict[str, Any]:
    """Run the soak and return its summary (``series`` holds every sample)."""
    facility = load_facility(EXAMPLE_SITE)
    site, room = _where(facility, PROBE_SENSOR)
    watch = _ProbeWatch(PROBE_SENSOR)
    samples: list[SoakSample] = []
    with tempfile.TemporaryDirectory(prefix="lantai-soak-") as tmp:
        workdir = Path(tmp)
        broker = MosquittoBroker(workdir / "broker").start()
        settings = LantaiSettings(
            facility=EXAMPLE_SITE,
            rules=EXAMPLE_RULES,
            alerting=DEMO_ALERTING,
            mqtt=MqttSettings(host=broker.host, port=broker.port, client_id="lantai-soak"),
            store=StoreSettings(readings_path=workdir / "readings.db"),
            state=StateSettings(url=f"sqlite:///{workdir / 'state.db'}"),
            console=ConsoleSettings(port=free_port()),
        )
        service = LantaiService(settings, facility, extra_listeners=[watch])
        simulator: subprocess.Popen[bytes] | None = None
        prober: _Prober | None = None
        try:
            service.start(console=True)
            if not service.source.wait_connected(10):
                raise TimeoutError("the collector did not connect")
            simulator = subprocess.Popen(
                [
                    *(sys.executable, "-m", "lantai", "simulate"),
                    *("--facility", str(EXAMPLE_SITE)),
                    *("--host", broker.host, "--port", str(broker.port)),
                    *("--speed", str(speed)),
                ],
                stdout=subprocess.DEVNULL,
            )
            prober = _Prober(broker, f"archive/{site}/{room}/{PROBE_SENSOR}", watch, service)
            samples = _observe(
                service,
                workdir,
                prober,
                broker,
                duration_s=minutes * 60,
                sample_s=sample_s,
                inject_every_s=inject_every_s,
                on_sample=on_sample,
            )
            if simulator.poll() is not None:
                raise RuntimeError(f"the simulator exited early ({simulator.returncode})")
        finally:
            if prober is not None:
                prober.close()
            if simulator is not None:
                simulator.terminate()
                simulator.wait(10)
            service.stop()
            broker.stop()
    return summarize(samples, minutes=minutes, speed=speed, flat_mb_per_h=flat_mb_per_h)


def _where(facility: Any, sensor_id: str) -> tuple[str, str]:  # noqa: ANN401 - Facility
    for sensor in facility.all_sensors():
        if sensor.id == sensor_id:
            return sensor.site, sensor.room
    raise ValueError(f"the example site has no sensor {sensor_id}")


def _observe(
    service: LantaiService,
    workdir: Path,
    prober: _Prober,
    broker: MosquittoBroker,
    *,
    duration_s: float,
    sample_s: float,
    inject_every_s: float,
    on_sample: Callable[[SoakSample], None] | None,
) -> list[SoakSample]:
    me = psutil.Process(os.getpid())
    began = time.monotonic()
    next_inject, turn = began + inject_every_s / 2, 0
    samples: list[SoakSample] = []
    while (elapsed := time.monotonic() - began) < duration_s:
        period_end = min(began + duration_s, time.monotonic() + sample_s)
        injected = None
        if time.monotonic() >= next_inject:
            scenario, target = SCENARIOS[turn % len(SCENARIOS)]
            send_injection(broker.host, broker.port, scenario, target)
            injected = scenario if target is None else f"{scenario} {target}"
            turn, next_inject = turn + 1, next_inject + inject_every_s
        latencies = [prober.probe() for _ in range(PROBES_PER_SAMPLE)]
        time.sleep(max(0.0, period_end - time.monotonic()))
        elapsed = time.monotonic() - began
        sample = _look(service, workdir, me, elapsed, tuple(latencies), injected)
        samples.append(sample)
        if on_sample is not None:
            on_sample(sample)
    return samples


def _look(
    service: LantaiService,
    workdir: Path,
    me: psutil.Process,
    elapsed: float,
    latencies: tuple[float, ...],
    injected: str | None,
) -> SoakSample:
    rules_rss: float | None = None
    rules_fds: int | None = None
    if isinstance(service.rules, RulesProcess) and service.rules.child_pid is not None:
        child = psutil.Process(service.rules.child_pid)
        rules_rss, rules_fds = child.memory_info().rss / MB, child.num_fds()
    stats = service.ingest.stats
    return SoakSample(
        t_s=round(elapsed, 1),
        rss_mb=round(me.memory_info().rss / MB, 2),
        rules_rss_mb=None if rules_rss is None else round(rules_rss, 2),
        fds=me.num_fds(),
        rules_fds=rules_fds,
        readings_db_mb=round(_size(workdir / "readings.db") / MB, 3),
        state_db_mb=round(_size(workdir / "state.db") / MB, 3),
        stored=stats.stored,
        quarantined=stats.quarantined,
        alarm_changes=service.alarms.stats.changes,
        latency_ms=tuple(round(x, 2) for x in latencies),
        injected=injected,
    )


def _size(db: Path) -> int:
    """A SQLite database's bytes on disk, with its write-ahead log and shared memory."""
    parts = (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm"))
    return sum(p.stat().st_size for p in parts if p.exists())


class _Prober:
    """Publishes smoke on the probe detector and times it to the alarm's record."""

    def __init__(
        self, broker: MosquittoBroker, topic: str, watch: _ProbeWatch, service: LantaiService
    ) -> None:
        self._topic, self._watch, self._service = topic, watch, service
        self._client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id="soak-probe",
            protocol=mqtt.MQTTv311,
        )
        self._client.connect(broker.host, broker.port, 60)
        self._client.loop_start()

    def probe(self) -> float:
        """One smoke probe: milliseconds from publish to the alarm record."""
        watch = self._watch
        watch.raised.clear()
        watch.cleared.clear()
        began = time.perf_counter()
        self._client.publish(self._topic, json.dumps({"smoke": True}), qos=1)
        if not watch.raised.wait(PROBE_TIMEOUT_S):
            raise TimeoutError(f"no fire alarm within {PROBE_TIMEOUT_S} s of the smoke probe")
        latency = (watch.raised_at - began) * 1000
        self._client.publish(self._topic, json.dumps({"smoke": False}), qos=1)
        if not watch.cleared.wait(PROBE_TIMEOUT_S):
            raise TimeoutError("the probe's fire alarm did not clear")
        # Acknowledged, the alarm closes: the next probe raises a new one, not a repeat.
        self._service.alarms.ack(watch.alarm_id, "soak", Via.API)
        alarm = self._service.alarm_store.get(watch.alarm_id)
        if alarm is None or alarm.state is not AlarmState.CLOSED:
            state = None if alarm is None else alarm.state
            raise RuntimeError(f"the probe's alarm {watch.alarm_id} did not close ({state})")
        return latency

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


def summarize(
    samples: Sequence[SoakSample],
    *,
    minutes: float,
    speed: float = SPEED,
    flat_mb_per_h: float = FLAT_MB_PER_H,
    periods: int = 6,
) -> dict[str, Any]:
    """The soak's figures from its samples (pure: the unit tests feed it made-up series)."""
    if len(samples) < 2:  # noqa: PLR2004 - a slope needs two points
        raise ValueError("a soak needs at least two samples; run it longer")
    first, last = samples[0], samples[-1]
    hours = (last.t_s - first.t_s) / 3600
    second_half = [s for s in samples if s.t_s >= last.t_s / 2]
    rss_slope = _slope([(s.t_s, s.rss_mb) for s in second_half])
    rules = [s for s in samples if s.rules_rss_mb is not None]
    rules_half = [s for s in rules if s.t_s >= last.t_s / 2]
    rules_slope = _slope([(s.t_s, s.rules_rss_mb or 0.0) for s in rules_half])
    if minutes < MIN_VERDICT_MINUTES:
        verdict = "too short"
    else:
        growing = rss_slope >= flat_mb_per_h or (rules_slope or 0.0) >= flat_mb_per_h
        verdict = "growing" if growing else "flat"
    latencies = sorted(x for s in samples for x in s.latency_ms)
    return {
        "bench": "soak",
        "minutes": minutes,
        "speed": speed,
        "samples": len(samples),
        "readings_stored": last.stored,
        "readings_per_s": round((last.stored - first.stored) / (hours * 3600), 1),
        "quarantined": last.quarantined,
        "alarm_changes": last.alarm_changes,
        "scenarios_injected": sum(1 for s in samples if s.injected is not None),
        "rss_mb": _spread([s.rss_mb for s in samples]),
        "rss_slope_mb_per_h": round(rss_slope, 2),
        "rules_rss_mb": _spread([s.rules_rss_mb or 0.0 for s in rules]) if rules else None,
        "rules_rss_slope_mb_per_h": None if rules_slope is None else round(rules_slope, 2),
        "fds": _spread([s.fds for s in samples]),
        "rules_fds": _spread([s.rules_fds or 0 for s in rules]) if rules else None,
        "readings_db_mb_per_h": round((last.readings_db_mb - first.readings_db_mb) / hours, 2),
        "state_db_mb_per_h": round((last.state_db_mb - first.state_db_mb) / hours, 2),
        "readings_db_mb": last.readings_db_mb,
        "state_db_mb": last.state_db_mb,
        "alarm_latency_ms": _percentiles(latencies),
        "alarm_latency_by_period": _by_period(samples, periods),
        "flat_threshold_mb_per_h": flat_mb_per_h,
        "verdict": verdict,
    }


def _slope(points: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope in units per hour (0 when there is too little to fit)."""
    if len(points) < 2 or len({t for t, _ in points}) < 2:  # noqa: PLR2004
        return 0.0
    fit = statistics.linear_regression([t for t, _ in points], [y for _, y in points])
    return fit.slope * 3600


def _spread(values: Sequence[float]) -> dict[str, float]:
    return {"first": values[0], "last": values[-1], "max": max(values), "min": min(values)}


def _percentiles(ordered: Sequence[float]) -> dict[str, float | int] | None:
    if not ordered:
        return None
    return {
        "n": len(ordered),
        "p50": round(statistics.median(ordered), 2),
        # Nearest rank: with few samples the 99th percentile is the highest, never lower.
        "p99": round(ordered[math.ceil(0.99 * len(ordered)) - 1], 2),
        "max": round(ordered[-1], 2),
    }


def _by_period(samples: Sequence[SoakSample], periods: int) -> list[dict[str, Any]]:
    """Latency percentiles over ``periods`` equal slices of the run: does it drift?"""
    end = samples[-1].t_s
    out = []
    for i in range(periods):
        lo, hi = end * i / periods, end * (i + 1) / periods
        chunk = sorted(x for s in samples if lo < s.t_s <= hi for x in s.latency_ms)
        if chunk:
            out.append({"from_s": round(lo), "to_s": round(hi), **(_percentiles(chunk) or {})})
    return out


def sample_line(sample: SoakSample) -> str:
    """One sample as a JSON line (``lantai bench soak --json``)."""
    return json.dumps({"sample": asdict(sample)})


def sample_row(sample: SoakSample) -> str:
    """One sample as a table row (without --json)."""
    latency = statistics.median(sample.latency_ms) if sample.latency_ms else float("nan")
    rules = "-" if sample.rules_rss_mb is None else f"{sample.rules_rss_mb:.1f}"
    return (
        f"{sample.t_s:8.0f} {sample.rss_mb:8.1f} {rules:>8} {sample.fds:5d} "
        f"{sample.readings_db_mb:9.2f} {sample.state_db_mb:8.2f} {sample.stored:9d} "
        f"{latency:8.1f}  {sample.injected or ''}"
    )


SAMPLE_HEADER = "     t_s   rss_mb rules_mb   fds readings_mb state_mb    stored  p50_ms  injected"
