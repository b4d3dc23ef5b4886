"""The simulator as a gateway: every sensor of a facility, published over one MQTT client.

One paho client carries all sensors, as a real site gateway does; that also means one
TCP connection instead of hundreds. The cost is that a Last Will can only speak for the
gateway, so on a clean stop each sensor's retained status is set to ``offline`` here,
and after a crash the collector's silence rule (3 x interval, archive-standards.md §6)
notices instead.

Threads: paho's network loop (``loop_start``) runs the callbacks, and one publishing
thread does all the publishing. Callbacks only queue work for that thread, because a
callback that waited for a free in-flight slot would block the very loop that frees it.
"""

from __future__ import annotations

import heapq
import json
import logging
import queue
import random
import threading
import time
from dataclasses import dataclass

from paho.mqtt.client import Client, ConnectFlags, DisconnectFlags, MQTTMessage
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from sensors.clock import Clock
from sensors.facility import Facility, SensorInfo
from sensors.simulator.control import CONTROL_TOPIC, parse_injection
from sensors.simulator.garbage import GarbageMessage, garbage_messages
from sensors.simulator.model import SensorState, new_state, next_payload
from sensors.simulator.mqtt import (
    DEFAULT_MAX_INFLIGHT,
    InflightWindow,
    make_client,
    unique_client_id,
)
from sensors.simulator.scenarios import CLEAR, ActiveScenario, activate, apply_all, is_silenced

log = logging.getLogger(__name__)

SensorKey = tuple[str, str]  # (site, sensor id)
# How long stop() lets the goodbye messages take before it gives up on them.
GOODBYE_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class _Announce:
    """Publish every sensor's retained ``online`` (after each CONNACK)."""


@dataclass(frozen=True, slots=True)
class _ReadNow:
    """Publish these sensors' next readings at once (after an injection)."""

    keys: tuple[SensorKey, ...]


@dataclass(frozen=True, slots=True)
class _SendRaw:
    """Publish these prepared messages as they are (the garbage burst)."""

    messages: tuple[GarbageMessage, ...]


_Command = _Announce | _ReadNow | _SendRaw


class Simulator:
    """Publishes realistic readings for every sensor, and bends them on injection."""

    def __init__(
        self,
        facility: Facility,
        *,
        host: str,
        port: int,
        clock: Clock,
        topic_prefix: str = "archive",
        speed: float = 1.0,
        seed: int = 0,
        protocol: str = "3.1.1",
        client_id: str | None = None,
        max_inflight: int = DEFAULT_MAX_INFLIGHT,
        control_topic: str = CONTROL_TOPIC,
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self._facility = facility
        self._host, self._port = host, port
        self._clock = clock
        self._prefix = topic_prefix
        self._speed = speed
        self._control_topic = control_topic
        self._max_inflight = max_inflight
        self._sensors = {(s.site, s.id): s for s in sorted(facility.all_sensors(), key=_order)}
        self._states: dict[SensorKey, SensorState] = {
            key: new_state(sensor, seed) for key, sensor in self._sensors.items()
        }
        # The sensors' phases within their first period (a simulation, not a secret).
        self._stagger = random.Random(seed)  # noqa: S311
        self._active: list[ActiveScenario] = []
        self._lock = threading.Lock()  # guards _active and the counters
        self._commands: queue.SimpleQueue[_Command] = queue.SimpleQueue()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._ready = threading.Event()
        self._window = InflightWindow(max_inflight)
        self._thread: threading.Thread | None = None
        self._published = 0
        self._failed = 0
        self._client = make_client(client_id or unique_client_id("lantai-sim"), protocol)
        # paho's own window matches ours, so paho never parks messages in its queue.
        self._client.max_inflight_messages_set(max_inflight)
        self._client.reconnect_delay_set(min_delay=1, max_delay=30)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message
        self._client.on_publish = self._on_publish

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        """Connect (in the background, retrying) and start publishing."""
        if self._thread is not None:
            raise RuntimeError("the simulator is already running")
        self._stopping.clear()
        self._client.connect_async(self._host, self._port, keepalive=30)
        self._client.loop_start()
        self._thread = threading.Thread(target=self._run, name="lantai-sim-publisher", daemon=True)
        self._thread.start()

    def wait_ready(self, timeout: float) -> bool:
        """Wait until connected and subscribed to the control topic."""
        return self._ready.wait(timeout)

    def stop(self) -> None:
        """Say ``offline`` for every sensor, then end both threads and disconnect."""
        thread = self._thread
        if thread is None:
            return
        self._stopping.set()
        self._wake.set()
        thread.join(timeout=GOODBYE_SECONDS + 5)
        if thread.is_alive():
            log.warning("the simulator's publishing thread did not stop in time")
        self._client.disconnect()
        self._client.loop_stop()
        self._ready.clear()
        self._thread = None

    @property
    def published(self) -> int:
        """Messages the broker has acknowledged."""
        with self._lock:
            return self._published

    @property
    def failed(self) -> int:
        """Messages that could not be queued or that the broker refused."""
        with self._lock:
            return self._failed

    # -- scenarios ---------------------------------------------------------------------

    def inject(self, name: str, target: str | None = None) -> None:
        """Apply a scenario now and publish the affected sensors at once (ValueError if bad)."""
        now = self._clock.now()
        if name == CLEAR:
            with self._lock:
                ended, self._active = self._active, []
            self._queue(_ReadNow(self._affected(ended)))
        elif name == "garbage":
            if target is not None:
                raise ValueError("the garbage scenario takes no target")
            burst = garbage_messages(self._facility, topic_prefix=self._prefix, now=now)
            self._queue(_SendRaw(tuple(burst)))
        else:
            scenario = activate(self._facility, name, target, now=now, speed=self._speed)
            with self._lock:
                self._active.append(scenario)
            self._queue(_ReadNow(self._affected([scenario])))
        log.info("scenario %s %s injected", name, target or "")

    def active(self) -> tuple[ActiveScenario, ...]:
        """The scenarios running now (expired ones are dropped)."""
        now = self._clock.now()
        with self._lock:
            self._active = [s for s in self._active if not s.expired(now)]
            return tuple(self._active)

    def _affected(self, scenarios: list[ActiveScenario]) -> tuple[SensorKey, ...]:
        return tuple(
            key
            for key, sensor in self._sensors.items()
            if any(s.affects(sensor) for s in scenarios)
        )

    def _queue(self, command: _Command) -> None:
        self._commands.put(command)
        self._wake.set()

    # -- the publishing thread ---------------------------------------------------------

    def _run(self) -> None:
        try:
            self._loop()
        except Exception:
            log.exception("the simulator's publishing thread failed")
            raise
        finally:
            self._goodbye()

    def _loop(self) -> None:
        start = time.monotonic()
        periods = {
            key: s.interval.total_seconds() / self._speed for key, s in self._sensors.items()
        }
        # Staggered phases: each sensor's first reading falls somewhere in its first period.
        due = [(start + self._stagger.uniform(0, periods[key]), key) for key in self._sensors]
        heapq.heapify(due)
        while not self._stopping.is_set():
            self._wake.clear()
            self._run_commands()
            now = time.monotonic()
            while due and due[0][0] <= now and not self._stopping.is_set():
                when, key = heapq.heappop(due)
                self._publish_reading(key)
                # After a stall (broker away) skip the missed readings instead of bursting.
                heapq.heappush(due, (max(when + periods[key], now), key))
            if due:
                self._wake.wait(max(0.0, due[0][0] - time.monotonic()))

    def _run_commands(self) -> None:
        while not self._stopping.is_set():
            try:
                command = self._commands.get_nowait()
            except queue.Empty:
                return
            if isinstance(command, _Announce):
                for sensor in self._sensors.values():
                    self._send(self._status_topic(sensor), b"online", retain=True)
            elif isinstance(command, _ReadNow):
                for key in command.keys:
                    self._publish_reading(key)
            else:
                for message in command.messages:
                    self._send(message.topic, message.payload)

    def _publish_reading(self, key: SensorKey) -> None:
        sensor = self._sensors[key]
        now = self._clock.now()
        active = self.active()
        if is_silenced(active, sensor):
            return
        payload = next_payload(self._facility, sensor, now, self._states[key])
        payload = apply_all(active, sensor, payload, now)
        self._send(self._topic(sensor), json.dumps(payload).encode())

    def _goodbye(self) -> None:
        give_up_at = time.monotonic() + GOODBYE_SECONDS
        if self._client.is_connected():
            for sensor in self._sensors.values():
                if not self._send(
                    self._status_topic(sensor), b"offline", retain=True, give_up_at=give_up_at
                ):
                    break
        self._window.wait_empty(max(0.0, give_up_at - time.monotonic()))

    def _send(
        self, topic: str, payload: bytes, *, retain: bool = False, give_up_at: float | None = None
    ) -> bool:
        """Publish with QoS 1 once a slot in the in-flight window is free."""
        while not self._window.acquire(timeout=0.1):
            if give_up_at is None and self._stopping.is_set():
                return False
            if give_up_at is not None and time.monotonic() >= give_up_at:
                return False
        info = self._client.publish(topic, payload, qos=1, retain=retain)
        # NO_CONN still queues the message in paho, which sends it after reconnecting; its
        # PUBACK then frees the slot. Anything else means it was never queued.
        if info.rc in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            return True
        self._window.release()
        with self._lock:
            self._failed += 1
        log.error("publish to %s was not queued: rc=%s", topic, info.rc)
        return False

    def _topic(self, sensor: SensorInfo) -> str:
        return f"{self._prefix}/{sensor.site}/{sensor.room}/{sensor.id}"

    def _status_topic(self, sensor: SensorInfo) -> str:
        return f"{self._topic(sensor)}/status"

    # -- paho callbacks (network thread: queue work, never block) ---------------------

    def _on_connect(
        self,
        client: Client,
        _userdata: object,
        _flags: ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            log.error("the broker refused the simulator: %s", reason_code)
            return
        receive_maximum = getattr(properties, "ReceiveMaximum", None)
        if isinstance(receive_maximum, int) and receive_maximum > 0:
            self._window.set_limit(min(self._max_inflight, receive_maximum))
        rc, _mid = client.subscribe(self._control_topic, qos=1)
        if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            log.error("subscribing to %s failed: rc=%s", self._control_topic, rc)
        self._queue(_Announce())

    def _on_disconnect(
        self,
        _client: Client,
        _userdata: object,
        _flags: DisconnectFlags,
        reason_code: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        self._ready.clear()
        if not self._stopping.is_set():
            log.warning("the simulator lost its broker (%s); paho will reconnect", reason_code)

    def _on_subscribe(
        self,
        _client: Client,
        _userdata: object,
        _mid: int,
        reason_codes: list[ReasonCode],
        _properties: Properties | None,
    ) -> None:
        if any(code.is_failure for code in reason_codes):
            log.error("the broker refused the control subscription: %s", reason_codes)
            return
        self._ready.set()

    def _on_message(self, _client: Client, _userdata: object, message: MQTTMessage) -> None:
        try:
            injection = parse_injection(bytes(message.payload))
            self.inject(injection.scenario, injection.target)
        except ValueError as exc:
            # A bad request from another process must not stop the simulator.
            log.warning("ignored control message %r: %s", message.payload[:200], exc)

    def _on_publish(
        self,
        _client: Client,
        _userdata: object,
        _mid: int,
        reason_code: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        self._window.release()
        with self._lock:
            if reason_code.is_failure:
                self._failed += 1
            else:
                self._published += 1
        if reason_code.is_failure:
            log.error("the broker refused a message: %s", reason_code)


def _order(sensor: SensorInfo) -> SensorKey:
    return (sensor.site, sensor.id)
