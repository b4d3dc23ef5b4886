"""``lantai bench silence``: how soon a sensor that stops reporting is noticed.

A running service (rules in their own process, the real clock) hears ``sensors`` climate
sensors that report every ``interval_s``. One after another, at staggered moments (so
they fall at different phases of the sweep), each is stopped; the bench measures from
its last reading's publish to the moment the silence alarm's record exists. The deadline
is rules/silence.py's: silent after ``factor`` x interval (3 by default), noticed at the
next sweep (settings.sweep_interval_s), so detection should fall between the two.
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from alerts.models import AlarmChange, Change
from collectors.mqtt_source import MqttSettings
from lantai.broker import MosquittoBroker
from lantai.service import LantaiService
from lantai.settings import LantaiSettings, StateSettings, StoreSettings
from rules.silence import SILENCE, SilenceConfig
from sensors.facility import Facility, FacilityConfig

SITE = "silence"
INTERVAL_S = 2.0
SWEEP_S = 5.0  # the settings' default sweep interval
WARM_UP_S = 4.0  # every sensor heard a few times before the first goes quiet
STAGGER_S = 1.3  # between two sensors going quiet: not a multiple of the sweep


class _SilenceWatch:
    """A listener that notes when each sensor's silence alarm is raised."""

    name = "bench-silence"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.raised: dict[str, float] = {}

    def notify(self, change: AlarmChange) -> None:
        alarm = change.alarm
        if alarm.rule == SILENCE.rule_id and change.change is Change.RAISED and alarm.sensor:
            with self._lock:
                self.raised.setdefault(alarm.sensor, time.perf_counter())

    def seen(self, sensor: str) -> float | None:
        with self._lock:
            return self.raised.get(sensor)


def silence_facility(sensors: int, interval_s: float) -> Facility:
    """One room of climate sensors that report every ``interval_s``."""
    members = [
        {"id": f"q{i:02d}", "kind": "climate", "interval": f"{interval_s}s"} for i in range(sensors)
    ]
    room = {
        "id": "R1",
        "name": {"zh": "库房", "en": "Stack"},
        "class": "paper",
        "sensors": members,
    }
    floor = {"id": "f", "name": {"zh": "层", "en": "Floor"}, "rooms": [room]}
    building = {"id": "b", "name": {"zh": "楼", "en": "Building"}, "floors": [floor]}
    config = {
        "sites": [{"id": SITE, "name": {"zh": "静默", "en": "Silence"}, "buildings": [building]}]
    }
    return Facility.compile(FacilityConfig.model_validate(config))


def run_silence_bench(
    *, sensors: int = 5, interval_s: float = INTERVAL_S, sweep_s: float = SWEEP_S
) -> dict[str, Any]:
    """Stop ``sensors`` sensors one by one and time each silence alarm."""
    facility = silence_facility(sensors, interval_s)
    # The default rule set's factor (no rule file here).
    silent_after = interval_s * float(SilenceConfig.model_fields["factor"].default)
    watch = _SilenceWatch()
    with tempfile.TemporaryDirectory(prefix="lantai-bench-silence-") as tmp:
        workdir = Path(tmp)
        broker = MosquittoBroker(workdir / "broker").start()
        settings = LantaiSettings(
            facility=workdir / "unused.yaml",
            mqtt=MqttSettings(host=broker.host, port=broker.port, client_id="lantai-silence"),
            store=StoreSettings(readings_path=workdir / "readings.db"),
            state=StateSettings(url=f"sqlite:///{workdir / 'state.db'}"),
            sweep_interval_s=sweep_s,
        )
        service = LantaiService(settings, facility, extra_listeners=[watch])
        try:
            service.start(console=False)
            if not service.source.wait_connected(10):
                raise TimeoutError("the collector did not connect")
            last = _publish_then_stop(broker, facility, interval_s, silent_after + sweep_s, watch)
        finally:
            service.stop()
            broker.stop()
    detected = {s: (watch.raised[s] - t) for s, t in last.items() if s in watch.raised}
    missing = sorted(set(last) - set(detected))
    if missing:
        raise TimeoutError(f"no silence alarm for {', '.join(missing)}")
    values = sorted(detected.values())
    deadline = silent_after + sweep_s
    return {
        "bench": "silence",
        "sensors_stopped": len(values),
        "interval_s": interval_s,
        "silent_after_s": silent_after,
        "sweep_interval_s": sweep_s,
        "deadline_s": deadline,
        "detected_s": [round(v, 2) for v in values],
        "detected_median_s": round(statistics.median(values), 2),
        "detected_max_s": round(values[-1], 2),
        # Negative: noticed before the worst case; the lower bound is silent_after_s.
        "detected_minus_deadline_max_s": round(values[-1] - deadline, 2) + 0.0,  # no -0.0
        "earliest_minus_silent_after_s": round(values[0] - silent_after, 2),
    }


def _publish_then_stop(
    broker: MosquittoBroker,
    facility: Facility,
    interval_s: float,
    patience_s: float,
    watch: _SilenceWatch,
) -> dict[str, float]:
    """Publish for every sensor each interval; stop them one by one; return each one's
    last publish time (perf_counter) once all are detected or the patience has run out."""
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id="bench-silence",
        protocol=mqtt.MQTTv311,
    )
    client.connect(broker.host, broker.port, 60)
    client.loop_start()
    sensors = sorted(facility.all_sensors(), key=lambda s: s.id)
    began = time.perf_counter()
    stop_at = {s.id: began + WARM_UP_S + i * STAGGER_S for i, s in enumerate(sensors)}
    give_up = max(stop_at.values()) + patience_s + 5
    last: dict[str, float] = {}
    seq = 0
    try:
        next_round = began
        while time.perf_counter() < give_up:
            now = time.perf_counter()
            if now >= next_round:
                for s in sensors:
                    if now < stop_at[s.id]:
                        payload = f'{{"temperature": 20.0, "humidity": 50.0, "seq": {seq}}}'
                        last[s.id] = time.perf_counter()
                        client.publish(f"archive/{s.site}/{s.room}/{s.id}", payload, qos=1)
                seq += 1
                next_round += interval_s
            if all(watch.seen(s.id) is not None for s in sensors):
                break
            time.sleep(0.01)
    finally:
        client.disconnect()
        client.loop_stop()
    return last
