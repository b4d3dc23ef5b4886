"""Compile the rules: defaults and the rule file, resolved per sensor, into runtime slots.

Done once at start (style-anchors.md principle 2): the engine then runs with no lookups by
name. Each sensor gets a ``Slot``: its subject and, in order, (rule, evaluate, state cell)
for every rule that reads it. Room-level rules (fire, condensation, preservation) share
one cell among all the sensors of the room.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import Any

from pydantic import TypeAdapter

from rules.base import Subject
from rules.calendar import Calendar, CalendarConfig
from rules.config import RuleEntry, RuleFile
from rules.defaults import default_entries
from rules.kinds import Evaluate, Level, RuleConfig, RuleKind, Target, Tick
from rules.registry import BY_TYPE
from rules.silence import SilenceConfig
from sensors.facility import Facility, RoomInfo, SensorInfo, SensorKind, SiteInfo
from sensors.room_classes import ClimateLimits


@dataclass(slots=True, eq=False)
class Cell:
    """One rule state, owned by the engine; ``key`` names it in the persisted snapshot."""

    key: str
    kind: RuleKind
    value: Any


@dataclass(frozen=True, slots=True)
class Slot:
    """Everything the engine runs for one sensor's readings."""

    subject: Subject
    evaluators: tuple[tuple[Any, Evaluate, Cell, Subject], ...]
    silence_after: timedelta | None


@dataclass(frozen=True, slots=True)
class RuleSet:
    slots: dict[tuple[str, str], Slot]
    cells: dict[str, Cell]
    tickers: tuple[tuple[Any, Tick, Cell, Subject], ...]
    sites: tuple[str, ...]

    @property
    def rule_count(self) -> int:
        return sum(len(slot.evaluators) for slot in self.slots.values())


# Defaults are validated by the same union as the rule file's entries: one way in.
_ENTRY: TypeAdapter[RuleConfig] = TypeAdapter(RuleEntry)


def compile_rules(facility: Facility, rule_file: RuleFile | None = None) -> RuleSet:
    """Resolve every sensor's rules and build the engine's slots."""
    file_entries = rule_file.entries if rule_file is not None else []
    calendars = {site: _calendars(info, rule_file) for site, info in facility.sites.items()}
    cells: dict[str, Cell] = {}
    compiled_room_rules: dict[str, Any] = {}
    slots: dict[tuple[str, str], Slot] = {}
    tickers: list[tuple[Any, Tick, Cell, Subject]] = []
    # Equal compiled rules are one object, and so are the subjects of one sensor or room:
    # every reading touches its rules and subjects, and 10,000 sensors sharing a few dozen
    # of them keep the engine's working set in the CPU's caches.
    shared: dict[Any, Any] = {}
    rooms: dict[tuple[str, str], Subject] = {}
    for sensor in facility.all_sensors():
        room = facility.rooms[(sensor.site, sensor.room)]
        target = Target(sensor, room, facility.sites[sensor.site], calendars[sensor.site])
        evaluators = []
        silence_after: timedelta | None = None
        own = Subject(sensor.site, sensor.room, sensor.id)
        room_subject = rooms.setdefault(
            (sensor.site, sensor.room), Subject(sensor.site, sensor.room)
        )
        for config in _resolve(sensor, room, file_entries):
            if isinstance(config, SilenceConfig):
                silence_after = config.compile(target)
                continue
            kind = BY_TYPE[config.type]  # type: ignore[attr-defined]
            if config.level is Level.ROOM:
                subject = room_subject
                key = f"{config.id}:{sensor.site}:{sensor.room}"
                if key not in compiled_room_rules:
                    compiled_room_rules[key] = _share(shared, config.compile(target))
                rule = compiled_room_rules[key]
            else:
                subject = own
                key = f"{config.id}:{sensor.site}:{sensor.id}"
                rule = _share(shared, config.compile(target))
            cell = cells.get(key)
            if cell is None:
                cell = cells[key] = Cell(key, kind, kind.initial)
                if kind.tick is not None:
                    tickers.append((rule, kind.tick, cell, subject))
            evaluators.append((rule, kind.evaluate, cell, subject))
        slots[(sensor.site, sensor.id)] = Slot(own, tuple(evaluators), silence_after)
    return RuleSet(slots, cells, tuple(tickers), tuple(facility.sites))


def _share(shared: dict[Any, Any], rule: object) -> Any:  # noqa: ANN401 - any rule type
    """The one object equal to ``rule`` (compiled rules are frozen values)."""
    try:
        return shared.setdefault(rule, rule)
    except TypeError:  # a rule holding something unhashable is kept as it is
        return rule


def _resolve(
    sensor: SensorInfo, room: RoomInfo, file_entries: list[RuleConfig]
) -> list[RuleConfig]:
    """The winning entry per rule id for this sensor, enabled ones only, in a stable order."""
    best: dict[str, tuple[tuple[int, int, int], RuleConfig]] = {}
    candidates = [(0, i, c) for i, c in enumerate(_defaults(sensor, room))]
    candidates += [(1, i, c) for i, c in enumerate(file_entries)]
    for source, order, config in candidates:
        if sensor.kind not in config.applies_to or not config.scope.matches(sensor):
            continue
        rank = (config.scope.specificity, source, order)
        held = best.get(config.id)
        if held is None or rank > held[0]:
            best[config.id] = (rank, config)
    return [config for _, config in sorted(best.values(), key=_order) if config.enabled]


def _order(item: tuple[tuple[int, int, int], RuleConfig]) -> tuple[int, int]:
    (_, source, order), _ = item
    return source, order


def _defaults(sensor: SensorInfo, room: RoomInfo) -> tuple[RuleConfig, ...]:
    # Rooms of one class share their limits; validating the defaults once per distinct
    # (kind, limits) keeps start-up fast for 10,000 sensors.
    return _validated_defaults(sensor.kind, room.room_class, room.limits)


@cache
def _validated_defaults(
    kind: SensorKind, room_class: str, limits: ClimateLimits
) -> tuple[RuleConfig, ...]:
    return tuple(
        _ENTRY.validate_python(entry) for entry in default_entries(kind, room_class, limits)
    )


def _calendars(site: SiteInfo, rule_file: RuleFile | None) -> dict[str, Calendar]:
    configs = dict(rule_file.calendars) if rule_file is not None else {}
    configs.setdefault("default", CalendarConfig(timezone=site.timezone.key))
    return {name: Calendar.compile(config) for name, config in configs.items()}
