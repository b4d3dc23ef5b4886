"""The access-control rules as configurable, registered kinds (the logic is in rules/access.py).

Door sensors report ``door`` open/closed, ``forced``, and badge events (``badge``,
``granted``). Entry rules are configurable policies: archive-standards.md §2 finds no
national rule that mandates 双人进库 or after-hours approval, so both are switches here.
"""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar, Literal

from pydantic import Field

from rules import access
from rules.kinds import RuleConfig, RuleKind, Target
from sensors.duration import PositiveDuration
from sensors.events import Severity
from sensors.facility import SensorKind

_DOORS = frozenset({SensorKind.DOOR})


class DoorForcedConfig(RuleConfig):
    type: Literal["door_forced"]
    applies_to: ClassVar[frozenset[SensorKind]] = _DOORS

    def compile(self, target: Target) -> access.DoorForcedRule:
        del target
        return access.DoorForcedRule(id=self.id, severity=self.severity or Severity.HIGH)


class DoorHeldOpenConfig(RuleConfig):
    type: Literal["door_held_open"]
    after: PositiveDuration = timedelta(minutes=2)  # a delivery trolley, not a wedge
    applies_to: ClassVar[frozenset[SensorKind]] = _DOORS

    def compile(self, target: Target) -> access.DoorHeldOpenRule:
        del target
        return access.DoorHeldOpenRule(
            after=self.after, id=self.id, severity=self.severity or Severity.MEDIUM
        )


class AfterHoursEntryConfig(RuleConfig):
    type: Literal["after_hours_entry"]
    # A calendar named in the rule file's `calendars:`; "default" exists for every site
    # (Mon–Fri 08:30–17:30 in the site's time zone) unless the file defines its own.
    calendar: str = Field(default="default", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    grace: PositiveDuration = timedelta(minutes=1)
    applies_to: ClassVar[frozenset[SensorKind]] = _DOORS

    def compile(self, target: Target) -> access.AfterHoursEntryRule:
        return access.AfterHoursEntryRule(
            calendar=target.calendars[self.calendar],
            grace=self.grace,
            id=self.id,
            severity=self.severity or Severity.HIGH,
        )


class TwoPersonConfig(RuleConfig):
    type: Literal["two_person"]
    within: PositiveDuration = timedelta(seconds=60)
    applies_to: ClassVar[frozenset[SensorKind]] = _DOORS

    def compile(self, target: Target) -> access.TwoPersonRule:
        return access.TwoPersonRule(
            rooms=frozenset({target.room.id}),
            within=self.within,
            id=self.id,
            severity=self.severity or Severity.HIGH,
        )


class DeniedBadgesConfig(RuleConfig):
    type: Literal["denied_badges"]
    count: int = Field(default=3, ge=1, le=100)
    within: PositiveDuration = timedelta(minutes=5)
    applies_to: ClassVar[frozenset[SensorKind]] = _DOORS

    def compile(self, target: Target) -> access.DeniedBadgesRule:
        del target
        return access.DeniedBadgesRule(
            count=self.count,
            within=self.within,
            id=self.id,
            severity=self.severity or Severity.MEDIUM,
        )


KINDS = (
    RuleKind(
        type="door_forced",
        config=DoorForcedConfig,
        state=access.DoorForcedState,
        initial=access.DOOR_FORCED_INITIAL,
        evaluate=access.evaluate_door_forced,
    ),
    RuleKind(
        type="door_held_open",
        config=DoorHeldOpenConfig,
        state=access.DoorHeldOpenState,
        initial=access.DOOR_HELD_OPEN_INITIAL,
        evaluate=access.evaluate_door_held_open,
        tick=access.tick_door_held_open,
    ),
    RuleKind(
        type="after_hours_entry",
        config=AfterHoursEntryConfig,
        state=access.AfterHoursState,
        initial=access.AFTER_HOURS_INITIAL,
        evaluate=access.evaluate_after_hours_entry,
    ),
    RuleKind(
        type="two_person",
        config=TwoPersonConfig,
        state=access.TwoPersonState,
        initial=access.TWO_PERSON_INITIAL,
        evaluate=access.evaluate_two_person,
        tick=access.tick_two_person,
    ),
    RuleKind(
        type="denied_badges",
        config=DeniedBadgesConfig,
        state=access.DeniedBadgesState,
        initial=access.DENIED_BADGES_INITIAL,
        evaluate=access.evaluate_denied_badges,
        tick=access.tick_denied_badges,
    ),
)
