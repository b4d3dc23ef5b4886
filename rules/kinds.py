"""The shape every rule family shares: its config, its compiled rule, its state, its functions.

A rule family is one module (``rules/threshold.py``, ``rules/fire.py``, …) holding
- a strict config model, a subclass of ``RuleConfig`` with a ``type`` literal;
- a frozen compiled rule (built by the config's ``compile``) and a frozen state;
- pure ``evaluate(rule, state, reading, subject, now)`` and, if it has timers,
  ``tick(rule, state, subject, now)``, both returning ``(state, outputs)``;
- one ``RuleKind`` value that registers all of that (``rules/registry.py`` lists them).

``now`` in ``evaluate`` is the reading's own time (``reading.ts``): a backlog replayed after
an outage is judged as it happened, not squeezed into the seconds it took to arrive.
``now`` in ``tick`` is the clock's. States must be frozen dataclasses of plain fields so
the engine can persist them (pydantic dumps and loads them).
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from rules.base import Subject
from sensors.events import AlarmEvent, MetricSample, Severity, TaskRequest
from sensors.facility import ID_PATTERN, RoomInfo, SensorInfo, SensorKind, SiteInfo
from sensors.reading import Reading

Output = AlarmEvent | TaskRequest | MetricSample
Outputs = tuple[Output, ...]
NO_OUTPUTS: Outputs = ()


class Level(StrEnum):
    """Whether a rule keeps state per sensor or one state for the whole room."""

    SENSOR = "sensor"
    ROOM = "room"


class Scope(BaseModel):
    """Where an entry of the rule file applies; the most specific match wins."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    site: str | None = Field(default=None, pattern=ID_PATTERN)
    floor: str | None = Field(default=None, pattern=ID_PATTERN)
    room: str | None = Field(default=None, pattern=ID_PATTERN)
    sensor: str | None = Field(default=None, pattern=ID_PATTERN)

    @property
    def specificity(self) -> int:
        """sensor 4 > room 3 > floor 2 > site 1 > everywhere 0."""
        for rank, value in ((4, self.sensor), (3, self.room), (2, self.floor), (1, self.site)):
            if value is not None:
                return rank
        return 0

    def matches(self, sensor: SensorInfo) -> bool:
        return (
            (self.site is None or self.site == sensor.site)
            and (self.floor is None or self.floor == sensor.floor)
            and (self.room is None or self.room == sensor.room)
            and (self.sensor is None or self.sensor == sensor.id)
        )


@dataclass(frozen=True, slots=True)
class Target:
    """What a config compiles against: the sensor, its room and site, and shared config."""

    sensor: SensorInfo
    room: RoomInfo
    site: SiteInfo
    calendars: dict[str, Any]  # name → compiled rules.calendar.Calendar


class RuleConfig(BaseModel):
    """Fields every rule entry has. Subclasses add ``type`` and their parameters."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    scope: Scope = Scope()
    enabled: bool = True
    severity: Severity | None = None  # None: the rule type's own default

    # Which sensors' readings the rule looks at, and whether its state is per room.
    applies_to: ClassVar[frozenset[SensorKind]] = frozenset()
    level: ClassVar[Level] = Level.SENSOR

    def compile(self, target: Target) -> object:
        """Build the frozen runtime rule for one sensor (or its room)."""
        raise NotImplementedError


Evaluate = Callable[[Any, Any, Reading, Subject, datetime], tuple[Any, Outputs]]
Tick = Callable[[Any, Any, Subject, datetime], tuple[Any, Outputs]]


@dataclass(frozen=True, slots=True)
class RuleKind:
    """Registers one rule family with the engine."""

    type: str
    config: builtins.type[RuleConfig]
    state: builtins.type[Any]
    initial: Any
    evaluate: Evaluate
    tick: Tick | None = None
