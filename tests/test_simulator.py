"""The simulator: pure generation and scenarios on a fake clock, then over a real Mosquitto."""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import ValidationError

from lantai.broker import MosquittoBroker
from sensors.clock import FakeClock, SystemClock
from sensors.facility import Facility, SensorInfo, SensorKind
from sensors.payload import ReadingPayload
from sensors.simulator import SCENARIOS, Simulator, send_injection
from sensors.simulator.control import encode_injection, parse_injection
from sensors.simulator.garbage import GARBAGE_KINDS, TOPIC_KINDS, garbage_messages
from sensors.simulator.model import (
    SensorState,
    is_working_hours,
    new_state,
    next_payload,
)
from sensors.simulator.mqtt import InflightWindow
from sensors.simulator.scenarios import (
    HVAC_RH_PER_HOUR,
    activate,
    apply_all,
    is_silenced,
)

# ---------------------------------------------------------------------------------------
# Pure model on a fake clock


def _states(facility: Facility, seed: int = 0) -> dict[str, SensorState]:
    return {s.id: new_state(s, seed) for s in facility.all_sensors()}


def _sensor(facility: Facility, sensor_id: str) -> SensorInfo:
    sensor = facility.sensor("yunxi", sensor_id)
    assert sensor is not None
    return sensor


def test_a_normal_day_stays_inside_every_rooms_limits(facility: Facility, clock: FakeClock) -> None:
    states = _states(facility)
    seen: dict[str, list[float]] = defaultdict(list)
    last_seq: dict[str, int] = {}
    rooms_checked: set[str] = set()
    for _ in range(24 * 12):  # a day in 5-minute steps
        now = clock.advance(timedelta(minutes=5))
        for sensor in facility.all_sensors():
            payload = next_payload(facility, sensor, now, states[sensor.id])
            parsed = ReadingPayload.model_validate_json(json.dumps(payload))
            assert parsed.ts == now
            assert payload["ts"].endswith("Z")
            assert parsed.seq == last_seq.get(sensor.id, 0) + 1
            last_seq[sensor.id] = parsed.seq
            assert parsed.battery is not None
            assert 0 < parsed.battery <= 100
            room = facility.room(sensor.site, sensor.room)
            assert room is not None
            if parsed.temperature is not None:
                assert room.limits.temperature.contains(parsed.temperature), (sensor.id, payload)
                seen[sensor.id].append(parsed.temperature)
                rooms_checked.add(room.id)
            if parsed.humidity is not None:
                assert room.limits.humidity.contains(parsed.humidity), (sensor.id, payload)
            if sensor.kind is SensorKind.LIGHT:
                assert parsed.uv is not None
                assert parsed.uv < 75 / 2  # "well under" 75 µW/lm
            assert parsed.smoke in (None, False)
            assert parsed.water_leak in (None, False)
            assert parsed.forced in (None, False)
    assert rooms_checked == {room_id for (_site, room_id) in facility.rooms}
    # The day-night wave stays well inside the allowed ±2 °C swing.
    for sensor_id, temperatures in seen.items():
        room = facility.room("yunxi", _sensor(facility, sensor_id).room)
        assert room is not None
        assert 0 < max(temperatures) - min(temperatures) < room.limits.temperature_swing


def test_battery_decays_slowly(facility: Facility, clock: FakeClock) -> None:
    sensor = _sensor(facility, "b201-th1")
    state = new_state(sensor, 0)
    first = next_payload(facility, sensor, clock.now(), state)["battery"]
    for _ in range(10_000):
        last = next_payload(facility, sensor, clock.advance(60), state)["battery"]
    assert first - 1 < last < first


def test_same_seed_same_readings_other_seed_other_readings(
    facility: Facility, clock: FakeClock
) -> None:
    sensor = _sensor(facility, "b301-th1")

    def run(seed: int) -> list[dict[str, object]]:
        state = new_state(sensor, seed)
        start = clock.now()
        return [
            next_payload(facility, sensor, start + timedelta(minutes=i), state) for i in range(50)
        ]

    assert run(7) == run(7)
    assert run(7) != run(8)


def test_badges_only_in_working_hours_in_the_sites_zone(
    facility: Facility, clock: FakeClock
) -> None:
    # 2026-01-05 00:00 UTC is Monday 08:00 in Asia/Shanghai; walk a whole week.
    door = _sensor(facility, "b201-door")
    state = new_state(door, 0)
    badged_in_hours = 0
    for _ in range(7 * 24 * 12):
        now = clock.advance(timedelta(minutes=5))
        payload = next_payload(facility, door, now, state)
        assert payload["forced"] is False
        if "badge" in payload:
            assert is_working_hours(facility, "yunxi", now)
            assert payload["granted"] is True
            assert payload["door"] == "open"
            badged_in_hours += 1
        else:
            assert payload["door"] == "closed"
    assert badged_in_hours > 20
    assert is_working_hours(facility, "yunxi", datetime(2026, 1, 5, 2, 0, tzinfo=UTC))
    assert not is_working_hours(facility, "yunxi", datetime(2026, 1, 5, 12, 0, tzinfo=UTC))
    assert not is_working_hours(facility, "yunxi", datetime(2026, 1, 10, 2, 0, tzinfo=UTC))


# ---------------------------------------------------------------------------------------
# Scenarios


@pytest.mark.parametrize("room_id", ["B2-01", "B2-02", "B3-04"])
def test_hvac_failure_drives_rh_out_of_the_band_in_a_couple_of_minutes(
    facility: Facility, clock: FakeClock, room_id: str
) -> None:
    speed = 60.0
    room = facility.room("yunxi", room_id)
    assert room is not None
    scenario = activate(facility, "hvac-failure", room_id, now=clock.now(), speed=speed)
    climate = [facility.sensors[("yunxi", s)] for s in room.sensor_ids]
    climate = [s for s in climate if s.kind is SensorKind.CLIMATE]
    states = {s.id: new_state(s, 0) for s in climate}
    start = clock.now()
    first = {s.id: next_payload(facility, s, start, states[s.id]) for s in climate}
    left_at: dict[str, int] = {}
    for second in range(1, 400):
        now = clock.advance(1)
        for sensor in climate:
            payload = apply_all(
                [scenario], sensor, next_payload(facility, sensor, now, states[sensor.id]), now
            )
            if sensor.id not in left_at and payload["humidity"] > room.limits.humidity.max:
                left_at[sensor.id] = second
                assert payload["temperature"] > first[sensor.id]["temperature"]
    assert set(left_at) == {s.id for s in climate}
    half = (room.limits.humidity.max - room.limits.humidity.min) / 2
    # Normal values sit within half a half-width of the centre, so the climb to the top
    # of the band is between 0.5 and 1.5 half-widths at HVAC_RH_PER_HOUR per simulated hour.
    earliest = 0.5 * half / HVAC_RH_PER_HOUR * 3600 / speed
    latest = 1.5 * half / HVAC_RH_PER_HOUR * 3600 / speed
    for second in left_at.values():
        assert earliest - 5 <= second <= latest + 5
        assert second <= 240  # "within a minute or two" at speed 60 (here: four at most)


def test_hvac_failure_ends_when_its_duration_is_over(facility: Facility, clock: FakeClock) -> None:
    scenario = activate(facility, "hvac-failure", "B2-01", now=clock.now(), speed=60)
    assert not scenario.expired(clock.advance(timedelta(minutes=11)))
    assert scenario.expired(clock.advance(timedelta(minutes=2)))


def test_fire_sets_every_smoke_sensor_in_the_room_at_once_and_heat_rises(
    facility: Facility, clock: FakeClock
) -> None:
    scenario = activate(facility, "fire", "B2-03", now=clock.now(), speed=1)
    smoke = [s for s in facility.all_sensors() if s.kind is SensorKind.SMOKE]
    in_room = [s for s in smoke if s.room == "B2-03"]
    assert len(in_room) == 2
    for sensor in smoke:
        payload = apply_all(
            [scenario],
            sensor,
            next_payload(facility, sensor, clock.now(), new_state(sensor, 0)),
            clock.now(),
        )
        assert payload["smoke"] is (sensor.room == "B2-03")
    heat = _sensor(facility, "b203-heat")
    state = new_state(heat, 0)
    before = next_payload(facility, heat, clock.now(), state)["temperature"]
    later = clock.advance(timedelta(minutes=5))
    after = apply_all([scenario], heat, next_payload(facility, heat, later, state), later)
    assert after["temperature"] > before + 30
    ReadingPayload.model_validate_json(json.dumps(after))


def test_door_forced_reports_open_and_forced_without_a_badge(
    facility: Facility, clock: FakeClock
) -> None:
    scenario = activate(facility, "door-forced", "B2-04", now=clock.now())
    door = _sensor(facility, "b204-door")
    state = new_state(door, 0)
    for _ in range(50):  # Monday morning: some normal payloads would carry a badge
        now = clock.advance(60)
        payload = apply_all([scenario], door, next_payload(facility, door, now, state), now)
        assert payload["door"] == "open"
        assert payload["forced"] is True
        assert "badge" not in payload
    other = _sensor(facility, "b201-door")
    assert not scenario.affects(other)


def test_dropout_silences_only_its_sensor(facility: Facility, clock: FakeClock) -> None:
    scenario = activate(facility, "sensor-dropout", "b201-th1", now=clock.now())
    assert is_silenced([scenario], _sensor(facility, "b201-th1"))
    assert not is_silenced([scenario], _sensor(facility, "b201-th2"))


@pytest.mark.parametrize(
    ("name", "target", "message"),
    [
        ("fire", "B9-99", "unknown room 'B9-99'"),
        ("hvac-failure", "b201-th1", "unknown room 'b201-th1'"),
        ("door-forced", "nowhere/B2-01", "unknown room"),
        ("sensor-dropout", "no-such-sensor", "unknown sensor 'no-such-sensor'"),
        ("sensor-dropout", "B2-01", "unknown sensor 'B2-01'"),
        ("fire", None, "needs a room id"),
        ("earthquake", "B2-01", "not a lasting scenario"),
        ("garbage", None, "not a lasting scenario"),
    ],
)
def test_bad_targets_raise_a_clear_value_error(
    facility: Facility, clock: FakeClock, name: str, target: str | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        activate(facility, name, target, now=clock.now())


def test_site_qualified_targets_work(facility: Facility, clock: FakeClock) -> None:
    assert activate(facility, "fire", "yunxi/B2-03", now=clock.now()).target == "B2-03"
    assert (
        activate(facility, "sensor-dropout", "yunxi/b201-th1", now=clock.now()).target == "b201-th1"
    )


def test_simulator_inject_validates_before_anything_is_sent(
    facility: Facility, clock: FakeClock
) -> None:
    simulator = Simulator(facility, host="127.0.0.1", port=1, clock=clock)  # never started
    with pytest.raises(ValueError, match="unknown room"):
        simulator.inject("fire", "B9-99")
    with pytest.raises(ValueError, match="no target"):
        simulator.inject("garbage", "B2-01")
    simulator.inject("fire", "B2-01")
    assert [s.name for s in simulator.active()] == ["fire"]
    simulator.inject("clear")
    assert simulator.active() == ()
    with pytest.raises(ValueError, match="unknown scenario"):
        send_injection("127.0.0.1", 1, "earthquake", "B2-01")


def _topic_names_a_sensor(facility: Facility, topic: str) -> bool:
    parts = topic.split("/")
    if len(parts) != 4 or parts[0] != "archive":
        return False
    sensor = facility.sensor(parts[1], parts[3])
    return sensor is not None and sensor.room == parts[2]


def test_garbage_covers_every_kind_and_none_of_it_is_acceptable(
    facility: Facility, clock: FakeClock
) -> None:
    burst = garbage_messages(facility, topic_prefix="archive", now=clock.now())
    assert {m.kind for m in burst} == set(GARBAGE_KINDS)
    for message in burst:
        if message.kind in TOPIC_KINDS:
            # A valid payload on a topic that names no sensor of the facility.
            ReadingPayload.model_validate_json(message.payload)
            assert not _topic_names_a_sensor(facility, message.topic), message
        else:
            assert _topic_names_a_sensor(facility, message.topic), message
            with pytest.raises(ValidationError):
                ReadingPayload.model_validate_json(message.payload)
    invalid = [m.payload for m in burst if m.kind == "invalid-utf8"]
    for payload in invalid:
        with pytest.raises(UnicodeDecodeError):
            payload.decode("utf-8")


def test_injection_messages_round_trip_and_refuse_extras() -> None:
    assert set(SCENARIOS) == {
        "hvac-failure",
        "fire",
        "door-forced",
        "sensor-dropout",
        "garbage",
        "clear",
    }
    parsed = parse_injection(encode_injection("fire", "B2-03"))
    assert (parsed.scenario, parsed.target) == ("fire", "B2-03")
    assert parse_injection(encode_injection("clear", None)).target is None
    with pytest.raises(ValidationError):
        parse_injection(b'{"scenario": "fire", "target": "B2-03", "extra": 1}')
    with pytest.raises(ValidationError):
        parse_injection(b'{"scenario": 5}')


def test_inflight_window_blocks_at_the_limit_and_follows_a_lower_limit() -> None:
    window = InflightWindow(2)
    assert window.acquire(0.01)
    assert window.acquire(0.01)
    assert not window.acquire(0.01)
    window.release()
    assert window.acquire(0.01)
    window.set_limit(1)  # e.g. a broker's Receive Maximum below ours
    window.release()
    assert not window.acquire(0.01)  # still one in flight
    window.release()
    assert window.wait_empty(0.01)
    assert window.acquire(0.01)
    assert window.in_flight == 1
    assert not window.wait_empty(0.01)


# ---------------------------------------------------------------------------------------
# Over a real broker


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    retained: bool
    at: float  # time.monotonic()


class Subscriber:
    """A plain paho subscriber on ``archive/#`` that keeps everything it receives."""

    def __init__(self, broker: MosquittoBroker, client_id: str) -> None:
        self.messages: list[Received] = []
        self._changed = threading.Condition()
        self._subscribed = threading.Event()
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
        self._client.on_connect = lambda c, *_: c.subscribe("archive/#", qos=1)
        self._client.on_subscribe = lambda *_: self._subscribed.set()
        self._client.on_message = self._on_message
        self._client.connect(broker.host, broker.port)
        self._client.loop_start()
        assert self._subscribed.wait(5)

    def _on_message(
        self, _client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage
    ) -> None:
        received = Received(message.topic, bytes(message.payload), message.retain, time.monotonic())
        with self._changed:
            self.messages.append(received)
            self._changed.notify_all()

    def wait_for(self, check: Callable[[list[Received]], bool], timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: check(self.messages), timeout)

    def snapshot(self) -> list[Received]:
        with self._changed:
            return list(self.messages)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


def _readings(
    messages: list[Received], since: datetime
) -> dict[str, list[tuple[Received, ReadingPayload]]]:
    by_sensor: dict[str, list[tuple[Received, ReadingPayload]]] = defaultdict(list)
    for message in messages:
        parts = message.topic.split("/")
        if len(parts) != 4:
            continue
        payload = ReadingPayload.model_validate_json(message.payload)
        assert payload.ts is not None
        if payload.ts >= since:
            by_sensor[parts[3]].append((message, payload))
    return by_sensor


def _live_statuses(messages: list[Received], word: bytes) -> set[str]:
    return {
        m.topic.split("/")[3]
        for m in messages
        if m.topic.endswith("/status") and not m.retained and m.payload == word
    }


@pytest.fixture
def subscriber(broker: MosquittoBroker, unique_id: str) -> Iterator[Subscriber]:
    sub = Subscriber(broker, f"{unique_id}-sub")
    yield sub
    sub.close()


@pytest.mark.integration
def test_simulator_publishes_every_sensor_and_reacts_to_injections(
    broker: MosquittoBroker, facility: Facility, subscriber: Subscriber, unique_id: str
) -> None:
    since = datetime.now(UTC)
    all_ids = {s.id for s in facility.all_sensors()}
    sim = Simulator(
        facility,
        host=broker.host,
        port=broker.port,
        clock=SystemClock(),
        speed=120,
        seed=3,
        client_id=unique_id,
    )
    sim.start()
    try:
        assert sim.wait_ready(5)
        # Smoke heartbeats are 5 min, 2.5 s at speed 120: every sensor is heard within that.
        assert subscriber.wait_for(lambda m: set(_readings(m, since)) >= all_ids, 6)
        assert subscriber.wait_for(lambda m: _live_statuses(m, b"online") >= all_ids, 2)
        for sensor_id, readings in _readings(subscriber.snapshot(), since).items():
            sensor = _sensor(facility, sensor_id)
            assert all(m.topic == f"archive/yunxi/{sensor.room}/{sensor_id}" for m, _ in readings)
            seqs = [p.seq or 0 for _, p in readings]
            assert seqs == sorted(seqs)

        # Fire: both smoke detectors of B2-03 alarm within a second of the request.
        asked = time.monotonic()
        send_injection(broker.host, broker.port, "fire", "B2-03")

        def smoke_alarms(messages: list[Received]) -> dict[str, float]:
            return {
                sid: m.at
                for sid, readings in _readings(messages, since).items()
                for m, p in readings
                if p.smoke is True and m.at >= asked
            }

        assert subscriber.wait_for(
            lambda m: set(smoke_alarms(m)) >= {"b203-smoke1", "b203-smoke2"}, 2
        )
        alarms = smoke_alarms(subscriber.snapshot())
        assert set(alarms) == {"b203-smoke1", "b203-smoke2"}
        assert max(alarms.values()) - asked < 1.0

        # Dropout: b201-th1 goes quiet while its neighbour keeps reporting (0.5 s interval).
        sim.inject("sensor-dropout", "b201-th1")
        time.sleep(0.2)  # let anything already in flight arrive
        quiet_from = time.monotonic()

        def count_after(messages: list[Received], sensor_id: str) -> int:
            return sum(
                1 for m, _ in _readings(messages, since).get(sensor_id, []) if m.at >= quiet_from
            )

        assert subscriber.wait_for(lambda m: count_after(m, "b201-th2") >= 3, 3)
        assert count_after(subscriber.snapshot(), "b201-th1") == 0

        # Clearing brings it straight back.
        send_injection(broker.host, broker.port, "clear", None)
        assert subscriber.wait_for(lambda m: count_after(m, "b201-th1") >= 1, 1)
        assert sim.active() == ()
    finally:
        sim.stop()
    assert subscriber.wait_for(lambda m: _live_statuses(m, b"offline") >= all_ids, 3)
    assert sim.failed == 0
    assert sim.published >= 2 * len(all_ids)
    assert not any(t.name == "lantai-sim-publisher" for t in threading.enumerate())


@pytest.mark.integration
def test_garbage_burst_reaches_the_broker_over_mqtt5(
    broker: MosquittoBroker,
    facility: Facility,
    subscriber: Subscriber,
    clock: FakeClock,
    unique_id: str,
) -> None:
    # A fake clock, so that the burst's timestamps are known in advance.
    sim = Simulator(
        facility,
        host=broker.host,
        port=broker.port,
        clock=clock,
        speed=600,
        protocol="5",
        client_id=unique_id,
    )
    sim.start()
    try:
        assert sim.wait_ready(5)
        sent = time.monotonic()
        send_injection(broker.host, broker.port, "garbage", None, protocol="5")
        burst = garbage_messages(facility, topic_prefix="archive", now=clock.now())
        # Every bad topic still starts with archive/, so the subscriber sees all of them.
        expected = {(m.topic, m.payload) for m in burst}

        def arrived(messages: list[Received]) -> set[tuple[str, bytes]]:
            return {(m.topic, m.payload) for m in messages if m.at >= sent}

        assert subscriber.wait_for(lambda m: arrived(m) >= expected, 3)
        kinds_seen = {
            m.kind for m in burst if (m.topic, m.payload) in arrived(subscriber.snapshot())
        }
        assert kinds_seen == set(GARBAGE_KINDS)
    finally:
        sim.stop()
    assert sim.failed == 0
