"""Sensor health: values that cannot be true, from a sensor that still reports.

A silent sensor is rules/silence.py's job; these catch the one that talks nonsense: a value
frozen for hours (``stuck``), a jump no stack room can make between two readings
(``spike``) and a clock that is wrong (``clock_skew``). All are TROUBLE, LOW by default
(archive-standards.md §5.2: most alarms low, so the few critical ones stand out), and all
are per sensor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import ClassVar, Literal

from pydantic import Field

from rules.base import Subject, Verdict, clear_event, raise_event
from rules.kinds import NO_OUTPUTS, Outputs, RuleConfig, RuleKind, Target
from sensors.duration import PositiveDuration
from sensors.events import Category, Severity
from sensors.facility import SensorKind
from sensors.reading import Reading

_THERMAL = frozenset({SensorKind.CLIMATE, SensorKind.HEAT})
_ZERO = timedelta(0)


def _verdict(config: RuleConfig) -> Verdict:
    return Verdict(config.id, Category.TROUBLE, config.severity or Severity.LOW)


def _values(t: float | None, rh: float | None) -> str:
    parts = [f"{t:.2f} °C" if t is not None else "", f"{rh:.2f} %" if rh is not None else ""]
    return " / ".join(p for p in parts if p)


# Stuck


class StuckConfig(RuleConfig):
    type: Literal["stuck"]
    tolerance: float = Field(default=0.01, ge=0, le=10)
    # A stack's climate is steady (archive-standards.md §1.1: ±2 °C / ±5 % a day at most),
    # so hours of near-identical values are normal; but a working sensor jitters in its
    # last digit within minutes. Six hours of not one digit moving is a frozen sensor or a
    # gateway repeating its cache (engineering default).
    window: PositiveDuration = timedelta(hours=6)
    applies_to: ClassVar[frozenset[SensorKind]] = _THERMAL

    def compile(self, target: Target) -> StuckRule:
        del target
        return StuckRule(self.tolerance, self.window, _verdict(self))


@dataclass(frozen=True, slots=True)
class StuckRule:
    tolerance: float
    window: timedelta
    verdict: Verdict
    # How stale the recorded movement may get: a 36th of the window (10 min of 6 h).
    # Real sensors jitter, so "it moved" is true on nearly every reading; recording it
    # every time would allocate a state per reading. A stuck verdict needs a whole window
    # of stillness, so noting movement at most this often delays an alarm by at most this
    # much and never raises a false one. Computed once: every reading compares with it.
    refresh: timedelta = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "refresh", self.window / 36)


@dataclass(frozen=True, slots=True)
class StuckState:
    """The values first seen unchanged, and since when."""

    since: datetime | None = None
    temperature: float | None = None
    humidity: float | None = None
    raised: bool = False


STUCK_INITIAL = StuckState()


def evaluate_stuck(
    rule: StuckRule, state: StuckState, reading: Reading, subject: Subject, now: datetime
) -> tuple[StuckState, Outputs]:
    p = reading.payload
    t, rh = p.temperature, p.humidity
    if t is None and rh is None:
        return state, NO_OUTPUTS
    since = state.since
    if since is not None:
        age = now - since
        if _same(state.temperature, t, rule) and _same(state.humidity, rh, rule):
            if state.raised or age < rule.window:
                return state, NO_OUTPUTS
            hours = f"{rule.window.total_seconds() / 3600:g}"
            values = _values(t, rh)
            event = raise_event(
                rule.verdict,
                subject,
                now,
                f"{subject.room} 传感器 {subject.sensor} 读数 {hours} 小时未变化"
                f"（{values}），可能已卡死",
                f"Sensor {subject.sensor} in {subject.room} has reported {values} for {hours} h: "
                "stuck?",
                values,
            )
            return StuckState(since, state.temperature, state.humidity, raised=True), (event,)
        if not state.raised and _ZERO <= age < rule.refresh:
            return state, NO_OUTPUTS  # moved, recently enough noted: see StuckRule.refresh
    outputs: Outputs = NO_OUTPUTS
    if state.raised:  # any change clears: the sensor is measuring again
        outputs = (clear_event(rule.verdict, subject, now, _values(t, rh)),)
    return StuckState(now, t, rh), outputs


def _same(before: float | None, now: float | None, rule: StuckRule) -> bool:
    if before is None or now is None:
        return before is now
    return abs(now - before) <= rule.tolerance


# Spike


class SpikeConfig(RuleConfig):
    type: Literal["spike"]
    # A closed stack room cannot gain 5 °C or 20 % RH in minutes without a fire or a
    # flood, which their own rules report; otherwise it is a failing sensor or a corrupted
    # message (engineering defaults). A low-priority trouble alarm beside a fire is cheap.
    max_jump_temperature: float = Field(default=5.0, gt=0, le=100)
    max_jump_humidity: float = Field(default=20.0, gt=0, le=100)
    within: PositiveDuration = timedelta(minutes=5)
    applies_to: ClassVar[frozenset[SensorKind]] = _THERMAL

    def compile(self, target: Target) -> SpikeRule:
        del target
        return SpikeRule(
            self.max_jump_temperature, self.max_jump_humidity, self.within, _verdict(self)
        )


@dataclass(frozen=True, slots=True)
class SpikeRule:
    max_jump_temperature: float
    max_jump_humidity: float
    within: timedelta
    verdict: Verdict


@dataclass(frozen=True, slots=True)
class SpikeState:
    """The previous reading's time and values."""

    at: datetime | None = None
    temperature: float | None = None
    humidity: float | None = None
    raised: bool = False


SPIKE_INITIAL = SpikeState()


def evaluate_spike(
    rule: SpikeRule, state: SpikeState, reading: Reading, subject: Subject, now: datetime
) -> tuple[SpikeState, Outputs]:
    p = reading.payload
    t, rh = p.temperature, p.humidity
    if t is None and rh is None:
        return state, NO_OUTPUTS
    at = state.at
    if at is not None and now <= at:
        return state, NO_OUTPUTS  # a repeat or an older reading replayed: no order to judge
    # A value missing on either side is no jump (the limits are positive).
    t0, rh0 = state.temperature, state.humidity
    within_limits = (t is None or t0 is None or abs(t - t0) <= rule.max_jump_temperature) and (
        rh is None or rh0 is None or abs(rh - rh0) <= rule.max_jump_humidity
    )
    raised = state.raised
    if within_limits and not raised:
        # The common path, on every reading: only the predecessor moves on.
        return SpikeState(now, t, rh), NO_OUTPUTS
    outputs: Outputs = NO_OUTPUTS
    if not within_limits and not raised and at is not None and now - at < rule.within:
        before, after = _values(state.temperature, state.humidity), _values(t, rh)
        seconds = round((now - at).total_seconds())
        outputs = (
            raise_event(
                rule.verdict,
                subject,
                now,
                f"{subject.room} 传感器 {subject.sensor} 读数突变（{seconds} 秒内 {before} → "
                f"{after}），物理上不可能",
                f"Sensor {subject.sensor} in {subject.room} jumped {before} → {after} in "
                f"{seconds} s: physically impossible",
                after,
            ),
        )
        raised = True
    elif within_limits and raised:  # a reading consistent with its predecessor
        outputs = (clear_event(rule.verdict, subject, now, _values(t, rh)),)
        raised = False
    return SpikeState(now, t, rh, raised), outputs


# Clock skew


class ClockSkewConfig(RuleConfig):
    type: Literal["clock_skew"]
    # Engineering defaults: a sensor clock 5 minutes off misplaces readings on charts and
    # in the archive's record; NTP-synced devices are within a second.
    max_skew: PositiveDuration = timedelta(minutes=5)
    steady_lag: PositiveDuration = timedelta(seconds=30)
    steady_readings: int = Field(default=3, ge=2, le=100)
    clear_within: PositiveDuration = timedelta(minutes=1)
    applies_to: ClassVar[frozenset[SensorKind]] = frozenset(SensorKind)

    def compile(self, target: Target) -> ClockSkewRule:
        del target
        return ClockSkewRule(
            max_skew=self.max_skew.total_seconds(),
            steady_lag=self.steady_lag.total_seconds(),
            steady_readings=self.steady_readings,
            clear_within=self.clear_within.total_seconds(),
            verdict=_verdict(self),
        )


@dataclass(frozen=True, slots=True)
class ClockSkewRule:
    max_skew: float  # seconds
    steady_lag: float
    steady_readings: int
    clear_within: float
    verdict: Verdict
    # ±max_skew as durations: every reading with a clock is compared with them, and
    # comparing two durations costs less than turning one into seconds first.
    earliest: timedelta = field(init=False)
    latest: timedelta = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "earliest", timedelta(seconds=-self.max_skew))
        object.__setattr__(self, "latest", timedelta(seconds=self.max_skew))


@dataclass(frozen=True, slots=True)
class ClockSkewState:
    """The recent lags (seconds behind) of readings that were too far behind, and their
    own times (Unix seconds), to tell a backlog from a wrong clock."""

    lags: tuple[float, ...] = ()
    raised: bool = False
    stamps: tuple[float, ...] = ()


CLOCK_SKEW_INITIAL = ClockSkewState()


def evaluate_clock_skew(
    rule: ClockSkewRule, state: ClockSkewState, reading: Reading, subject: Subject, now: datetime
) -> tuple[ClockSkewState, Outputs]:
    del now  # the reading's own time, i.e. the sensor clock under test
    ts = reading.payload.ts
    if ts is None:
        return state, NO_OUTPUTS  # no clock of its own: the receive time stands in
    # The alarm is dated by our receive time: the reading's own time is the suspect.
    received = reading.received_at
    offset = ts - received
    if rule.earliest <= offset <= rule.latest:
        if state.raised:
            ahead = offset.total_seconds()
            if abs(ahead) <= rule.clear_within:
                event = clear_event(rule.verdict, subject, received, round(ahead))
                return CLOCK_SKEW_INITIAL, (event,)
        # Back in the band: a run of lagging readings is broken (a raised alarm waits).
        return (CLOCK_SKEW_INITIAL if state.lags else state), NO_OUTPUTS
    ahead = offset.total_seconds()
    if state.raised:
        return state, NO_OUTPUTS
    if ahead > 0:  # from the future: no delay explains that, only a wrong clock
        return _skewed(rule, subject, received, ahead)
    return _behind(rule, state, subject, received, -ahead, ts.timestamp())


def _behind(
    rule: ClockSkewRule,
    state: ClockSkewState,
    subject: Subject,
    received: datetime,
    lag: float,
    stamp: float,
) -> tuple[ClockSkewState, Outputs]:
    """A reading older than it should be: a wrong clock, or a backlog draining?

    A backlog draining after an outage arrives late too, but its lag shrinks with every
    message by about the time between the readings (they arrive faster than the sensor
    measured them), while a wrong clock lags by the same amount each time. So only a lag
    that stayed constant over steady_readings readings in a row is a clock fault, where
    "constant" means within ±steady_lag and within half the readings' own spacing — a
    sensor reporting every second drains a backlog with its lag shrinking a second a time.
    """
    keep = rule.steady_readings - 1
    lags = (*state.lags[-keep:], lag)
    stamps = (*state.stamps[-keep:], stamp)
    if len(lags) == rule.steady_readings and all(
        abs(lags[i] - lags[i - 1]) <= min(rule.steady_lag, 0.5 * abs(stamps[i] - stamps[i - 1]))
        for i in range(1, len(lags))
    ):
        return _skewed(rule, subject, received, -lag)
    return ClockSkewState(lags, stamps=stamps), NO_OUTPUTS


def _skewed(
    rule: ClockSkewRule, subject: Subject, now: datetime, ahead: float
) -> tuple[ClockSkewState, Outputs]:
    minutes = f"{abs(ahead) / 60:.0f}"
    zh_dir, en_dir = ("快", "ahead") if ahead > 0 else ("慢", "behind")
    event = raise_event(
        rule.verdict,
        subject,
        now,
        f"{subject.room} 传感器 {subject.sensor} 时钟{zh_dir}了约 {minutes} 分钟",
        f"Sensor {subject.sensor} in {subject.room}: clock about {minutes} min {en_dir}",
        round(ahead),
    )
    return ClockSkewState(raised=True), (event,)


STUCK_KIND = RuleKind(
    type="stuck",
    config=StuckConfig,
    state=StuckState,
    initial=STUCK_INITIAL,
    evaluate=evaluate_stuck,
)
SPIKE_KIND = RuleKind(
    type="spike",
    config=SpikeConfig,
    state=SpikeState,
    initial=SPIKE_INITIAL,
    evaluate=evaluate_spike,
)
CLOCK_SKEW_KIND = RuleKind(
    type="clock_skew",
    config=ClockSkewConfig,
    state=ClockSkewState,
    initial=CLOCK_SKEW_INITIAL,
    evaluate=evaluate_clock_skew,
)
KINDS = (STUCK_KIND, SPIKE_KIND, CLOCK_SKEW_KIND)
