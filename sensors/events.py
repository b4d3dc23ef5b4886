"""The alarm vocabulary shared by the rules (who raise) and the alerts (who tell people).

It lives in the leaf package because ``rules`` and ``alerts`` may not import each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol


class Severity(StrEnum):
    """Alarm priority (ISA-18.2 style: few critical, most low; archive-standards.md §5.2)."""

    CRITICAL = "critical"  # fire, water: act now
    HIGH = "high"  # intrusion, forced door
    MEDIUM = "medium"  # climate out of limits
    LOW = "low"  # sensor health, trouble

    @property
    def rank(self) -> int:
        """0 is the most urgent; for sorting queues."""
        return _RANK[self]


_RANK = {Severity.CRITICAL: 0, Severity.HIGH: 1, Severity.MEDIUM: 2, Severity.LOW: 3}


class Category(StrEnum):
    """What kind of danger an alarm is about; decides the standard operating procedure."""

    FIRE = "fire"
    WATER = "water"
    INTRUSION = "intrusion"
    CLIMATE = "climate"
    TROUBLE = "trouble"  # a sensor is silent, its battery low, its values impossible
    SYSTEM = "system"  # Lantai itself: broker or store down
    INSPECTION = "inspection"  # a patrol not done in its window, a hazard past its deadline


class Transition(StrEnum):
    RAISE = "raise"
    CLEAR = "clear"


@dataclass(frozen=True, slots=True)
class AlarmEvent:
    """A rule's verdict that a condition started or ended.

    ``key`` names the condition: one alarm exists per key while it is active, so a rule
    that raises again for the same key updates that alarm instead of adding one.
    """

    key: str
    transition: Transition
    rule: str
    category: Category
    severity: Severity
    site: str
    room: str | None
    sensor: str | None
    at: datetime
    message_zh: str
    message_en: str
    value: float | str | None = None


class AlarmSink(Protocol):
    """Where rules send alarm events (the alerts package implements it)."""

    def publish(self, events: Sequence[AlarmEvent]) -> None: ...


@dataclass(frozen=True, slots=True)
class TaskRequest:
    """A rule asking for a person to check something (the inspections issue records it).

    ``key`` identifies the condition: a rule asks once per episode, not once per reading.
    """

    key: str
    rule: str
    site: str
    room: str
    at: datetime
    title_zh: str
    title_en: str
    role: str  # who should do it: "guard", "stack_manager", …


class TaskSink(Protocol):
    """Where rules send task requests (the inspections package implements it)."""

    def request(self, tasks: Sequence[TaskRequest]) -> None: ...


@dataclass(frozen=True, slots=True)
class MetricSample:
    """A computed per-room figure for the time-series store (e.g. preservation metrics)."""

    site: str
    room: str
    at: datetime
    values: tuple[tuple[str, float], ...]  # (name, value): dew_point, pi, twpi, emc, mold_index…


class MetricSink(Protocol):
    """Where the engine writes computed metrics (the store implements it)."""

    def write_metrics(self, samples: Sequence[MetricSample]) -> None: ...
