"""``type: threshold``: a value beyond a limit, with hysteresis and raise/clear delays.

The workhorse for the stack climate bands (archive-standards.md §1.1, JGJ 25-2010 Table
5.2.1), UV (§1.1, 75 µW/lm), dust, VOC and low batteries. Two things keep it from
flapping (peers.md pain point 1, "~60 Email+SMS alerts over 4 hours"):
- hysteresis: it raises beyond ``raise_above`` but clears only at ``clear_below``, so a
  value hovering at the limit raises one alarm;
- delays: ``for`` must pass beyond the limit before it raises (a door opened for a trolley
  is not an HVAC failure) and ``clear_for`` inside the clear level before it clears.
Pending delays live in the state, so a restart does not lose them (pain point 5).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Literal, Self

from pydantic import ConfigDict, Field, FiniteFloat, model_validator

from rules.base import Subject, Verdict, clear_event, raise_event
from rules.kinds import NO_OUTPUTS, Outputs, RuleConfig, RuleKind, Target
from sensors.duration import Duration
from sensors.events import Category, Severity
from sensors.facility import SensorKind
from sensors.reading import Reading

ThresholdField = Literal["temperature", "humidity", "lux", "uv", "pm25", "voc", "battery"]
Side = Literal["high", "low"]

# field → (Chinese label, English label, unit), in the payload's units (sensors/payload.py).
LABELS: MappingProxyType[str, tuple[str, str, str]] = MappingProxyType(
    {
        "temperature": ("温度", "Temperature", "°C"),
        "humidity": ("相对湿度", "Relative humidity", "%RH"),
        "lux": ("照度", "Illuminance", "lx"),
        "uv": ("紫外线", "UV", "µW/lm"),
        "pm25": ("PM2.5", "PM2.5", "µg/m³"),
        "voc": ("挥发性有机物", "VOC", "mg/m³"),
        "battery": ("电池电量", "Battery", "%"),
    }
)

# The sensor kinds that report each field (sensors/facility.py, SensorKind).
READ_BY: MappingProxyType[str, frozenset[SensorKind]] = MappingProxyType(
    {
        "temperature": frozenset({SensorKind.CLIMATE, SensorKind.HEAT}),
        "humidity": frozenset({SensorKind.CLIMATE}),
        "lux": frozenset({SensorKind.LIGHT}),
        "uv": frozenset({SensorKind.LIGHT}),
        "pm25": frozenset({SensorKind.DUST}),
        "voc": frozenset({SensorKind.GAS}),
        "battery": frozenset(SensorKind),  # every wireless sensor has one
    }
)


class ThresholdConfig(RuleConfig):
    """``type: threshold`` — a high side, a low side or both, each with its clear level."""

    # ``for`` is a Python keyword: the field is ``for_``, YAML writes ``for``; both work.
    model_config = ConfigDict(populate_by_name=True)

    type: Literal["threshold"]
    field: ThresholdField
    raise_above: FiniteFloat | None = None
    clear_below: FiniteFloat | None = None  # default: raise_above (no hysteresis)
    raise_below: FiniteFloat | None = None
    clear_above: FiniteFloat | None = None  # default: raise_below
    for_: Duration = Field(default=timedelta(0), alias="for")
    clear_for: Duration = timedelta(0)
    category: Category | None = None  # default: climate, trouble for battery

    # The kinds depend on ``field``, so this class answers per entry; the engine and the
    # rule file read ``applies_to`` from entries only (rules/compile.py, rules/config.py).
    @property
    def applies_to(self) -> frozenset[SensorKind]:  # type: ignore[override]
        return READ_BY[self.field]

    @property
    def unit(self) -> str:
        return LABELS[self.field][2]

    @model_validator(mode="after")
    def _levels(self) -> Self:
        high, low = self.raise_above, self.raise_below
        if high is None and low is None:
            raise ValueError("a threshold needs raise_above (high side), raise_below or both")
        if self.clear_below is not None:
            if high is None:
                raise ValueError("clear_below is the high side's clear level: set raise_above")
            if self.clear_below > high:
                raise ValueError(
                    f"clear_below ({self.clear_below:g}) must not be above raise_above "
                    f"({high:g}): the alarm clears on the safe side of its limit"
                )
        if self.clear_above is not None:
            if low is None:
                raise ValueError("clear_above is the low side's clear level: set raise_below")
            if self.clear_above < low:
                raise ValueError(
                    f"clear_above ({self.clear_above:g}) must not be below raise_below "
                    f"({low:g}): the alarm clears on the safe side of its limit"
                )
        if high is not None and low is not None:
            clear_high = high if self.clear_below is None else self.clear_below
            clear_low = low if self.clear_above is None else self.clear_above
            if clear_low >= clear_high:
                raise ValueError(
                    f"the alarm could never clear: the low side clears at {clear_low:g} or "
                    f"above and the high side at {clear_high:g} or below, and no value is "
                    "both; lower clear_above or raise clear_below"
                )
        return self

    def compile(self, target: Target) -> ThresholdRule:
        del target  # the limits are in the entry; rules/defaults.py fills in the room's
        zh, en, unit = LABELS[self.field]
        trouble = self.field == "battery"
        category = self.category or (Category.TROUBLE if trouble else Category.CLIMATE)
        # Trouble is low by the severity scale (sensors/events.py); climate is medium.
        low_by_default = category is Category.TROUBLE
        severity = self.severity or (Severity.LOW if low_by_default else Severity.MEDIUM)
        # A missing side becomes an infinite limit, so evaluate needs no None checks.
        high = math.inf if self.raise_above is None else self.raise_above
        low = -math.inf if self.raise_below is None else self.raise_below
        return ThresholdRule(
            verdict=Verdict(self.id, category, severity),
            field=self.field,
            raise_above=high,
            clear_below=high if self.clear_below is None else self.clear_below,
            raise_below=low,
            clear_above=low if self.clear_above is None else self.clear_above,
            raise_for=self.for_,
            clear_for=self.clear_for,
            label_zh=zh,
            label_en=en,
            unit=unit,
        )


@dataclass(frozen=True, slots=True)
class ThresholdRule:
    """Raise above ``raise_above`` or below ``raise_below``; clear within the clear levels."""

    verdict: Verdict
    field: str
    raise_above: float  # +inf: no high side
    clear_below: float
    raise_below: float  # -inf: no low side
    clear_above: float
    raise_for: timedelta
    clear_for: timedelta
    label_zh: str
    label_en: str
    unit: str


@dataclass(frozen=True, slots=True)
class ThresholdState:
    """Idle, pending (``pending_since``), active, or active and clearing (``clearing_since``).

    ``last_value`` is the reading behind the running delay or the standing alarm, for the
    message a timer sends; it is not refreshed on every reading, to keep those free.
    """

    active: bool = False
    side: Side | None = None
    pending_since: datetime | None = None
    clearing_since: datetime | None = None
    last_value: float | None = None


INITIAL = ThresholdState()


def evaluate(
    rule: ThresholdRule, state: ThresholdState, reading: Reading, subject: Subject, now: datetime
) -> tuple[ThresholdState, Outputs]:
    value: float | None = getattr(reading.payload, rule.field)
    if value is None:
        return state, NO_OUTPUTS
    if state.active:
        return _while_active(rule, state, value, subject, now)
    if rule.raise_below <= value <= rule.raise_above:
        # The common path: idle and inside. Back inside before `for` ran out cancels the
        # pending alarm without a word.
        return (state if state.pending_since is None else INITIAL), NO_OUTPUTS
    return _beyond(rule, state, value, subject, now)


def _beyond(
    rule: ThresholdRule, state: ThresholdState, value: float, subject: Subject, now: datetime
) -> tuple[ThresholdState, Outputs]:
    side: Side = "high" if value > rule.raise_above else "low"
    if state.pending_since is not None and state.side == side:
        if now - state.pending_since >= rule.raise_for:
            return _raise(rule, side, value, subject, now)
        return _remember(state, value)
    if rule.raise_for:
        return ThresholdState(side=side, pending_since=now, last_value=value), NO_OUTPUTS
    return _raise(rule, side, value, subject, now)


def _while_active(
    rule: ThresholdRule, state: ThresholdState, value: float, subject: Subject, now: datetime
) -> tuple[ThresholdState, Outputs]:
    if rule.clear_above <= value <= rule.clear_below:
        return _clearing(rule, state, value, subject, now)
    # Straight from one side to the other: the one alarm (one key) is raised again.
    if value > rule.raise_above and state.side != "high":
        return _raise(rule, "high", value, subject, now)
    if value < rule.raise_below and state.side != "low":
        return _raise(rule, "low", value, subject, now)
    if state.clearing_since is None:
        return state, NO_OUTPUTS  # the common path while an alarm stands
    # Out of the clear level again before clear_for ran out: the alarm stands.
    return replace(state, clearing_since=None, last_value=value), NO_OUTPUTS


def _clearing(
    rule: ThresholdRule, state: ThresholdState, value: float, subject: Subject, now: datetime
) -> tuple[ThresholdState, Outputs]:
    if state.clearing_since is None and rule.clear_for:
        return replace(state, clearing_since=now, last_value=value), NO_OUTPUTS
    if state.clearing_since is None or now - state.clearing_since >= rule.clear_for:
        return INITIAL, (clear_event(rule.verdict, subject, now, value),)
    return _remember(state, value)


def _remember(state: ThresholdState, value: float) -> tuple[ThresholdState, Outputs]:
    """While a delay runs, keep the latest value for the message the timer may send."""
    if value == state.last_value:
        return state, NO_OUTPUTS
    return replace(state, last_value=value), NO_OUTPUTS


def tick(
    rule: ThresholdRule, state: ThresholdState, subject: Subject, now: datetime
) -> tuple[ThresholdState, Outputs]:
    """Fire a delay that has run out between readings (readings may be 5 minutes apart)."""
    if state.pending_since is not None:
        if (
            now - state.pending_since >= rule.raise_for
            and state.side is not None
            and state.last_value is not None
        ):
            return _raise(rule, state.side, state.last_value, subject, now)
    elif state.clearing_since is not None and now - state.clearing_since >= rule.clear_for:
        return INITIAL, (clear_event(rule.verdict, subject, now, state.last_value),)
    return state, NO_OUTPUTS


def _raise(
    rule: ThresholdRule, side: Side, value: float, subject: Subject, now: datetime
) -> tuple[ThresholdState, Outputs]:
    if side == "high":
        limit, side_zh, side_en = rule.raise_above, "高于上限", "above the limit of"
    else:
        limit, side_zh, side_en = rule.raise_below, "低于下限", "below the limit of"
    # A battery belongs to one sensor, not to the room's climate: name the sensor.
    where_zh = subject.room
    where_en = subject.room
    if rule.field == "battery":
        where_zh = f"{subject.room} 传感器 {subject.sensor}"
        where_en = f"sensor {subject.sensor} in {subject.room}"
    held_zh = held_en = ""
    if rule.raise_for:
        minutes = _num(rule.raise_for.total_seconds() / 60)
        held_zh, held_en = f"，已持续 {minutes} 分钟", f" for {minutes} min"
    unit = rule.unit
    zh = f"{where_zh} {rule.label_zh} {_num(value)} {unit}，{side_zh} {_num(limit)} {unit}{held_zh}"
    en = (
        f"{rule.label_en} {_num(value)} {unit} in {where_en}, "
        f"{side_en} {_num(limit)} {unit}{held_en}"
    )
    event = raise_event(rule.verdict, subject, now, zh, en, value)
    return ThresholdState(active=True, side=side, last_value=value), (event,)


def _num(value: float) -> str:
    return f"{round(value, 2):g}"


KIND = RuleKind(
    type="threshold",
    config=ThresholdConfig,
    state=ThresholdState,
    initial=INITIAL,
    evaluate=evaluate,
    tick=tick,
)
