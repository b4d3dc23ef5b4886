"""A synthetic site and a bounded QoS 1 stream for the benchmarks."""

from __future__ import annotations

import json
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from sensors.facility import Facility, FacilityConfig

BENCH_SITE = "bench"
# A paho publisher silently drops QoS 1 messages past 65,535 unacknowledged ones
# (MQTT_ERR_QUEUE_SIZE), so the publisher keeps far fewer than that in flight.
MAX_IN_FLIGHT = 2000


def bench_facility(sensors: int, per_room: int = 10, *, smoke: bool = False) -> Facility:
    """``sensors`` climate sensors, ``per_room`` to a paper stack room (and a smoke detector)."""
    rooms = []
    for r in range((sensors + per_room - 1) // per_room):
        count = min(per_room, sensors - r * per_room)
        members: list[dict[str, object]] = [
            {"id": f"s{r * per_room + i:05d}", "kind": "climate"} for i in range(count)
        ]
        if smoke:
            members.append({"id": f"smoke{r:04d}", "kind": "smoke"})
        rooms.append(
            {
                "id": f"R{r:04d}",
                "name": {"zh": f"库房{r}", "en": f"Stack {r}"},
                "class": "paper",
                "sensors": members,
            }
        )
    config = FacilityConfig.model_validate(
        {
            "sites": [
                {
                    "id": BENCH_SITE,
                    "name": {"zh": "基准", "en": "Bench"},
                    "buildings": [
                        {
                            "id": "b",
                            "name": {"zh": "楼", "en": "Building"},
                            "floors": [
                                {"id": "f", "name": {"zh": "层", "en": "Floor"}, "rooms": rooms}
                            ],
                        }
                    ],
                }
            ]
        }
    )
    return Facility.compile(config)


def stream_messages(
    facility: Facility, count: int, prefix: str = "archive"
) -> list[tuple[str, bytes]]:
    """``count`` in-limits climate readings, round-robin over the sensors, each with ts and seq."""
    sensors = sorted(
        (s for s in facility.all_sensors() if s.kind.value == "climate"), key=lambda s: s.id
    )
    # Stamped as a live site would stamp them, ending now: one reading a second per sensor.
    start = datetime.now(UTC) - timedelta(seconds=count // len(sensors))
    out = []
    for i in range(count):
        s = sensors[i % len(sensors)]
        seq = i // len(sensors)
        ts = start + timedelta(seconds=seq, microseconds=i % len(sensors))
        payload = {
            "temperature": round(19 + (i % 7) * 0.1, 2),
            "humidity": round(50 + (i % 5) * 0.2, 2),
            "battery": 90,
            "ts": ts.isoformat().replace("+00:00", "Z"),
            "seq": seq,
        }
        out.append((f"{prefix}/{s.site}/{s.room}/{s.id}", json.dumps(payload).encode()))
    return out


def stream_batches(
    facility: Facility, count: int, size: int, prefix: str = "archive"
) -> list[tuple[str, bytes]]:
    """The same readings as ``stream_messages``, as JSON arrays of ``size`` on ``<site>/_batch``
    (each element names its room and sensor), as a gateway would send them."""
    elements = []
    for topic, payload in stream_messages(facility, count, prefix):
        _, site, room, sensor = topic.split("/")
        elements.append((site, {"room": room, "sensor": sensor, **json.loads(payload)}))
    return [
        (
            f"{prefix}/{elements[i][0]}/_batch",
            json.dumps([item for _, item in elements[i : i + size]]).encode(),
        )
        for i in range(0, len(elements), size)
    ]


def publish(host: str, port: int, messages: list[tuple[str, bytes]], client_id: str) -> float:
    """Publish at QoS 1 with a bounded in-flight window; returns messages/s."""
    window = threading.Semaphore(MAX_IN_FLIGHT)
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv311,
    )
    client.max_inflight_messages_set(MAX_IN_FLIGHT)
    client.max_queued_messages_set(0)
    done = threading.Event()
    acked = [0]

    def on_publish(*_: object) -> None:
        acked[0] += 1
        window.release()
        if acked[0] == len(messages):
            done.set()

    client.on_publish = on_publish
    client.connect(host, port, 60)
    client.loop_start()
    began = time.perf_counter()
    for topic, payload in messages:
        window.acquire()
        info = client.publish(topic, payload, qos=1)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise RuntimeError(f"publish refused: {mqtt.error_string(info.rc)}")
    if not done.wait(600):
        raise TimeoutError(f"only {acked[0]} of {len(messages)} publishes acknowledged")
    elapsed = time.perf_counter() - began
    client.disconnect()
    client.loop_stop()
    return len(messages) / elapsed


def publish_paced(
    host: str, port: int, messages: list[tuple[str, bytes]], per_second: float, client_id: str
) -> None:
    """Publish at a steady rate (the background load of the alarm benchmark)."""
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv311,
    )
    client.max_inflight_messages_set(MAX_IN_FLIGHT)
    client.connect(host, port, 60)
    client.loop_start()
    began = time.perf_counter()
    for i, (topic, payload) in enumerate(messages):
        due = began + i / per_second
        pause = due - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        info = client.publish(topic, payload, qos=1)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise RuntimeError(f"publish refused: {mqtt.error_string(info.rc)}")
    client.disconnect()
    client.loop_stop()


def main() -> None:
    """Run as a separate process so publishing does not share the pipeline's GIL."""
    args = sys.argv[1:]
    batch = 1
    if args and args[-1].startswith("--batch="):  # readings per message (lantai bench --batch)
        batch = int(args.pop()[len("--batch=") :])
    host, port, count, sensors = args[0], int(args[1]), int(args[2]), int(args[3])
    facility = bench_facility(sensors)
    if batch > 1:
        messages = stream_batches(facility, count, batch)
    else:
        messages = stream_messages(facility, count)
    if len(args) > 4:  # noqa: PLR2004 - optional rate argument
        publish_paced(host, port, messages, float(args[4]), "bench-background")
        return
    rate = publish(host, port, messages, "bench-publisher")
    print(json.dumps({"published": count, "publish_per_s": round(rate * batch)}))


if __name__ == "__main__":
    main()
