"""``type: rate_of_change``: temperature or RH moving too fast, e.g. a stopped dehumidifier.

RH rising 3 %/h in a closed stack means the dehumidifier or the air conditioning has
stopped: the room is still inside its band (archive-standards.md §1.1) but will not be
for long. The optical-disc compilation of §1.3 gives gradients too (≤15 °C/h, ≤10 %/h);
the 3 %/h default in rules/defaults.py is the issue's own example, not a standard.

Bounded and cheap: a ring of (time, value) of the first reading of each 5-minute bucket
covering ``window``. The rate is judged only when a reading opens a new bucket: rate =
(value − oldest value in the window) / (hours between them), and only once the history
spans ``min_span``, so a short blip right after start-up cannot raise. Readings inside
the open bucket change nothing; a sensor keeps at most ``window`` / 5 min + 1 entries,
as two flat tuples (times, values): about 1 KB a sensor for the default hour.
"""

from __future__ import annotations

import math
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

RateField = Literal["temperature", "humidity"]
Direction = Literal["rise", "fall"]
BUCKET = timedelta(minutes=5)
# Longer than this is a trend over the day, which the fluctuation rule judges; the cap
# keeps the ring at 73 entries.
LONGEST_WINDOW = timedelta(hours=6)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# field → (Chinese label, English label, unit of the rate)
_LABELS = MappingProxyType(
    {
        "temperature": ("温度", "Temperature", "°C/h"),
        "humidity": ("相对湿度", "Relative humidity", "%/h"),
    }
)
# (field, direction) → the likely cause, for the guard who reads the SMS.
_CAUSES = MappingProxyType(
    {
        ("humidity", "rise"): ("除湿机可能停机", "dehumidifier stopped?"),
        ("humidity", "fall"): ("加湿器或空调可能异常", "humidifier or air conditioning fault?"),
        ("temperature", "rise"): ("空调可能停机", "air conditioning stopped?"),
        ("temperature", "fall"): ("空调或供暖可能异常", "air conditioning or heating fault?"),
    }
)


class RateConfig(RuleConfig):
    """``type: rate_of_change`` — ``max_rise`` and/or ``max_fall`` per hour over ``window``."""

    type: Literal["rate_of_change"]
    field: RateField
    max_rise: float | None = Field(default=None, gt=0, allow_inf_nan=False)  # per hour
    max_fall: float | None = Field(default=None, gt=0, allow_inf_nan=False)  # per hour, > 0
    window: PositiveDuration = timedelta(hours=1)
    min_span: PositiveDuration = timedelta(minutes=30)
    # Clear once the rate is below this share of the limit (hysteresis, peers.md pain
    # point 1): a dehumidifier that restarts brings the rate down well below the limit.
    clear_ratio: float = Field(default=0.5, gt=0, lt=1)

    # Room air: a heat detector's rate of rise is the fire rule's business.
    applies_to: ClassVar[frozenset[SensorKind]] = frozenset({SensorKind.CLIMATE})

    @model_validator(mode="after")
    def _limits(self) -> Self:
        if self.max_rise is None and self.max_fall is None:
            raise ValueError("a rate_of_change rule needs max_rise, max_fall or both")
        if not 2 * BUCKET <= self.window <= LONGEST_WINDOW:
            raise ValueError("window must be between 10m and 6h")
        if self.min_span > self.window:
            raise ValueError(
                "min_span must not be longer than window: the history never spans more"
            )
        return self

    def compile(self, target: Target) -> RateRule:
        del target
        zh, en, unit = _LABELS[self.field]
        # A missing direction becomes an infinite limit, so evaluate needs no None checks.
        rise = math.inf if self.max_rise is None else self.max_rise
        fall = math.inf if self.max_fall is None else self.max_fall
        return RateRule(
            verdict=Verdict(self.id, Category.CLIMATE, self.severity or Severity.MEDIUM),
            field=self.field,
            max_rise=rise,
            max_fall=fall,
            clear_rise=rise * self.clear_ratio,
            clear_fall=fall * self.clear_ratio,
            window=self.window,
            min_span=self.min_span,
            label_zh=zh,
            label_en=en,
            unit=unit,
        )


@dataclass(frozen=True, slots=True)
class RateRule:
    """Raise above ``max_rise`` or ``max_fall`` per hour; clear below ``clear_*``."""

    verdict: Verdict
    field: str
    max_rise: float  # +inf: rises are not judged
    max_fall: float  # +inf: falls are not judged
    clear_rise: float
    clear_fall: float
    window: timedelta
    min_span: timedelta
    label_zh: str
    label_en: str
    unit: str


@dataclass(frozen=True, slots=True)
class RateState:
    """The ring (first reading per bucket, oldest first) and the open bucket's end."""

    times: tuple[datetime, ...] = ()
    values: tuple[float, ...] = ()
    open_end: datetime | None = None
    active: bool = False
    direction: Direction | None = None


INITIAL = RateState()


def evaluate(
    rule: RateRule, state: RateState, reading: Reading, subject: Subject, now: datetime
) -> tuple[RateState, Outputs]:
    value: float | None = getattr(reading.payload, rule.field)
    if value is None or (state.open_end is not None and now < state.open_end):
        return state, NO_OUTPUTS  # the common path: the open bucket has its first value
    start = now - (now - _EPOCH) % BUCKET  # aligned buckets, so a replay judges the same
    times, values = state.times, state.values
    oldest = now - rule.window
    first = 0
    while first < len(times) and times[first] < oldest:
        first += 1
    times, values = (*times[first:], now), (*values[first:], value)
    span = now - times[0]
    rolled = replace(state, times=times, values=values, open_end=start + BUCKET)
    if span < rule.min_span:  # not enough history yet: no verdict either way
        return rolled, NO_OUTPUTS
    return _judge(rule, rolled, (value - values[0]) / (span.total_seconds() / 3600), subject, now)


def _judge(
    rule: RateRule, state: RateState, rate: float, subject: Subject, now: datetime
) -> tuple[RateState, Outputs]:
    direction: Direction | None = None
    if rate > rule.max_rise:
        direction = "rise"
    elif -rate > rule.max_fall:
        direction = "fall"
    if direction is not None and direction != state.direction:
        # A new alarm, or the one alarm (one key) turning from rise to fall.
        event = raise_event(
            rule.verdict, subject, now, *_messages(rule, subject, direction, rate), round(rate, 2)
        )
        return replace(state, active=True, direction=direction), (event,)
    if state.active and (
        (state.direction == "rise" and rate < rule.clear_rise)
        or (state.direction == "fall" and -rate < rule.clear_fall)
    ):
        event = clear_event(rule.verdict, subject, now, round(rate, 2))
        return replace(state, active=False, direction=None), (event,)
    return state, NO_OUTPUTS


def _messages(
    rule: RateRule, subject: Subject, direction: Direction, rate: float
) -> tuple[str, str]:
    cause_zh, cause_en = _CAUSES[rule.field, direction]
    limit = rule.max_rise if direction == "rise" else rule.max_fall
    moving_zh, moving_en = ("上升", "rising") if direction == "rise" else ("下降", "falling")
    speed, cap, u = _num(abs(rate)), _num(limit), rule.unit
    zh = f"{subject.room} {rule.label_zh}{moving_zh} {speed} {u}，超过 {cap} {u}（{cause_zh}）"
    en = f"{rule.label_en} in {subject.room} {moving_en} {speed} {u}, over {cap} {u} ({cause_en})"
    return zh, en


def _num(value: float) -> str:
    return f"{round(value, 2):g}"


KIND = RuleKind(
    type="rate_of_change",
    config=RateConfig,
    state=RateState,
    initial=INITIAL,
    evaluate=evaluate,
    # No timer: a rate needs a new reading; silence is the silence rule's business.
    tick=None,
)
