"""One room's climate over a period: time within limits, day–night swing, TWPI, mold, gaps.

The input is the room's samples (one a minute from the preservation rule), oldest first.
Every share is weighted by time, not by the number of samples: a sample stands for the
time until the next one, capped at ``sample_hold``; what no sample stands for is a gap,
reported as such so that a reader sees how much a figure rests on, and excluded from
the shares (75 % within limits means 75 % of the time we *know* about).

The ratings are the rules' own pure functions (rules/preservation.py), as the console's
preservation endpoint uses them, so a report cannot disagree with the alarms about what
"RISK" means. A quarter is 130,000 samples a room, so the figures are gathered in one
pass over plain numbers (epoch seconds), not in a list per figure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from console.reports.model import GapOut, RoomClimateOut, SwingOut
from console.reports.periods import Period, local_midnight
from console.schemas import BandOut, LocalText
from rules.preservation import (
    Rating,
    TwpiState,
    mold_days,
    mold_rating,
    preservation_index,
    twpi_rating,
)
from sensors.facility import RoomInfo
from sensors.room_classes import Band, LocalName

Sample = tuple[datetime, Mapping[str, float]]


@dataclass(slots=True)
class _Day:
    """One site-local day's extremes, for the day–night swing."""

    t_min: float
    t_max: float
    rh_min: float
    rh_max: float


@dataclass(slots=True)
class _Totals:
    """What one pass over the samples gathers; times are epoch seconds."""

    start: float
    end: float
    t_band: Band
    rh_band: Band
    samples: int = 0
    covered: float = 0.0
    within: float = 0.0
    temperature_within: float = 0.0
    humidity_within: float = 0.0
    # TWPI's running sums (rules.preservation.TwpiState): Σ Δt and Σ Δt / PI.
    pi_seconds: float = 0.0
    pi_inverse: float = 0.0
    mold_max: float | None = None
    mold_risk: bool = False
    days: dict[date, _Day] = field(default_factory=dict)
    gaps: list[tuple[float, float]] = field(default_factory=list)
    cursor: float = 0.0  # the end of the time covered so far; a later sample leaves a gap

    def cover(self, begin: float, until: float, t: float, rh: float, pi: float) -> None:
        """The air was at ``t`` / ``rh`` from ``begin`` to ``until`` (clipped to the period)."""
        begin, until = max(begin, self.start), min(until, self.end)
        seconds = until - begin
        if seconds <= 0:
            return
        if begin > self.cursor:
            self.gaps.append((self.cursor, begin))
        self.cursor = until
        t_ok, rh_ok = self.t_band.contains(t), self.rh_band.contains(rh)
        self.covered += seconds
        self.temperature_within += seconds if t_ok else 0.0
        self.humidity_within += seconds if rh_ok else 0.0
        self.within += seconds if t_ok and rh_ok else 0.0
        self.pi_seconds += seconds
        self.pi_inverse += seconds / pi

    def note(self, day: date, t: float, rh: float, mold_index: float) -> None:
        """A sample inside the period: the day's extremes and the mold figures."""
        self.samples += 1
        seen = self.days.get(day)
        if seen is None:
            self.days[day] = _Day(t, t, rh, rh)
        else:
            seen.t_min, seen.t_max = min(seen.t_min, t), max(seen.t_max, t)
            seen.rh_min, seen.rh_max = min(seen.rh_min, rh), max(seen.rh_max, rh)
        if self.mold_max is None or mold_index > self.mold_max:
            self.mold_max = mold_index
        if not self.mold_risk:
            self.mold_risk = mold_rating(mold_index, mold_days(t, rh)) is Rating.RISK

    def finish(self) -> None:
        """After the last sample: the time up to the end that nothing covered is a gap."""
        if self.cursor < self.end:
            self.gaps.append((self.cursor, self.end))


def room_climate(
    room: RoomInfo,
    class_name: LocalName,
    samples: Iterable[Sample],
    period: Period,
    as_of: datetime,
    *,
    sample_hold: timedelta,
    longest_gaps: int,
) -> RoomClimateOut:
    """The room's figures over [period.start, as_of) from ``samples``, oldest first.

    ``samples`` may begin before the period: the last one before the start covers the
    first minutes of the period, so a period does not open with a false gap. Samples
    from ``as_of`` on are ignored.
    """
    totals = _gather(room, samples, period, as_of, sample_hold)
    span = (as_of - period.start).total_seconds()
    gaps = [
        GapOut(start=_at(begin), end=_at(until), seconds=until - begin)
        for begin, until in totals.gaps
    ]
    limits = room.limits
    window_twpi = TwpiState(totals.pi_seconds, totals.pi_inverse).value()
    days = totals.days
    return RoomClimateOut(
        room=room.id,
        name=LocalText(zh=room.name.zh, en=room.name.en),
        floor=room.floor,
        room_class=room.room_class,
        room_class_name=LocalText(zh=class_name.zh, en=class_name.en),
        temperature_limits=_band(limits.temperature),
        humidity_limits=_band(limits.humidity),
        samples=totals.samples,
        covered_s=totals.covered,
        gap_s=sum(g.seconds for g in gaps),
        coverage=totals.covered / span if span > 0 else None,
        gap_count=len(gaps),
        longest_gaps=sorted(gaps, key=lambda g: (-g.seconds, g.start))[:longest_gaps],
        within_limits=_share(totals.within, totals.covered),
        temperature_within=_share(totals.temperature_within, totals.covered),
        humidity_within=_share(totals.humidity_within, totals.covered),
        temperature_range=(
            (min(d.t_min for d in days.values()), max(d.t_max for d in days.values()))
            if days
            else None
        ),
        humidity_range=(
            (min(d.rh_min for d in days.values()), max(d.rh_max for d in days.values()))
            if days
            else None
        ),
        # "±x" is a peak-to-peak limit of 2x, as the fluctuation rule reads JGJ 25-2010
        # §5.2.3 (archive-standards.md §1.1; rules/fluctuation.py).
        temperature_swing=_worst_swing(
            {d: (x.t_min, x.t_max) for d, x in days.items()}, 2 * limits.temperature_swing
        ),
        humidity_swing=_worst_swing(
            {d: (x.rh_min, x.rh_max) for d, x in days.items()}, 2 * limits.humidity_swing
        ),
        twpi=None if window_twpi is None else round(window_twpi, 1),
        twpi_rating=None if window_twpi is None else twpi_rating(window_twpi),
        mold_index_max=totals.mold_max,
        mold_rating=None if not days else Rating.RISK if totals.mold_risk else Rating.GOOD,
    )


def _gather(
    room: RoomInfo,
    samples: Iterable[Sample],
    period: Period,
    as_of: datetime,
    hold: timedelta,
) -> _Totals:
    """One pass: each sample covers [its time, the next sample's) up to ``hold``."""
    start, end, hold_s = period.start.timestamp(), as_of.timestamp(), hold.total_seconds()
    totals = _Totals(start, end, room.limits.temperature, room.limits.humidity, cursor=start)
    # Site-local midnights as epoch seconds: a sample's day is found by walking forward.
    day_list = period.days()
    edges = [local_midnight(d, period.timezone).timestamp() for d in day_list[1:]]
    edges.append(float("inf"))
    day_index = 0
    previous: tuple[float, float, float, float] | None = None  # (time, T, RH, PI)
    for when, values in samples:
        t, rh = values.get("temperature"), values.get("humidity")
        if t is None or rh is None:
            continue
        at = when.timestamp()
        if at >= end:
            break
        if previous is not None:
            totals.cover(previous[0], min(at, previous[0] + hold_s), *previous[1:])
        stored_pi = values.get("pi", 0.0)
        previous = (at, t, rh, stored_pi if stored_pi > 0 else preservation_index(t, rh))
        if at >= start:
            while at >= edges[day_index]:
                day_index += 1
            totals.note(day_list[day_index], t, rh, values.get("mold_index", 0.0))
    if previous is not None:
        totals.cover(previous[0], previous[0] + hold_s, *previous[1:])
    totals.finish()
    return totals


def _worst_swing(days: Mapping[date, tuple[float, float]], allowed: float) -> SwingOut | None:
    """The day with the largest max − min (the earliest of equals), and the days over."""
    if not days:
        return None
    worst = max(days, key=lambda d: (days[d][1] - days[d][0], -d.toordinal()))
    low, high = days[worst]
    swing = high - low
    return SwingOut(
        day=worst,
        minimum=low,
        maximum=high,
        swing=round(swing, 2),
        allowed=allowed,
        within=swing <= allowed,
        days_over=sum(1 for lo, hi in days.values() if hi - lo > allowed),
    )


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _share(part: float, whole: float) -> float | None:
    return part / whole if whole > 0 else None


def _band(band: Band) -> BandOut:
    return BandOut(min=band.min, max=band.max)
