"""A small incident-timeline helper: a rules engine on a fake clock, fed minute by minute.

Normal values are constant: a scenario longer than six hours would find every sensor
"stuck" (rules/health.py), so each stays shorter or scripts some jitter.

Tests read like an incident log::

    line = Timeline(facility, clock, rules=example_rules(facility))
    line.start()
    line.run(minutes=20, quiet={"b201-th1"})   # everyone else reports normal values
    line.healthy = False                        # the broker goes down
    line.restart(down=timedelta(minutes=3))     # a new process on the same state store
    assert line.record.log(facility) == [("02:13:05", "raise", "fire:yunxi:B2-03"), ...]

The clock moves in scheduler ticks on a grid anchored at the timeline's origin: on every
whole minute of the grid every sensor (but the quiet ones) reports first, then the
engine's timers are swept.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rules.config import RuleFile, load_rules
from rules.engine import RulesEngine
from rules.persistence import StateStore
from sensors.clock import FakeClock
from sensors.events import AlarmEvent, AlarmSink, MetricSample, TaskRequest, Transition
from sensors.facility import Facility, FacilityConfig, SensorInfo, SensorKind
from sensors.payload import ReadingPayload
from sensors.reading import PresenceUpdate, Reading

EXAMPLE_RULES = Path(__file__).resolve().parents[2] / "rules" / "example-rules.yaml"
SITE = "yunxi"
# The scheduler sweeps the timers every few seconds; ten is close enough.
TICK = timedelta(seconds=10)
MINUTE = timedelta(minutes=1)

Values = Mapping[str, object]
# minute number since the timeline's origin → values to merge over the normal ones
Script = Callable[[int], Mapping[str, Values]]
# One line of the alarm log: (local time "HH:MM:SS", "raise" or "clear", alarm key)
LogLine = tuple[str, str, str]


def local(facility: Facility, text: str, *, site: str = SITE) -> datetime:
    """``"2026-01-05 22:40"`` (or with seconds) on the site's wall clock, in UTC like the clock."""
    naive = datetime.fromisoformat(text)
    return naive.replace(tzinfo=facility.sites[site].timezone).astimezone(UTC)


def example_rules(facility: Facility) -> RuleFile:
    """The rule file the example site ships with (calendar, B2-02, F2, B3-03, B3-02)."""
    return load_rules(EXAMPLE_RULES, facility)


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
    """Alarm, task and metric sink in one: keeps everything in the order it was published."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: list[AlarmEvent] = []
        self._tasks: list[TaskRequest] = []
        self._metrics: list[MetricSample] = []

    def publish(self, events: Sequence[AlarmEvent]) -> None:
        with self._lock:
            self._events.extend(events)

    def request(self, tasks: Sequence[TaskRequest]) -> None:
        with self._lock:
            self._tasks.extend(tasks)

    def write_metrics(self, samples: Sequence[MetricSample]) -> None:
        with self._lock:
            self._metrics.extend(samples)

    @property
    def events(self) -> list[AlarmEvent]:
        with self._lock:
            return list(self._events)

    @property
    def tasks(self) -> list[TaskRequest]:
        with self._lock:
            return list(self._tasks)

    @property
    def metrics(self) -> list[MetricSample]:
        with self._lock:
            return list(self._metrics)

    def about(self, key: str) -> list[AlarmEvent]:
        return [e for e in self.events if e.key == key]

    def raised(self) -> list[AlarmEvent]:
        return [e for e in self.events if e.transition is Transition.RAISE]

    def transitions(self) -> list[tuple[str, Transition]]:
        """(key, transition) of every alarm event, in order."""
        return [(e.key, e.transition) for e in self.events]

    def log(self, facility: Facility, *, site: str = SITE) -> list[LogLine]:
        """The alarm log as the safety officer reads it: site wall-clock time, what, which."""
        zone = facility.sites[site].timezone
        return [
            (e.at.astimezone(zone).strftime("%H:%M:%S"), e.transition.value, e.key)
            for e in self.events
        ]

    def task_log(self, facility: Facility, *, site: str = SITE) -> dict[str, str]:
        """Task key → local time of its first request (sinks dedupe requests by key)."""
        zone = facility.sites[site].timezone
        first: dict[str, str] = {}
        for task in self.tasks:
            first.setdefault(task.key, task.at.astimezone(zone).strftime("%H:%M:%S"))
        return first

    def clear(self) -> None:
        with self._lock:
            self._events.clear()
            self._tasks.clear()
            self._metrics.clear()


class Timeline:
    """A RulesEngine over the facility, driven by a FakeClock, restartable like a process.

    Alarms go to ``sink`` when one is given (e.g. an AlarmService), else to ``record``;
    tasks and metrics always go to ``record``. ``healthy`` is what the engine's
    ``input_healthy`` reports: set it False for a broker or store outage.
    """

    def __init__(
        self,
        facility: Facility,
        clock: FakeClock,
        sink: AlarmSink | None = None,
        *,
        rules: RuleFile | None = None,
        state_store: StateStore | None = None,
        save_every: timedelta = timedelta(seconds=10),
    ) -> None:
        self.facility = facility
        self.clock = clock
        self.record = sink if isinstance(sink, RecordingSink) else RecordingSink()
        self.sink: AlarmSink = sink if sink is not None else self.record
        self.rules = rules
        self.state_store = state_store
        self.save_every = save_every
        self.healthy = True
        self.origin = clock.now()
        self.sensors = sorted(s.id for s in facility.all_sensors() if s.site == SITE)
        self.engine = self._new_engine()

    def _new_engine(self) -> RulesEngine:
        return RulesEngine(
            self.facility,
            self.sink,
            self.clock,
            rules=self.rules,
            tasks=self.record,
            metrics=self.record,
            state_store=self.state_store,
            input_healthy=lambda: self.healthy,
            save_every=self.save_every,
        )

    @property
    def elapsed(self) -> timedelta:
        return self.clock.now() - self.origin

    def start(self) -> None:
        self.engine.start()

    def restart(self, *, down: timedelta = timedelta(0), crash: bool = False) -> None:
        """The process stops (saving, unless it ``crash``es), stays down, and a new one starts.

        The new RulesEngine is built on the same facility, rule file and state store, as
        the service does at start-up; nothing else of the old one survives.
        """
        if not crash:
            self.engine.stop()
        self.clock.advance(down)
        self.engine = self._new_engine()
        self.engine.start()

    def send(self, sensor: str, **values: object) -> None:
        """One sensor reports now, exactly ``values``."""
        self.engine.on_readings([reading(self.facility, sensor, self.clock.now(), values)], [])

    def presence(self, sensor: str, *, online: bool) -> None:
        info = self.facility.sensor(SITE, sensor)
        assert info is not None, sensor
        update = PresenceUpdate(SITE, info.room, sensor, online, self.clock.now())
        self.engine.on_readings([], [update])

    def heartbeat(
        self, *, quiet: Collection[str] = (), values: Mapping[str, Values] | None = None
    ) -> None:
        """Every sensor not in ``quiet`` reports now, in one batch (``values`` merged over)."""
        overrides = values or {}
        now = self.clock.now()
        batch = []
        for sensor in self.sensors:
            if sensor in quiet:
                continue
            info = self.facility.sensor(SITE, sensor)
            assert info is not None
            sent = {**normal_values(self.facility, info), **overrides.get(sensor, {})}
            batch.append(reading(self.facility, sensor, now, sent))
        self.engine.on_readings(batch, [])

    def step(self) -> None:
        """To the next tick of the grid, where the timers are swept; nobody reports."""
        self.clock.set(self._next_tick())
        self.engine.tick()

    def run(
        self,
        minutes: float = 0,
        *,
        until: datetime | None = None,
        quiet: Collection[str] = (),
        script: Script | None = None,
        reporting: bool = True,
    ) -> None:
        """Advance by ``minutes`` (or to ``until``) tick by tick.

        On every whole minute of the grid the sensors not ``quiet`` report first (the
        ``script`` of that minute merged over their normal values), then the timers are
        swept. An end between two ticks leaves the clock there, unswept.
        """
        end = until if until is not None else self.clock.now() + timedelta(minutes=minutes)
        while (when := self._next_tick()) <= end:
            self.clock.set(when)
            since = when - self.origin
            if reporting and since % MINUTE == timedelta(0):
                minute = since // MINUTE
                self.heartbeat(quiet=quiet, values=script(minute) if script else None)
            self.engine.tick()
        self.clock.set(max(end, self.clock.now()))

    def _next_tick(self) -> datetime:
        return self.origin + ((self.clock.now() - self.origin) // TICK + 1) * TICK
