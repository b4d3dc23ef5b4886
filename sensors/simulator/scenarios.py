"""Incident scenarios as data: whom each one targets, what it does to readings, how long.

A scenario is activated at a moment and bends the normal readings of the sensors it
affects from then on. Its clock runs at the simulator's speed, so "RH climbs 3 %/h"
takes a simulated hour, which at speed 60 is one real minute.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar

from sensors.facility import Facility, RoomInfo, SensorInfo, SensorKind

# HVAC failure: a sealed stack in a humid season gains moisture and heat once the plant
# stops. The rates are engineering values; they leave a paper stack's 45-60 % band
# (JGJ 25-2010 Table 5.2.1, archive-standards.md §1.1) in about 2.5 simulated hours.
HVAC_RH_PER_HOUR = 3.0  # %RH
HVAC_RH_MAX_RISE = 30.0
HVAC_T_PER_HOUR = 1.0  # °C
HVAC_T_MAX_RISE = 8.0
# Fire: a heat detector near the seat of a fire climbs fast; room air follows slower.
# Capped so that a reading stays inside the payload's physical range (≤150 °C).
FIRE_HEAT_PER_MINUTE = 8.0  # °C
FIRE_HEAT_MAX_RISE = 60.0
FIRE_AIR_PER_MINUTE = 2.0
FIRE_AIR_MAX_RISE = 25.0

Payload = dict[str, Any]
_Found = TypeVar("_Found", RoomInfo, SensorInfo)
# (sensor kind, payload, simulated hours since activation) -> changed payload
Effect = Callable[[SensorKind, Payload, float], Payload]


class Target(StrEnum):
    """What a scenario's target names."""

    ROOM = "room"
    SENSOR = "sensor"
    NONE = "none"


def _hvac_failure(kind: SensorKind, payload: Payload, hours: float) -> Payload:
    del kind  # climate and heat alike
    if "humidity" in payload:
        rise = min(HVAC_RH_PER_HOUR * hours, HVAC_RH_MAX_RISE)
        payload["humidity"] = round(min(100.0, payload["humidity"] + rise), 1)
    if "temperature" in payload:
        rise = min(HVAC_T_PER_HOUR * hours, HVAC_T_MAX_RISE)
        payload["temperature"] = round(payload["temperature"] + rise, 2)
    return payload


def _fire(kind: SensorKind, payload: Payload, hours: float) -> Payload:
    minutes = hours * 60
    if kind is SensorKind.SMOKE:
        payload["smoke"] = True
    elif kind is SensorKind.HEAT:
        rise = min(FIRE_HEAT_PER_MINUTE * minutes, FIRE_HEAT_MAX_RISE)
        payload["temperature"] = round(payload["temperature"] + rise, 2)
    elif kind is SensorKind.CLIMATE:
        rise = min(FIRE_AIR_PER_MINUTE * minutes, FIRE_AIR_MAX_RISE)
        payload["temperature"] = round(payload["temperature"] + rise, 2)
    return payload


def _door_forced(kind: SensorKind, payload: Payload, hours: float) -> Payload:
    del kind, hours
    # A forced door has no badge event: the point is that nobody was let in.
    payload.pop("badge", None)
    payload.pop("granted", None)
    payload |= {"door": "open", "forced": True}
    return payload


@dataclass(frozen=True, slots=True)
class ScenarioSpec:
    """One kind of incident."""

    name: str
    target: Target
    duration: timedelta  # simulated time
    kinds: frozenset[SensorKind]  # sensor kinds in the target that it changes
    effect: Effect | None  # None: the sensor goes silent (or, for garbage, nothing lasts)
    summary: str


_CLIMATE_KINDS = frozenset({SensorKind.CLIMATE, SensorKind.HEAT})
SPECS: Mapping[str, ScenarioSpec] = {
    spec.name: spec
    for spec in (
        ScenarioSpec(
            "hvac-failure",
            Target.ROOM,
            timedelta(hours=12),
            _CLIMATE_KINDS,
            _hvac_failure,
            "temperature and RH drift steadily out of the room's band",
        ),
        ScenarioSpec(
            "fire",
            Target.ROOM,
            timedelta(hours=1),
            _CLIMATE_KINDS | {SensorKind.SMOKE},
            _fire,
            "every smoke detector in the room alarms at once; heat rises",
        ),
        ScenarioSpec(
            "door-forced",
            Target.ROOM,
            timedelta(minutes=30),
            frozenset({SensorKind.DOOR}),
            _door_forced,
            "the room's door reports open and forced",
        ),
        ScenarioSpec(
            "sensor-dropout",
            Target.SENSOR,
            timedelta(hours=2),
            frozenset(SensorKind),
            None,
            "the sensor stops publishing",
        ),
        ScenarioSpec(
            "garbage",
            Target.NONE,
            timedelta(0),
            frozenset(),
            None,
            "one burst of malformed messages",
        ),
    )
}
CLEAR = "clear"
# Every name that an injection may carry.
SCENARIOS: tuple[str, ...] = (*SPECS, CLEAR)


@dataclass(frozen=True, slots=True)
class ActiveScenario:
    """A scenario running since ``started`` against one room or sensor of one site."""

    spec: ScenarioSpec
    site: str
    target: str  # a room id or a sensor id, per spec.target
    started: datetime
    speed: float

    @property
    def name(self) -> str:
        return self.spec.name

    def simulated_elapsed(self, now: datetime) -> timedelta:
        return max(timedelta(0), (now - self.started) * self.speed)

    def expired(self, now: datetime) -> bool:
        return self.simulated_elapsed(now) >= self.spec.duration

    def affects(self, sensor: SensorInfo) -> bool:
        if sensor.site != self.site or sensor.kind not in self.spec.kinds:
            return False
        if self.spec.target is Target.ROOM:
            return sensor.room == self.target
        return sensor.id == self.target

    def silences(self, sensor: SensorInfo) -> bool:
        return self.spec.effect is None and self.affects(sensor)

    def apply(self, sensor: SensorInfo, payload: Payload, now: datetime) -> Payload:
        """The payload as this scenario bends it (a copy; the input is left alone)."""
        if self.spec.effect is None or not self.affects(sensor):
            return payload
        hours = self.simulated_elapsed(now).total_seconds() / 3600
        return self.spec.effect(sensor.kind, dict(payload), hours)


def activate(
    facility: Facility, name: str, target: str | None, *, now: datetime, speed: float = 1.0
) -> ActiveScenario:
    """Start scenario ``name`` at ``now``; ValueError names what is wrong with the request."""
    spec = SPECS.get(name)
    if spec is None or spec.target is Target.NONE:
        lasting = ", ".join(n for n, s in SPECS.items() if s.target is not Target.NONE)
        raise ValueError(f"{name!r} is not a lasting scenario (choose from: {lasting})")
    if not target:
        raise ValueError(f"scenario {name!r} needs a {spec.target.value} id")
    if speed <= 0:
        raise ValueError("speed must be positive")
    if spec.target is Target.ROOM:
        room = find_room(facility, target)
        site, target_id = room.site, room.id
        members = [facility.sensors[(site, sid)] for sid in room.sensor_ids]
    else:
        sensor = find_sensor(facility, target)
        site, target_id, members = sensor.site, sensor.id, [sensor]
    scenario = ActiveScenario(spec=spec, site=site, target=target_id, started=now, speed=speed)
    if not any(scenario.affects(s) for s in members):
        kinds = ", ".join(sorted(spec.kinds))
        raise ValueError(f"{name!r} needs a sensor of kind {kinds} in {target!r}; there is none")
    return scenario


def find_room(facility: Facility, target: str) -> RoomInfo:
    """A room by ``ROOM`` or ``SITE/ROOM``; ValueError if unknown or ambiguous."""
    matches = [r for r in facility.rooms.values() if target in (r.id, f"{r.site}/{r.id}")]
    return _one(matches, "room", target)


def find_sensor(facility: Facility, target: str) -> SensorInfo:
    """A sensor by ``SENSOR`` or ``SITE/SENSOR``; ValueError if unknown or ambiguous."""
    matches = [s for s in facility.all_sensors() if target in (s.id, f"{s.site}/{s.id}")]
    return _one(matches, "sensor", target)


def _one(matches: list[_Found], what: str, target: str) -> _Found:
    if not matches:
        raise ValueError(f"unknown {what} {target!r}")
    if len(matches) > 1:
        sites = ", ".join(sorted(m.site for m in matches))
        raise ValueError(f"{what} {target!r} exists in several sites ({sites}): use SITE/{target}")
    return matches[0]


def apply_all(
    active: Iterable[ActiveScenario], sensor: SensorInfo, payload: Payload, now: datetime
) -> Payload:
    """The payload after every running scenario has had its say, in activation order."""
    for scenario in active:
        payload = scenario.apply(sensor, payload, now)
    return payload


def is_silenced(active: Iterable[ActiveScenario], sensor: SensorInfo) -> bool:
    """Whether a running dropout keeps this sensor quiet."""
    return any(scenario.silences(sensor) for scenario in active)
