"""Water: a leak sensor that gets wet, and air that will wet a cold pipe or wall.

``water_leak`` is per sensor: a critical WATER alarm the moment a leak cable reports water.
``condensation`` is per room: the dew point of the room air (Magnus, archive-standards.md
§4.5) against the temperature of its cold surfaces, measured by heat probes on chilled-water
pipes, supply-air ducts or outside walls.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Field

from rules.base import Subject, Verdict, clear_event, raise_event
from rules.kinds import NO_OUTPUTS, Level, Outputs, RuleConfig, RuleKind, Target
from rules.preservation import dew_point
from sensors.events import Category, Severity
from sensors.facility import Id, SensorKind
from sensors.reading import Reading

# Water leak


class WaterLeakConfig(RuleConfig):
    type: Literal["water_leak"]
    applies_to: ClassVar[frozenset[SensorKind]] = frozenset({SensorKind.WATER_LEAK})

    def compile(self, target: Target) -> WaterLeakRule:
        del target
        return WaterLeakRule(Verdict(self.id, Category.WATER, self.severity or Severity.CRITICAL))


@dataclass(frozen=True, slots=True)
class WaterLeakRule:
    verdict: Verdict


@dataclass(frozen=True, slots=True)
class WaterLeakState:
    raised: bool = False


WATER_LEAK_INITIAL = WaterLeakState()
_WET = WaterLeakState(raised=True)


def evaluate_water_leak(
    rule: WaterLeakRule, state: WaterLeakState, reading: Reading, subject: Subject, now: datetime
) -> tuple[WaterLeakState, Outputs]:
    """Raise at once (water under a shelf ruins the bottom row in minutes); dry clears."""
    leak = reading.payload.water_leak
    if leak is True and not state.raised:
        event = raise_event(
            rule.verdict,
            subject,
            now,
            f"{subject.room} 漏水：{subject.sensor} 检测到水浸",
            f"Water leak in {subject.room}: {subject.sensor} detects water",
            "wet",
        )
        return _WET, (event,)
    if leak is False and state.raised:
        return WATER_LEAK_INITIAL, (clear_event(rule.verdict, subject, now, "dry"),)
    return state, NO_OUTPUTS


# Condensation


class CondensationConfig(RuleConfig):
    type: Literal["condensation"]
    # archive-standards.md §4.5 leaves the margin to design. 2 °C covers a probe a little
    # off the coldest spot, the probes' own accuracy and the spread between dew-point
    # formulas (§4.5), and warns before a slowly cooling duct or wall starts to sweat.
    margin: float = Field(default=2.0, ge=0, le=20)
    # The alarm clears only when the surface is this much further above the dew point, so
    # a margin hovering at the limit does not chatter (archive-standards.md §5.2).
    hysteresis: float = Field(default=1.0, gt=0, le=10)
    # The heat sensors that measure surfaces; None: every reading without humidity in the
    # room (heat probes), since a rule cannot see the other sensors' kinds.
    surfaces: list[Id] | None = Field(default=None, min_length=1)

    applies_to: ClassVar[frozenset[SensorKind]] = frozenset({SensorKind.CLIMATE, SensorKind.HEAT})
    level: ClassVar[Level] = Level.ROOM

    def compile(self, target: Target) -> CondensationRule:
        surfaces = None
        if self.surfaces is not None:
            unknown = sorted(set(self.surfaces) - set(target.room.sensor_ids))
            if unknown:
                raise ValueError(f"surfaces not in room {target.room.id}: {', '.join(unknown)}")
            surfaces = frozenset(self.surfaces)
        return CondensationRule(
            margin=self.margin,
            hysteresis=self.hysteresis,
            surfaces=surfaces,
            verdict=Verdict(self.id, Category.CLIMATE, self.severity or Severity.MEDIUM),
        )


@dataclass(frozen=True, slots=True)
class CondensationRule:
    margin: float
    hysteresis: float
    surfaces: frozenset[str] | None  # None: any reading without humidity is a surface
    verdict: Verdict


@dataclass(frozen=True, slots=True)
class CondensationState:
    """The room air's dew point and each surface's last temperature (sensor, °C)."""

    dew_point: float | None = None
    air_sensor: str = ""
    surfaces: tuple[tuple[str, float], ...] = ()
    raised: bool = False


CONDENSATION_INITIAL = CondensationState()


def evaluate_condensation(
    rule: CondensationRule,
    state: CondensationState,
    reading: Reading,
    subject: Subject,
    now: datetime,
) -> tuple[CondensationState, Outputs]:
    p = reading.payload
    t = p.temperature
    if t is None:
        return state, NO_OUTPUTS
    rh = p.humidity
    sensor = reading.sensor
    surfaces = rule.surfaces
    is_surface = sensor in surfaces if surfaces is not None else rh is None
    if is_surface:
        if (sensor, t) in state.surfaces:
            return state, NO_OUTPUTS
        kept = tuple(s for s in state.surfaces if s[0] != sensor)
        new = CondensationState(
            state.dew_point, state.air_sensor, (*kept, (sensor, t)), state.raised
        )
    elif rh is not None:
        if not state.surfaces:
            # No surface measured yet: nothing to compare with, and rooms without probes
            # (most of them) stay on this read-only path. The next air reading after a
            # probe's first one fills the dew point in.
            return state, NO_OUTPUTS
        dew = dew_point(t, rh)
        if dew == state.dew_point and sensor == state.air_sensor:
            return state, NO_OUTPUTS
        new = CondensationState(dew, sensor, state.surfaces, state.raised)
    else:
        return state, NO_OUTPUTS  # a temperature-only reading not named as a surface
    return _judge(rule, new, Subject(subject.site, subject.room), now)


def _judge(
    rule: CondensationRule, state: CondensationState, room: Subject, now: datetime
) -> tuple[CondensationState, Outputs]:
    dew = state.dew_point
    if dew is None:
        return state, NO_OUTPUTS
    coldest, surface_t = min(state.surfaces, key=lambda s: s[1])
    margin = surface_t - dew
    if not state.raised and margin <= rule.margin:
        if margin > 0:
            gap_zh, gap_en = f"仅差 {margin:.1f} °C", f"{margin:.1f} °C apart"
        else:  # already at or below the dew point: water is forming now
            gap_zh, gap_en = "已在结露", "condensing now"
        event = raise_event(
            rule.verdict,
            room,
            now,
            f"{room.room} 结露风险：{coldest} 表面温度 {surface_t:.1f} °C，"
            f"露点 {dew:.1f} °C（{state.air_sensor}），{gap_zh}",
            f"Condensation risk in {room.room}: {coldest} at {surface_t:.1f} °C, "
            f"dew point {dew:.1f} °C ({state.air_sensor}), {gap_en}",
            round(margin, 2),
        )
        return _with_raised(state, raised=True), (event,)
    if state.raised and margin > rule.margin + rule.hysteresis:
        return _with_raised(state, raised=False), (
            clear_event(rule.verdict, room, now, round(margin, 2)),
        )
    return state, NO_OUTPUTS


def _with_raised(state: CondensationState, *, raised: bool) -> CondensationState:
    return CondensationState(state.dew_point, state.air_sensor, state.surfaces, raised)


WATER_LEAK_KIND = RuleKind(
    type="water_leak",
    config=WaterLeakConfig,
    state=WaterLeakState,
    initial=WATER_LEAK_INITIAL,
    evaluate=evaluate_water_leak,
)
CONDENSATION_KIND = RuleKind(
    type="condensation",
    config=CondensationConfig,
    state=CondensationState,
    initial=CONDENSATION_INITIAL,
    evaluate=evaluate_condensation,
)
KINDS = (WATER_LEAK_KIND, CONDENSATION_KIND)
