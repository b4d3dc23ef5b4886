"""``lantai bench rules``: the full default rule set, evaluated in-process, and its memory.

A synthetic site of paper stacks (10 climate sensors a room, plus a smoke detector and a
door per room) gets a simulated day of readings, one a minute per sensor, in the batches
the collector hands over. Reported: readings and rule evaluations per second, and the
process memory once every sensor has a day of state (fluctuation buckets, rate rings,
preservation accumulators) — the figure the issue bounds at 200 MB for 10,000 sensors.
"""

from __future__ import annotations

import gc
import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import psutil

from lantai.bench.stream import bench_facility
from rules.engine import RulesEngine
from sensors.clock import FakeClock
from sensors.events import AlarmEvent, MetricSample, TaskRequest
from sensors.facility import SensorKind
from sensors.payload import ReadingPayload
from sensors.reading import Reading


class _Counter:
    """Counts what the engine emits (alarm, task and metric sinks in one)."""

    def __init__(self) -> None:
        self.alarms = 0
        self.tasks = 0
        self.metrics = 0

    def publish(self, events: Sequence[AlarmEvent]) -> None:
        self.alarms += len(events)

    def request(self, tasks: Sequence[TaskRequest]) -> None:
        self.tasks += len(tasks)

    def write_metrics(self, samples: Sequence[MetricSample]) -> None:
        self.metrics += len(samples)


def run_rules_bench(
    *, sensors: int = 10_000, minutes: int = 24 * 60, batch: int = 2000
) -> dict[str, Any]:
    process = psutil.Process()
    gc.collect()
    rss_start = process.memory_info().rss
    facility = bench_facility(sensors, smoke=True)
    start = datetime(2026, 1, 5, tzinfo=UTC)
    clock = FakeClock(start)
    sink = _Counter()
    engine = RulesEngine(facility, sink, clock, tasks=sink, metrics=sink)
    engine.start()
    climate = [s for s in facility.all_sensors() if s.kind is SensorKind.CLIMATE]
    smoke = [s for s in facility.all_sensors() if s.kind is SensorKind.SMOKE]
    quiet = ReadingPayload(smoke=False, battery=95)
    # Payloads are built once per sensor and minute-of-hour: the bench measures the rules,
    # not pydantic. Values drift gently inside the paper-stack band.
    payloads = [
        ReadingPayload(temperature=19 + (m % 60) / 60, humidity=50 + (m % 30) / 10, battery=90)
        for m in range(60)
    ]
    readings_done = 0
    elapsed = 0.0
    batch_list: list[Reading] = []
    for minute in range(minutes):
        now = start + timedelta(minutes=minute)
        clock.set(now)
        payload = payloads[minute % 60]
        # Smoke detectors send a heartbeat every 5 minutes, as their interval says.
        heartbeats = [(s, quiet) for s in smoke] if minute % 5 == 0 else []
        for s, values in [(s, payload) for s in climate] + heartbeats:
            batch_list.append(Reading(s.site, s.room, s.id, now, now, values, b"{}"))
            if len(batch_list) >= batch:
                began = time.perf_counter()
                engine.on_readings(batch_list, ())
                elapsed += time.perf_counter() - began
                readings_done += len(batch_list)
                batch_list = []
        if minute % 5 == 0:
            began = time.perf_counter()
            engine.tick()
            elapsed += time.perf_counter() - began
    gc.collect()
    rss_end = process.memory_info().rss
    stats = engine.stats
    return {
        "bench": "rules",
        "sensors": len(facility.sensors),
        "climate_sensors": len(climate),
        "rules_compiled": stats.rules,
        "simulated_minutes": minutes,
        "readings": readings_done,
        "readings_per_s": round(readings_done / elapsed),
        "evaluations_per_s": round(stats.evaluations / elapsed),
        "evaluations": stats.evaluations,
        "alarm_events": sink.alarms,
        "metric_samples": sink.metrics,
        "rss_mb": round(rss_end / 1e6, 1),
        "rss_growth_mb": round((rss_end - rss_start) / 1e6, 1),
    }


if __name__ == "__main__":
    print(json.dumps(run_rules_bench(sensors=1000, minutes=120)))
