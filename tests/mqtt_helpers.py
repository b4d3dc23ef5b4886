"""Small real-MQTT helpers for tests: a QoS 1 publisher and a bounded wait."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from sensors.facility import Facility, SensorKind


def publish_all(host: str, port: int, messages: Iterable[tuple[str, bytes]], client_id: str) -> int:
    """Publish at QoS 1 and return once the broker has acknowledged every message."""
    items = list(messages)
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id)
    client.max_inflight_messages_set(500)
    done = threading.Event()
    acked = [0]
    window = threading.Semaphore(500)

    def on_publish(*_: object) -> None:
        acked[0] += 1
        window.release()
        if acked[0] == len(items):
            done.set()

    client.on_publish = on_publish
    client.connect(host, port, 30)
    client.loop_start()
    try:
        for topic, payload in items:
            window.acquire()
            info = client.publish(topic, payload, qos=1)
            assert info.rc == mqtt.MQTT_ERR_SUCCESS, mqtt.error_string(info.rc)
        if items:
            assert done.wait(60), f"only {acked[0]} of {len(items)} acknowledged"
    finally:
        client.disconnect()
        client.loop_stop()
    return len(items)


def climate_stream(
    facility: Facility, count: int, start: datetime | None = None
) -> list[tuple[str, bytes]]:
    """``count`` in-limits readings with ts and seq, round-robin over the climate sensors."""
    sensors = sorted(
        (s for s in facility.all_sensors() if s.kind is SensorKind.CLIMATE), key=lambda s: s.id
    )
    begin = start or datetime(2026, 3, 1, tzinfo=UTC)
    out = []
    for i in range(count):
        s = sensors[i % len(sensors)]
        ts = begin + timedelta(seconds=i)
        body = {"temperature": 19.5, "humidity": 50.0, "ts": ts.isoformat(), "seq": i}
        out.append((f"archive/{s.site}/{s.room}/{s.id}", json.dumps(body).encode()))
    return out


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.01)


def drain_session(host: str, port: int, client_id: str, quiet: float = 1.0) -> int:
    """Connect with an existing persistent session and count what the broker still holds."""
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False
    )
    seen = [0]
    client.on_message = lambda *_: seen.__setitem__(0, seen[0] + 1)
    client.connect(host, port, 30)
    client.loop_start()
    time.sleep(quiet)
    client.disconnect()
    client.loop_stop()
    return seen[0]
