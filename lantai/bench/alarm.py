"""``lantai bench alarm``: smoke published → notifier called, under a background stream.

Each sample publishes one smoke=true message, waits until the alarm service has called
the notifiers with the new fire alarm, then clears it. Meanwhile a separate process
publishes ordinary readings at a steady rate, so the smoke message queues behind real
load. The whole path is real: broker, paho, decode, rules, alarm store (SQLite, fsync),
notifier.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from alerts.models import AlarmChange, Change
from collectors.mqtt_source import MqttSettings
from lantai.bench.stream import BENCH_SITE, bench_facility
from lantai.broker import MosquittoBroker
from lantai.service import LantaiService
from lantai.settings import LantaiSettings, StateSettings, StoreSettings
from sensors.events import Category


class _Stopwatch:
    """A notifier that notes when each fire alarm is raised and cleared."""

    name = "bench"

    def __init__(self) -> None:
        self.raised = threading.Event()
        self.cleared = threading.Event()
        self.raised_at = 0.0

    def notify(self, change: AlarmChange) -> None:
        if change.alarm.category is not Category.FIRE:
            return
        if change.change is Change.RAISED:
            self.raised_at = time.perf_counter()
            self.raised.set()
        elif change.change is Change.CLEARED:
            self.cleared.set()


def run_alarm_bench(
    *, samples: int = 200, background_per_s: float = 2000, sensors: int = 200
) -> dict[str, Any]:
    facility = bench_facility(sensors, smoke=True)
    stopwatch = _Stopwatch()
    with tempfile.TemporaryDirectory(prefix="lantai-bench-") as tmp:
        workdir = Path(tmp)
        broker = MosquittoBroker(workdir / "broker").start()
        settings = LantaiSettings(
            facility=workdir / "unused.yaml",
            mqtt=MqttSettings(host=broker.host, port=broker.port, client_id="lantai-bench-alarm"),
            store=StoreSettings(readings_path=workdir / "readings.db"),
            state=StateSettings(url=f"sqlite:///{workdir / 'state.db'}"),
        )
        service = LantaiService(settings, facility, extra_notifiers=[stopwatch])
        background: subprocess.Popen[bytes] | None = None
        try:
            service.start(console=False)
            if not service.source.wait_connected(10):
                raise TimeoutError("the collector did not connect")
            # Enough background messages to outlast the samples at the given rate.
            count = int(background_per_s * (samples * 0.06 + 10))
            background = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "lantai.bench.stream",
                    broker.host,
                    str(broker.port),
                    str(count),
                    str(sensors),
                    str(background_per_s),
                ],
            )
            time.sleep(2)  # let the background stream reach its pace
            stored_before, began = service.ingest.stats.stored, time.perf_counter()
            latencies = _sample(broker, stopwatch, samples)
            stored_during = service.ingest.stats.stored - stored_before
            measured_per_s = stored_during / (time.perf_counter() - began)
        finally:
            if background is not None:
                background.terminate()
                background.wait()
            service.stop()
            broker.stop()
    latencies.sort()
    return {
        "bench": "alarm",
        "samples": len(latencies),
        "background_per_s": background_per_s,
        "p50_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(latencies[int(0.99 * (len(latencies) - 1))], 2),
        "max_ms": round(latencies[-1], 2),
        "readings_stored_meanwhile": stored_during,
        "background_measured_per_s": round(measured_per_s),
    }


def _sample(broker: MosquittoBroker, stopwatch: _Stopwatch, samples: int) -> list[float]:
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id="bench-smoke",
        protocol=mqtt.MQTTv311,
    )
    client.connect(broker.host, broker.port, 60)
    client.loop_start()
    topic = f"archive/{BENCH_SITE}/R0000/smoke0000"
    latencies = []
    try:
        for i in range(samples):
            stopwatch.raised.clear()
            stopwatch.cleared.clear()
            began = time.perf_counter()
            client.publish(topic, json.dumps({"smoke": True, "seq": 2 * i}), qos=1)
            if not stopwatch.raised.wait(10):
                raise TimeoutError(f"sample {i}: no fire alarm within 10 s")
            latencies.append((stopwatch.raised_at - began) * 1000)
            client.publish(topic, json.dumps({"smoke": False, "seq": 2 * i + 1}), qos=1)
            if not stopwatch.cleared.wait(10):
                raise TimeoutError(f"sample {i}: the fire alarm did not clear")
            time.sleep(0.02)
    finally:
        client.disconnect()
        client.loop_stop()
    return latencies
