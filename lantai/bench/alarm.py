"""``lantai bench alarm``: smoke published → SMS request at Twilio, under a background stream.

Each sample publishes one smoke=true message in the next room, waits until the guard's
SMS reaches the Twilio stand-in (a local HTTP server), then clears and acknowledges the
alarm. Meanwhile a separate process publishes ordinary readings at a steady rate, so the
smoke message queues behind real load. The whole path is real: broker, paho, decode,
rules, alarm store with incident and escalation (SQLite, fsync), outbox, its worker, the
twilio library over HTTP; the rules run as the service runs them, in their own process
unless ``rules_in_process``. ``recorded_*`` is the time to the alarm's record (the console's
live feed); ``p50_ms``/``p99_ms`` are to the SMS request.
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
from pydantic import SecretStr

from alerts.models import AlarmChange, Change, Via
from alerts.notifiers.twilio_account import TwilioSettings
from collectors.mqtt_source import MqttSettings
from lantai.bench.stream import BENCH_SITE, bench_facility
from lantai.bench.twilio_standin import ACCOUNT_SID, TwilioStandIn
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
        self.alarm_id = 0

    def notify(self, change: AlarmChange) -> None:
        if change.alarm.category is not Category.FIRE:
            return
        if change.change is Change.RAISED:
            self.raised_at = time.perf_counter()
            self.alarm_id = change.alarm.id
            self.raised.set()
        elif change.change in (Change.CLEARED, Change.CLOSED):
            self.cleared.set()


def run_alarm_bench(
    *,
    samples: int = 200,
    background_per_s: float = 2000,
    sensors: int = 200,
    rules_in_process: bool = False,
) -> dict[str, Any]:
    facility = bench_facility(sensors, smoke=True)
    stopwatch = _Stopwatch()
    with tempfile.TemporaryDirectory(prefix="lantai-bench-") as tmp:
        workdir = Path(tmp)
        broker = MosquittoBroker(workdir / "broker").start()
        twilio = TwilioStandIn().start()
        alerting = workdir / "alerting.yaml"
        alerting.write_text(_ALERTING.format(site=BENCH_SITE), encoding="utf-8")
        settings = LantaiSettings(
            facility=workdir / "unused.yaml",
            alerting=alerting,
            twilio=TwilioSettings(
                account_sid=ACCOUNT_SID,
                auth_token=SecretStr("bench-token"),
                from_number="+15005550006",
                public_url="https://lantai.bench.invalid",
                api_base_url=twilio.url,
            ),
            mqtt=MqttSettings(host=broker.host, port=broker.port, client_id="lantai-bench-alarm"),
            store=StoreSettings(readings_path=workdir / "readings.db"),
            state=StateSettings(url=f"sqlite:///{workdir / 'state.db'}"),
            rules_in_process=rules_in_process,
        )
        service = LantaiService(settings, facility, extra_listeners=[stopwatch])
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
            stats = service.ingest.stats
            stored_before, began = stats.stored, time.perf_counter()
            parts_before, lingers_before = stats.parts, stats.lingers
            latencies, recorded = _sample(broker, service, stopwatch, twilio, samples)
            stored_during = stats.stored - stored_before
            # How often the decoder held a part back for a busy stream (collectors/ingest.py)
            # while the samples ran: each hold can add up to LINGER_S to an alarm.
            parts = stats.parts - parts_before
            lingers = stats.lingers - lingers_before
            measured_per_s = stored_during / (time.perf_counter() - began)
        finally:
            if background is not None:
                background.terminate()
                background.wait()
            service.stop()
            broker.stop()
            twilio.stop()
    latencies.sort()
    recorded.sort()
    return {
        "bench": "alarm",
        "samples": len(latencies),
        "rules_in_process": rules_in_process,
        "background_per_s": background_per_s,
        "p50_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(latencies[int(0.99 * (len(latencies) - 1))], 2),
        "max_ms": round(latencies[-1], 2),
        "recorded_p50_ms": round(statistics.median(recorded), 2),
        "recorded_p99_ms": round(recorded[int(0.99 * (len(recorded) - 1))], 2),
        "readings_stored_meanwhile": stored_during,
        "background_measured_per_s": round(measured_per_s),
        "parts_held_back": lingers,
        "parts": parts,
    }


def _sample(
    broker: MosquittoBroker,
    service: LantaiService,
    stopwatch: _Stopwatch,
    twilio: TwilioStandIn,
    samples: int,
) -> tuple[list[float], list[float]]:
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id="bench-smoke",
        protocol=mqtt.MQTTv311,
    )
    client.connect(broker.host, broker.port, 60)
    client.loop_start()
    rooms = len({room for (_, room) in service.facility.rooms})
    latencies, recorded = [], []
    try:
        for i in range(samples):
            room = i % rooms
            topic = f"archive/{BENCH_SITE}/R{room:04d}/smoke{room:04d}"
            stopwatch.raised.clear()
            stopwatch.cleared.clear()
            twilio.event.clear()
            with twilio.lock:
                sent_before = len(twilio.arrived)
            began = time.perf_counter()
            client.publish(topic, json.dumps({"smoke": True, "seq": 2 * i}), qos=1)
            if not stopwatch.raised.wait(10):
                raise TimeoutError(f"sample {i}: no fire alarm within 10 s")
            recorded.append((stopwatch.raised_at - began) * 1000)
            arrived = _first_sms(twilio, sent_before)
            latencies.append((arrived - began) * 1000)
            client.publish(topic, json.dumps({"smoke": False, "seq": 2 * i + 1}), qos=1)
            if not stopwatch.cleared.wait(10):
                raise TimeoutError(f"sample {i}: the fire alarm did not clear")
            # Acknowledged and closed, so the next smoke in this room is a new alarm.
            alarm_id = stopwatch.alarm_id
            service.alarms.ack(alarm_id, "bench", Via.API)
            time.sleep(0.02)
    finally:
        client.disconnect()
        client.loop_stop()
    return latencies, recorded


def _first_sms(twilio: TwilioStandIn, before: int) -> float:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with twilio.lock:
            if len(twilio.arrived) > before:
                return twilio.arrived[before][0]
        twilio.event.wait(0.5)
        twilio.event.clear()
    raise TimeoutError("no SMS reached the Twilio stand-in within 10 s")


# One guard on duty around the clock; fire → SMS at once. Flood and chatter limits are
# lifted: the bench raises a fire every few tens of milliseconds on purpose, and measures
# the path, not the suppression.
_ALERTING = """
people:
  - {{id: guard, name: Guard, phone: "+8613800000001"}}
rotas:
  - id: guards
    site: {site}
    shifts: [{{start: "00:00", end: "24:00", people: [guard]}}]
policies:
  - id: critical
    severities: [critical]
    steps: [{{after: 0s, notify: [{{rota: guards}}], channels: [sms]}}]
flood: {{enter_above: 1000000, leave_below: 1}}
chatter: {{cycles: 1000000}}
group_window: 0s
"""
