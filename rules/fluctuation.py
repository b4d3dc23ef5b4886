"""``type: fluctuation``: the day–night swing of temperature or RH, max − min over a window.

JGJ 25-2010 §5.2.3 and the 1987 rules art. 7 (archive-standards.md §1.1, §1.2): once the
set points are chosen, the day–night fluctuation must stay within ±2 °C and ±5 % RH. We
read "±x" as "within x either way of the daily level", i.e. a peak-to-peak limit of 2x:
by default ``max_swing`` is twice the room class's ``temperature_swing``/``humidity_swing``
(4 °C, 10 %RH for every class of sensors/room_classes.py).

Incremental and bounded: the window is cut into 96 fixed buckets (15 minutes for the
default 24 h). A reading inside the open bucket's min/max changes nothing; one outside
it widens the bucket; a reading in a later bucket closes the open one and re-caches the
min/max of the closed buckets still in the window. So a reading costs O(1), a rollover
O(96), and a sensor keeps at most 96 buckets. The closed buckets are two flat tuples of
minima and maxima, contiguous up to the open bucket (None for a bucket without
readings), so their start times need not be stored: that and the flat layout keep a
day of one field at about 6 KB a sensor, for the 10,000-sensor bench.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import ClassVar, Literal, Self

from pydantic import Field, model_validator

from rules.base import Subject, Verdict, clear_event, raise_event
from rules.kinds import NO_OUTPUTS, Outputs, RuleConfig, RuleKind, Target
from sensors.duration import PositiveDuration
from sensors.events import Category, Severity
from sensors.facility import SensorKind
from sensors.reading import Reading

SwingField = Literal["temperature", "humidity"]
BUCKETS = 96  # per window: 15-minute buckets for a day
# Hysteresis (peers.md pain point 1): clear only this far under the limit. Engineering
# choices, no standard: about one sensor's accuracy (±0.2 °C, ±1 %RH for good probes).
CLEAR_MARGIN = MappingProxyType({"temperature": 0.2, "humidity": 1.0})
_LABELS = MappingProxyType(
    {
        "temperature": ("温度", "Temperature", "°C"),
        "humidity": ("相对湿度", "Relative humidity", "%RH"),
    }
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class FluctuationConfig(RuleConfig):
    """``type: fluctuation`` — the swing of ``field`` over ``window`` against ``max_swing``."""

    type: Literal["fluctuation"]
    field: SwingField
    max_swing: float | None = Field(default=None, gt=0, allow_inf_nan=False)  # default: 2 × ±x
    window: PositiveDuration = timedelta(hours=24)
    clear_margin: float | None = Field(default=None, ge=0, allow_inf_nan=False)

    # Room air only: a heat detector or a supply-air probe has no day–night limit.
    applies_to: ClassVar[frozenset[SensorKind]] = frozenset({SensorKind.CLIMATE})

    @model_validator(mode="after")
    def _sizes(self) -> Self:
        if self.window < timedelta(hours=1):
            raise ValueError("a day–night swing needs a window of at least 1h")
        margin = self._margin()
        if self.max_swing is not None and margin >= self.max_swing:
            raise ValueError(
                f"clear_margin ({margin:g}) must be below max_swing ({self.max_swing:g}), "
                "or the alarm could never clear"
            )
        return self

    def _margin(self) -> float:
        return CLEAR_MARGIN[self.field] if self.clear_margin is None else self.clear_margin

    def compile(self, target: Target) -> FluctuationRule:
        limits = target.room.limits
        max_swing = self.max_swing
        if max_swing is None:  # "±x" is a peak-to-peak limit of 2x (module docstring)
            swing = (
                limits.temperature_swing if self.field == "temperature" else limits.humidity_swing
            )
            max_swing = 2 * swing
        # A room may override its swing below the default margin; clear no lower than
        # half the limit rather than refuse to start.
        clear_below = max(max_swing - self._margin(), max_swing / 2)
        zh, en, unit = _LABELS[self.field]
        return FluctuationRule(
            verdict=Verdict(self.id, Category.CLIMATE, self.severity or Severity.MEDIUM),
            field=self.field,
            max_swing=max_swing,
            clear_below=clear_below,
            window=self.window,
            bucket=self.window / BUCKETS,
            label_zh=zh,
            label_en=en,
            unit=unit,
        )


@dataclass(frozen=True, slots=True)
class FluctuationRule:
    """Raise when max − min over ``window`` exceeds ``max_swing``; clear below ``clear_below``."""

    verdict: Verdict
    field: str
    max_swing: float
    clear_below: float
    window: timedelta
    bucket: timedelta
    label_zh: str
    label_en: str
    unit: str


@dataclass(frozen=True, slots=True)
class FluctuationState:
    """The open bucket (ending ``open_end``), the closed ones in the window and their extremes."""

    active: bool = False
    open_end: datetime | None = None
    open_min: float = 0.0
    open_max: float = 0.0
    # The closed buckets, oldest first; the last one ends where the open one starts.
    mins: tuple[float | None, ...] = ()
    maxs: tuple[float | None, ...] = ()
    closed_min: float | None = None  # cached when a bucket closes; None while none has data
    closed_max: float | None = None


INITIAL = FluctuationState()


def evaluate(
    rule: FluctuationRule,
    state: FluctuationState,
    reading: Reading,
    subject: Subject,
    now: datetime,
) -> tuple[FluctuationState, Outputs]:
    value: float | None = getattr(reading.payload, rule.field)
    if value is None:
        return state, NO_OUTPUTS
    end = state.open_end
    if end is None or now >= end:
        return _judge(rule, _roll(rule, state, value, now), subject, now)
    if state.open_min <= value <= state.open_max:
        return state, NO_OUTPUTS  # the common path: nothing new in this bucket
    if now < end - rule.window:
        return state, NO_OUTPUTS  # a reading late by more than the window: out of it
    # A late reading from an earlier bucket widens the open one: it stays in the window
    # for at most one window longer than it should, and the swing is never understated.
    # Built directly, not with dataclasses.replace: this is the path a reading with a new
    # extreme takes, and replace() costs twice a constructor call.
    widened = FluctuationState(
        state.active,
        end,
        min(state.open_min, value),
        max(state.open_max, value),
        state.mins,
        state.maxs,
        state.closed_min,
        state.closed_max,
    )
    return _judge(rule, widened, subject, now)


def _roll(
    rule: FluctuationRule, state: FluctuationState, value: float, now: datetime
) -> FluctuationState:
    """Close the open bucket, drop buckets that left the window, open the bucket of ``now``."""
    start = now - (now - _EPOCH) % rule.bucket  # buckets are aligned, so replays agree
    mins, maxs = state.mins, state.maxs
    if state.open_end is not None:
        # Close the open bucket, and add an empty one for every bucket without readings.
        empty = (None,) * min((start - state.open_end) // rule.bucket, BUCKETS)
        # Equal values share one float object: a day of readings at 0.1 resolution has a
        # few dozen distinct extremes, not 190 floats of 24 bytes.
        same = {v: v for v in mins if v is not None} | {v: v for v in maxs if v is not None}
        low, high = state.open_min, state.open_max
        mins = (*mins, same.get(low, low), *empty)
        maxs = (*maxs, same.get(high, high), *empty)
        # The window is the open bucket and the BUCKETS − 1 closed ones before it.
        keep = BUCKETS - 1
        first = max(len(mins) - keep, 0)
        while first < len(mins) and mins[first] is None:
            first += 1  # leading empty buckets carry nothing
        mins, maxs = mins[first:], maxs[first:]
    present_mins = [v for v in mins if v is not None]
    present_maxs = [v for v in maxs if v is not None]
    return FluctuationState(
        active=state.active,
        open_end=start + rule.bucket,
        open_min=value,
        open_max=value,
        mins=mins,
        maxs=maxs,
        closed_min=min(present_mins) if present_mins else None,
        closed_max=max(present_maxs) if present_maxs else None,
    )


def _judge(
    rule: FluctuationRule, state: FluctuationState, subject: Subject, now: datetime
) -> tuple[FluctuationState, Outputs]:
    low, high = state.open_min, state.open_max
    if state.closed_min is not None and state.closed_max is not None:
        low, high = min(low, state.closed_min), max(high, state.closed_max)
    swing = round(high - low, 6)  # 23.1 − 18.1 is 5.000000000000002 in floats
    if not state.active and swing > rule.max_swing:
        event = raise_event(
            rule.verdict, subject, now, *_messages(rule, subject, swing, low, high), swing
        )
        return replace(state, active=True), (event,)
    if state.active and swing < rule.clear_below:
        return replace(state, active=False), (clear_event(rule.verdict, subject, now, swing),)
    return state, NO_OUTPUTS


def _messages(
    rule: FluctuationRule, subject: Subject, swing: float, low: float, high: float
) -> tuple[str, str]:
    u, hours = rule.unit, _num(rule.window.total_seconds() / 3600)
    zh = (
        f"{subject.room} {rule.label_zh} {hours} 小时内波动 {_num(swing)} {u}，"
        f"超过 {_num(rule.max_swing)} {u}（最低 {_num(low)} {u}，最高 {_num(high)} {u}）"
    )
    en = (
        f"{rule.label_en} in {subject.room}: swing {_num(swing)} {u} > {_num(rule.max_swing)} {u} "
        f"within {hours} h (min {_num(low)} {u}, max {_num(high)} {u})"
    )
    return zh, en


def _num(value: float) -> str:
    return f"{round(value, 2):g}"


KIND = RuleKind(
    type="fluctuation",
    config=FluctuationConfig,
    state=FluctuationState,
    initial=INITIAL,
    evaluate=evaluate,
    # No timer: the swing changes only with a reading; a sensor that stops reporting is
    # the silence rule's business, not a swing that "recovered".
    tick=None,
)
