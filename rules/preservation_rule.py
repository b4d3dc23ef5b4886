"""Preservation metrics per room, as a rule: accumulate TWPI and the mold index, emit metrics.

The science is in rules/preservation.py (archive-standards.md §4); this rule decides when
time has passed. Once per ``step`` of reading time it takes the reading's T/RH, weighs its
Preservation Index into a rolling TWPI (§4.2) and its mold growth into the mold index
(§4.4), and writes a ``MetricSample`` for the charts. Two slow alarms come out of it:
``mold_risk`` (the index half used up) and ``twpi_low`` (the room ages its records too
fast over weeks, §4.1's "poor" band).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import ClassVar, Literal, Self

from pydantic import Field, model_validator

from rules.base import Subject, Verdict, clear_event, raise_event
from rules.kinds import NO_OUTPUTS, Level, Output, Outputs, RuleConfig, RuleKind, Target
from rules.preservation import MoldState, TwpiState, dew_point, emc, preservation_index
from sensors.duration import PositiveDuration
from sensors.events import Category, MetricSample, Severity
from sensors.facility import SensorKind
from sensors.reading import Reading

MOLD_RULE_ID = "mold_risk"
TWPI_RULE_ID = "twpi_low"


class PreservationConfig(RuleConfig):
    type: Literal["preservation"]
    # One step a minute matches the climate sensors' default interval (sensors/facility.py)
    # and bounds the metric rate per room whatever the number of sensors in it.
    step: PositiveDuration = timedelta(minutes=1)
    # A reading after a gap stands for at most this long: a sensor back after a weekend
    # must not weigh its one value for days (engineering default).
    max_step: PositiveDuration = timedelta(hours=1)
    # Conserv recommends a year of data for a TWPI (§4.2); an alarm needs to react within
    # weeks, so the rule's TWPI is a rolling 30 days, and speaks after 7 days of data.
    twpi_window: PositiveDuration = timedelta(days=30)
    twpi_min_span: PositiveDuration = timedelta(days=7)
    twpi_below: float = Field(default=45.0, gt=0, le=10_000)  # §4.1: below 45 is "poor"
    twpi_clear: float = Field(default=47.0, gt=0, le=10_000)  # hysteresis (§5.2)
    # Half the germination time used up leaves days to act at any RH (§4.4: 3 days at 95 %);
    # a quarter to clear so a dry afternoon does not end it (engineering defaults).
    mold_raise: float = Field(default=0.5, gt=0, le=1)
    mold_clear: float = Field(default=0.25, ge=0, lt=1)

    applies_to: ClassVar[frozenset[SensorKind]] = frozenset({SensorKind.CLIMATE})
    level: ClassVar[Level] = Level.ROOM

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.mold_clear >= self.mold_raise:
            raise ValueError("mold_clear must be below mold_raise")
        if self.twpi_clear < self.twpi_below:
            raise ValueError("twpi_clear must not be below twpi_below")
        if self.twpi_min_span > self.twpi_window:
            raise ValueError("twpi_min_span must fit in twpi_window")
        return self

    def compile(self, target: Target) -> PreservationRule:
        del target
        return PreservationRule(
            step=self.step,
            max_step=self.max_step.total_seconds(),
            twpi_window=self.twpi_window,
            twpi_min_span=self.twpi_min_span.total_seconds(),
            twpi_below=self.twpi_below,
            twpi_clear=self.twpi_clear,
            mold_raise=self.mold_raise,
            mold_clear=self.mold_clear,
            mold=Verdict(MOLD_RULE_ID, Category.CLIMATE, self.severity or Severity.MEDIUM),
            twpi=Verdict(TWPI_RULE_ID, Category.CLIMATE, self.severity or Severity.LOW),
        )


@dataclass(frozen=True, slots=True)
class PreservationRule:
    step: timedelta
    max_step: float  # seconds
    twpi_window: timedelta
    twpi_min_span: float  # seconds of data
    twpi_below: float
    twpi_clear: float
    mold_raise: float
    mold_clear: float
    mold: Verdict
    twpi: Verdict


@dataclass(frozen=True, slots=True)
class PreservationState:
    """The accumulators' clock, TWPI sums per UTC day, and the mold index.

    ``days`` holds (day, Σ Δt seconds, Σ Δt / PI) oldest first, for the days that overlap
    the window (so a 30-day window spans 30 to 31 days): at most a month of small tuples,
    never the readings themselves.
    """

    at: datetime | None = None
    days: tuple[tuple[date, float, float], ...] = ()
    mold_index: float = 0.0
    mold_raised: bool = False
    twpi_raised: bool = False


PRESERVATION_INITIAL = PreservationState()


def evaluate_preservation(
    rule: PreservationRule,
    state: PreservationState,
    reading: Reading,
    subject: Subject,
    now: datetime,
) -> tuple[PreservationState, Outputs]:
    at = state.at
    if at is not None and now - at < rule.step:
        return state, NO_OUTPUTS  # within the step, or an older reading replayed
    p = reading.payload
    t, rh = p.temperature, p.humidity
    if t is None or rh is None:
        return state, NO_OUTPUTS
    if at is None:
        return replace(state, at=now), NO_OUTPUTS  # the first reading only starts the clock
    dt = min((now - at).total_seconds(), rule.max_step)
    return _step(rule, state, t, rh, dt, Subject(subject.site, subject.room), now)


def _step(
    rule: PreservationRule,
    state: PreservationState,
    t: float,
    rh: float,
    dt: float,
    room: Subject,
    now: datetime,
) -> tuple[PreservationState, Outputs]:
    pi = preservation_index(t, rh)
    today = now.astimezone(UTC).date()
    oldest = (now - rule.twpi_window).astimezone(UTC).date()
    days = [d for d in state.days if d[0] >= oldest]
    if days and days[-1][0] == today:
        _, seconds, inverse = days[-1]
        days[-1] = (today, seconds + dt, inverse + dt / pi)
    else:
        days.append((today, dt, dt / pi))
    window = TwpiState(sum(d[1] for d in days), sum(d[2] for d in days))
    twpi = window.value()
    mold = MoldState(state.mold_index).add(t, rh, dt).index
    values = [
        ("temperature", t),
        ("humidity", rh),
        ("dew_point", dew_point(t, rh)),
        ("pi", pi),
        ("emc", emc(t, rh)),
        ("mold_index", mold),
    ]
    if twpi is not None:
        values.insert(4, ("twpi", twpi))
    outputs: list[Output] = [MetricSample(room.site, room.room, now, tuple(values))]

    mold_raised = state.mold_raised
    if not mold_raised and mold >= rule.mold_raise:
        mold_raised = True
        outputs.append(_mold_alarm(rule, room, now, mold, t, rh))
    elif mold_raised and mold < rule.mold_clear:
        mold_raised = False
        outputs.append(
            clear_event(rule.mold, room, now, round(mold, 3), key=room.key(MOLD_RULE_ID))
        )

    twpi_raised = state.twpi_raised
    span = window.weighted_time
    if twpi is not None:
        if not twpi_raised and span >= rule.twpi_min_span and twpi < rule.twpi_below:
            twpi_raised = True
            outputs.append(_twpi_alarm(rule, room, now, twpi, span))
        elif twpi_raised and twpi >= rule.twpi_clear:
            twpi_raised = False
            key = room.key(TWPI_RULE_ID)
            outputs.append(clear_event(rule.twpi, room, now, round(twpi, 1), key=key))

    return PreservationState(now, tuple(days), mold, mold_raised, twpi_raised), tuple(outputs)


def _mold_alarm(
    rule: PreservationRule, room: Subject, now: datetime, index: float, t: float, rh: float
) -> Output:
    share = f"{index * 100:.0f}"
    return raise_event(
        rule.mold,
        room,
        now,
        f"{room.room} 霉变风险：霉菌指数 {index:.2f}（已用去萌发时间的 {share} %），"
        f"当前 {t:.1f} °C / {rh:.0f} %",
        f"Mold risk in {room.room}: mold index {index:.2f} ({share} % of the germination "
        f"time used up), now {t:.1f} °C / {rh:.0f} %",
        round(index, 3),
        key=room.key(MOLD_RULE_ID),
    )


def _twpi_alarm(
    rule: PreservationRule, room: Subject, now: datetime, twpi: float, span: float
) -> Output:
    days = f"{span / 86_400:.0f}"
    limit = f"{rule.twpi_below:g}"
    return raise_event(
        rule.twpi,
        room,
        now,
        f"{room.room} 保存环境偏差：近 {days} 天时间加权保存指数 TWPI {twpi:.0f} 年"
        f"（低于 {limit}）",
        f"Poor preservation climate in {room.room}: TWPI {twpi:.0f} years over {days} days "
        f"(below {limit})",
        round(twpi, 1),
        key=room.key(TWPI_RULE_ID),
    )


PRESERVATION_KIND = RuleKind(
    type="preservation",
    config=PreservationConfig,
    state=PreservationState,
    initial=PRESERVATION_INITIAL,
    evaluate=evaluate_preservation,
)
KINDS = (PRESERVATION_KIND,)
