"""The facility model: site → building → floor → stack room → sensor.

``FacilityConfig`` is the strict shape of the YAML file; ``Facility`` is the compiled
runtime object that the collector and the rules look things up in.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from sensors.duration import PositiveDuration
from sensors.room_classes import (
    ClimateLimits,
    ClimateLimitsOverride,
    LocalName,
    RoomClass,
    StrictModel,
    builtin_room_classes,
)
from sensors.yamlconfig import Loc, load_yaml_model

# The wire contract's id rule: topic segments are ids, so they are kept to a safe alphabet.
ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
Id = Annotated[str, Field(pattern=ID_PATTERN)]


class SensorKind(StrEnum):
    """What a sensor measures; decides its default reporting interval and its rules."""

    CLIMATE = "climate"  # temperature + humidity
    SMOKE = "smoke"
    HEAT = "heat"  # temperature only, e.g. a heat detector or a surface/supply-air probe
    DOOR = "door"  # door contact and badge reader
    WATER_LEAK = "water_leak"
    LIGHT = "light"  # lux and UV
    DUST = "dust"  # PM2.5
    GAS = "gas"  # VOC


# Event sensors report on change plus a heartbeat; climate sensors report steadily.
# No standard fixes an interval (archive-standards.md §6), so these are engineering defaults.
DEFAULT_INTERVALS: Mapping[SensorKind, timedelta] = {
    SensorKind.CLIMATE: timedelta(minutes=1),
    SensorKind.SMOKE: timedelta(minutes=5),
    SensorKind.HEAT: timedelta(minutes=1),
    SensorKind.DOOR: timedelta(minutes=5),
    SensorKind.WATER_LEAK: timedelta(minutes=5),
    SensorKind.LIGHT: timedelta(minutes=5),
    SensorKind.DUST: timedelta(minutes=5),
    SensorKind.GAS: timedelta(minutes=5),
}


class SensorConfig(StrictModel):
    id: Id
    kind: SensorKind
    # How often the sensor is expected to report (or send a heartbeat).
    interval: PositiveDuration | None = None
    name: str | None = Field(default=None, max_length=200)


class RoomConfig(StrictModel):
    id: Id
    name: LocalName
    room_class: str = Field(alias="class")
    limits: ClimateLimitsOverride | None = None
    sensors: list[SensorConfig] = Field(default_factory=list)


class FloorConfig(StrictModel):
    id: Id
    name: LocalName
    rooms: list[RoomConfig] = Field(min_length=1)


class BuildingConfig(StrictModel):
    id: Id
    name: LocalName
    floors: list[FloorConfig] = Field(min_length=1)


class SiteConfig(StrictModel):
    id: Id
    name: LocalName
    timezone: str = "Asia/Shanghai"
    buildings: list[BuildingConfig] = Field(min_length=1)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value


class FacilityConfig(StrictModel):
    """The whole facility file: extra room classes and one or more sites."""

    room_classes: dict[str, RoomClass] = Field(default_factory=dict)
    sites: list[SiteConfig] = Field(min_length=1)

    def cross_check(self) -> list[tuple[Loc, str]]:
        """References and uniqueness that single fields cannot check."""
        problems: list[tuple[Loc, str]] = []
        known_classes = set(builtin_room_classes()) | set(self.room_classes)
        site_ids: set[str] = set()
        for si, site in enumerate(self.sites):
            if site.id in site_ids:
                problems.append((("sites", si, "id"), f"duplicate site id {site.id!r}"))
            site_ids.add(site.id)
            rooms: set[str] = set()
            sensors: set[str] = set()
            for bi, building in enumerate(site.buildings):
                for fi, floor in enumerate(building.floors):
                    for ri, room in enumerate(floor.rooms):
                        at: Loc = ("sites", si, "buildings", bi, "floors", fi, "rooms", ri)
                        if room.id in rooms:
                            problems.append(((*at, "id"), f"duplicate room id {room.id!r}"))
                        rooms.add(room.id)
                        if room.room_class not in known_classes:
                            choices = ", ".join(sorted(known_classes))
                            problems.append(
                                (
                                    (*at, "class"),
                                    f"unknown room class {room.room_class!r} (known: {choices})",
                                )
                            )
                        for xi, sensor in enumerate(room.sensors):
                            if sensor.id in sensors:
                                problems.append(
                                    (
                                        (*at, "sensors", xi, "id"),
                                        f"duplicate sensor id {sensor.id!r} in site {site.id!r}",
                                    )
                                )
                            sensors.add(sensor.id)
        return problems


@dataclass(frozen=True, slots=True)
class RoomInfo:
    """A stack room, with its place in the site and its effective climate limits."""

    site: str
    building: str
    floor: str
    id: str
    name: LocalName
    room_class: str
    limits: ClimateLimits
    sensor_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SensorInfo:
    """A registered sensor and where it hangs."""

    site: str
    building: str
    floor: str
    room: str
    room_class: str
    id: str
    kind: SensorKind
    interval: timedelta
    name: str | None


@dataclass(frozen=True, slots=True)
class SiteInfo:
    id: str
    name: LocalName
    timezone: ZoneInfo
    floors: tuple[tuple[str, str, LocalName], ...]  # (building, floor id, floor name)


@dataclass(frozen=True)
class Facility:
    """The compiled facility: fast lookups by (site, sensor) and (site, room)."""

    sites: Mapping[str, SiteInfo]
    rooms: Mapping[tuple[str, str], RoomInfo]
    sensors: Mapping[tuple[str, str], SensorInfo]
    room_classes: Mapping[str, RoomClass] = field(default_factory=dict)

    def sensor(self, site: str, sensor_id: str) -> SensorInfo | None:
        return self.sensors.get((site, sensor_id))

    def room(self, site: str, room_id: str) -> RoomInfo | None:
        return self.rooms.get((site, room_id))

    def all_sensors(self) -> Iterator[SensorInfo]:
        return iter(self.sensors.values())

    @classmethod
    def compile(cls, config: FacilityConfig) -> Facility:
        classes = builtin_room_classes() | dict(config.room_classes)
        sites: dict[str, SiteInfo] = {}
        rooms: dict[tuple[str, str], RoomInfo] = {}
        sensors: dict[tuple[str, str], SensorInfo] = {}
        for site in config.sites:
            floors: list[tuple[str, str, LocalName]] = []
            for building in site.buildings:
                for floor in building.floors:
                    floors.append((building.id, floor.id, floor.name))
                    for room in floor.rooms:
                        limits = classes[room.room_class].limits
                        if room.limits is not None:
                            limits = room.limits.apply(limits)
                        rooms[(site.id, room.id)] = RoomInfo(
                            site=site.id,
                            building=building.id,
                            floor=floor.id,
                            id=room.id,
                            name=room.name,
                            room_class=room.room_class,
                            limits=limits,
                            sensor_ids=tuple(s.id for s in room.sensors),
                        )
                        for sensor in room.sensors:
                            sensors[(site.id, sensor.id)] = SensorInfo(
                                site=site.id,
                                building=building.id,
                                floor=floor.id,
                                room=room.id,
                                room_class=room.room_class,
                                id=sensor.id,
                                kind=sensor.kind,
                                interval=(
                                    sensor.interval
                                    if sensor.interval is not None
                                    else DEFAULT_INTERVALS[sensor.kind]
                                ),
                                name=sensor.name,
                            )
            sites[site.id] = SiteInfo(
                id=site.id, name=site.name, timezone=ZoneInfo(site.timezone), floors=tuple(floors)
            )
        return cls(sites=sites, rooms=rooms, sensors=sensors, room_classes=classes)


def load_facility(path: Path) -> Facility:
    """Load, validate and compile a facility file (raises ConfigError)."""
    return Facility.compile(load_yaml_model(path, FacilityConfig))
