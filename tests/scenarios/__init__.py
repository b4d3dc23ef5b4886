"""A tiny incident-timeline helper: a rules engine on a fake clock, fed minute by minute.

Tests read like an incident log: ``timeline.run(minutes=20, quiet={"b201-th1"})`` moves the
clock in scheduler ticks, has every other sensor report its room's normal values once a
minute, and sweeps the silence timers after every tick.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime, timedelta

from rules.engine import RulesEngine
from sensors.clock import FakeClock
from sensors.events import AlarmEvent, AlarmSink, Transition
from sensors.facility import Facility, FacilityConfig, SensorInfo, SensorKind
from sensors.payload import ReadingPayload
from sensors.reading import PresenceUpdate, Reading

SITE = "yunxi"
# The scheduler sweeps the silence timers every few seconds; ten is close enough.
TICK = timedelta(seconds=10)
MINUTE = timedelta(minutes=1)

Values = Mapping[str, object]
# minute number since the run started (1, 2, ...) → readings to send instead of normal ones
Script = Callable[[int], Mapping[str, Values]]


def reading(
    facility: Facility, sensor: str, at: datetime, values: Values, *, site: str = SITE
) -> Reading:
    """A validated reading as the collector would hand it over, placed in the sensor's room."""
    info = facility.sensor(site, sensor)
    room = info.room if info is not None else "unknown-room"
    payload = ReadingPayload.model_validate(dict(values))
    raw = json.dumps(dict(values)).encode()
    return Reading(site, room, sensor, payload.ts or at, at, payload, raw)


def normal_values(facility: Facility, sensor: SensorInfo) -> dict[str, object]:
    """What a healthy sensor reports in a room whose climate is well inside its limits."""
    room = facility.rooms[(sensor.site, sensor.room)]
    t = round((room.limits.temperature.min + room.limits.temperature.max) / 2, 1)
    rh = round((room.limits.humidity.min + room.limits.humidity.max) / 2, 1)
    by_kind: dict[SensorKind, dict[str, object]] = {
        SensorKind.CLIMATE: {"temperature": t, "humidity": rh},
        SensorKind.HEAT: {"temperature": t},
        SensorKind.SMOKE: {"smoke": False},
        SensorKind.DOOR: {"door": "closed"},
        SensorKind.WATER_LEAK: {"water_leak": False},
        SensorKind.LIGHT: {"lux": 0.0, "uv": 0.0},
        SensorKind.DUST: {"pm25": 8.0},
        SensorKind.GAS: {"voc": 0.05},
    }
    return by_kind[sensor.kind]


def large_facility(rooms: int, climate_sensors_per_room: int) -> Facility:
    """A synthetic paper-stack site with many climate sensors, for load and race tests."""
    config = FacilityConfig.model_validate(
        {
            "sites": [
                {
                    "id": SITE,
                    "name": {"zh": "测试馆", "en": "Test archive"},
                    "buildings": [
                        {
                            "id": "main",
                            "name": {"zh": "主馆", "en": "Main"},
                            "floors": [
                                {
                                    "id": "F1",
                                    "name": {"zh": "一层", "en": "First floor"},
                                    "rooms": [
                                        {
                                            "id": f"R{r:03d}",
                                            "name": {"zh": f"库房{r}", "en": f"Stack {r}"},
                                            "class": "paper",
                                            "sensors": [
                                                {"id": f"r{r:03d}-th{n}", "kind": "climate"}
                                                for n in range(climate_sensors_per_room)
                                            ],
                                        }
                                        for r in range(rooms)
                                    ],
                                }
                            ],
                        }
                    ],
                }
            ]
        }
    )
    return Facility.compile(config)


class RecordingSink:
    """An AlarmSink that keeps every event in the order it was published."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: list[AlarmEvent] = []

    def publish(self, events: Sequence[AlarmEvent]) -> None:
        with self._lock:
            self._events.extend(events)

    @property
    def events(self) -> list[AlarmEvent]:
        with self._lock:
            return list(self._events)

    def about(self, key: str) -> list[AlarmEvent]:
        return [e for e in self.events if e.key == key]

    def raised(self) -> list[AlarmEvent]:
        return [e for e in self.events if e.transition is Transition.RAISE]

    def clear(self) -> None:
        with self._lock:
            self._events.clear()


class Timeline:
    """A RulesEngine over the facility, driven by a FakeClock."""

    def __init__(
        self,
        facility: Facility,
        clock: FakeClock,
        sink: AlarmSink,
        *,
        input_healthy: Callable[[], bool] | None = None,
    ) -> None:
        self.facility = facility
        self.clock = clock
        self.engine = RulesEngine(facility, sink, clock, input_healthy=input_healthy)
        self.origin = clock.now()
        self.sensors = sorted(s.id for s in facility.all_sensors() if s.site == SITE)

    @property
    def elapsed(self) -> timedelta:
        return self.clock.now() - self.origin

    def start(self) -> None:
        self.engine.start()

    def send(self, sensor: str, **values: object) -> None:
        """One sensor reports now."""
        self.engine.on_readings([reading(self.facility, sensor, self.clock.now(), values)], [])

    def presence(self, sensor: str, *, online: bool) -> None:
        info = self.facility.sensor(SITE, sensor)
        assert info is not None, sensor
        update = PresenceUpdate(SITE, info.room, sensor, online, self.clock.now())
        self.engine.on_readings([], [update])

    def heartbeat(
        self, *, quiet: Collection[str] = (), values: Mapping[str, Values] | None = None
    ) -> None:
        """Every sensor not in ``quiet`` reports now, in one batch (``values`` overrides)."""
        overrides = values or {}
        now = self.clock.now()
        batch = []
        for sensor in self.sensors:
            if sensor in quiet:
                continue
            info = self.facility.sensor(SITE, sensor)
            assert info is not None
            sent = overrides.get(sensor) or normal_values(self.facility, info)
            batch.append(reading(self.facility, sensor, now, sent))
        self.engine.on_readings(batch, [])

    def step(self) -> None:
        """One scheduler tick: the clock moves on and the silence timers are swept."""
        self.clock.advance(TICK)
        self.engine.tick()

    def run(
        self,
        minutes: int,
        *,
        quiet: Collection[str] = (),
        script: Script | None = None,
        reporting: bool = True,
    ) -> None:
        """Advance ``minutes`` in ticks; on every whole minute the sensors report first."""
        start = self.clock.now()
        for _ in range(minutes * (MINUTE // TICK)):
            self.clock.advance(TICK)
            since = self.clock.now() - start
            if reporting and since % MINUTE == timedelta(0):
                minute = since // MINUTE
                self.heartbeat(quiet=quiet, values=script(minute) if script else None)
            self.engine.tick()
