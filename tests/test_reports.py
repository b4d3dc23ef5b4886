"""Reports computed from real stores on a fake clock: climate samples in the readings store
(SQLite in tmp_path), alarms raised and acknowledged through the real alarm service.

The week is Monday 5 to Sunday 11 January 2026 in Asia/Shanghai. Times below are local.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from alerts.models import Via
from alerts.store import AlarmStore
from alerts.tables import create_state_engine
from console.reports.climate import room_climate
from console.reports.compute import ReportBuilder, UnknownSiteError
from console.reports.csv_export import render_csv
from console.reports.html import render_html
from console.reports.periods import PeriodKind, period_of
from rules.preservation import MoldState, TwpiRating, preservation_index, twpi, twpi_rating
from sensors.clock import FakeClock
from sensors.events import AlarmEvent, Category, MetricSample, Severity, Transition
from sensors.facility import Facility
from tests.console_server import SITE, Console, console_stores
from tests.postgres_server import postgres_url
from tests.test_alerts import pg_schema  # noqa: F401 - a fixture

SHANGHAI = ZoneInfo("Asia/Shanghai")
MONDAY, TUESDAY, WEDNESDAY = date(2026, 1, 5), date(2026, 1, 6), date(2026, 1, 7)
MINUTE = timedelta(minutes=1)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    """A Shanghai wall time as the aware UTC instant the stores keep."""
    return datetime.combine(day, time(hour, minute), tzinfo=SHANGHAI).astimezone(UTC)


@dataclass
class Climate:
    """Writes a room's samples a minute apart, as the preservation rule would: T, RH, PI and
    the mold index it accumulates (rules/preservation.py), then moves the clock on."""

    console: Console
    mold: dict[str, MoldState] = field(default_factory=dict)

    def steady(self, room: str, start: datetime, end: datetime, t: float, rh: float) -> None:
        samples = []
        at = start
        while at < end:
            state = self.mold.get(room, MoldState()).add(t, rh, MINUTE.total_seconds())
            self.mold[room] = state
            values = (
                ("temperature", t),
                ("humidity", rh),
                ("pi", preservation_index(t, rh)),
                ("mold_index", state.index),
            )
            samples.append(MetricSample(SITE, room, at, values))
            at += MINUTE
        self.console.readings.write_metrics(samples)
        self.console.clock.set(max(self.console.clock.now(), end))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(local(MONDAY, 0))


@pytest.fixture
def console(tmp_path: Path, facility: Facility, clock: FakeClock) -> Iterator[Console]:
    with console_stores(tmp_path, facility, clock) as stores:
        yield stores


def builder(console: Console) -> ReportBuilder:
    return ReportBuilder(
        console.facility, console.clock, console.readings, AlarmStore(console.alarms.engine)
    )


def test_a_room_a_quarter_of_the_day_above_its_rh_limit_is_within_limits_three_quarters(
    console: Console,
) -> None:
    climate = Climate(console)
    # B2-01 is a paper stack: 14–24 °C, 45–60 %RH (JGJ 25-2010 Table 5.2.1).
    climate.steady("B2-01", local(MONDAY, 0), local(MONDAY, 18), 20.0, 50.0)
    climate.steady("B2-01", local(MONDAY, 18), local(TUESDAY, 0), 20.0, 65.0)
    mold_after_the_damp_evening = climate.mold["B2-01"].index
    climate.steady("B2-01", local(TUESDAY, 0), local(TUESDAY, 1), 20.0, 50.0)

    report = builder(console).build(SITE, PeriodKind.DAILY, MONDAY)

    assert report.complete
    assert report.as_of == local(TUESDAY, 0)
    room = next(r for r in report.rooms if r.room == "B2-01")
    assert room.samples == 24 * 60
    assert room.coverage == 1.0
    assert room.gap_count == 0
    assert room.within_limits == 0.75
    assert room.temperature_within == 1.0
    assert room.humidity_within == 0.75
    assert room.humidity_range == (50.0, 65.0)
    # The day–night swing: 15 %RH, where ±5 % allows 10 (JGJ 25-2010 §5.2.3).
    swing = room.humidity_swing
    assert swing is not None
    assert (swing.day, swing.swing, swing.allowed, swing.within) == (MONDAY, 15.0, 10.0, False)
    assert swing.days_over == 1
    assert room.temperature_swing is not None
    assert room.temperature_swing.swing == 0.0
    # TWPI is the harmonic mean of the rates over the time, as the rules compute it.
    dry, damp = preservation_index(20.0, 50.0), preservation_index(20.0, 65.0)
    expected = twpi([(dry, 18 * 3600), (damp, 6 * 3600)])
    assert expected is not None
    assert room.twpi == round(expected, 1)
    assert room.twpi < (dry * 18 + damp * 6) / 24  # not the arithmetic mean
    assert room.twpi_rating is twpi_rating(expected) is TwpiRating.POOR
    # 65 %RH lets mold grow (archive-standards.md §4.4): the evening alone rates RISK.
    assert room.mold_rating == "risk"
    assert room.mold_index_max == mold_after_the_damp_evening
    # A room with no samples at all says so instead of showing a figure.
    empty = next(r for r in report.rooms if r.room == "B3-04")
    assert (empty.samples, empty.coverage, empty.within_limits, empty.twpi) == (0, 0.0, None, None)
    assert empty.gap_s == 86_400
    assert [r.room for r in report.rooms] == [
        "B2-01", "B2-02", "B2-03", "B2-04", "B3-01", "B3-02", "B3-03", "B3-04"
    ]  # fmt: skip


def test_a_gap_is_reported_and_left_out_of_the_shares(console: Console) -> None:
    climate = Climate(console)
    climate.steady("B2-03", local(TUESDAY, 0), local(TUESDAY, 12), 20.0, 50.0)
    # The sensors fall silent from noon until two; then it is warmer (still within limits).
    console.clock.set(local(TUESDAY, 14))
    climate.steady("B2-03", local(TUESDAY, 14), local(WEDNESDAY, 0), 23.5, 52.0)

    report = builder(console).build(SITE, PeriodKind.DAILY, TUESDAY)

    room = next(r for r in report.rooms if r.room == "B2-03")
    assert room.samples == 12 * 60 + 10 * 60
    # The 11:59 sample stands for ten minutes at most (ReportsConfig.sample_hold).
    assert room.gap_count == 1
    gap = room.longest_gaps[0]
    assert (gap.start, gap.end) == (local(TUESDAY, 12, 9), local(TUESDAY, 14))
    assert room.gap_s == 111 * 60
    assert room.coverage == (86_400 - 111 * 60) / 86_400
    assert room.within_limits == 1.0  # of the time with data
    assert room.temperature_swing is not None
    assert room.temperature_swing.swing == 3.5
    assert room.temperature_swing.within  # 4 °C allowed
    assert room.mold_rating == "good"


def test_a_running_week_covers_up_to_now_and_the_rest_is_not_a_gap(console: Console) -> None:
    climate = Climate(console)
    climate.steady("B2-02", local(MONDAY, 0), local(WEDNESDAY, 0), 21.0, 50.0)
    console.clock.set(local(WEDNESDAY, 6))  # the room's sensors have been silent since 00:00

    report = builder(console).build(SITE, PeriodKind.WEEKLY)  # today's week

    assert report.period.first_day == MONDAY
    assert not report.complete
    assert report.as_of == local(WEDNESDAY, 6)
    room = next(r for r in report.rooms if r.room == "B2-02")
    # The last sample, Tuesday 23:59, stands for ten minutes (ReportsConfig.sample_hold).
    assert room.covered_s == 2 * 86_400 - 60 + 600
    assert room.gap_s == 6 * 3600 - 540
    assert room.longest_gaps[0].start == local(WEDNESDAY, 0, 9)
    assert room.coverage == room.covered_s / (2 * 86_400 + 6 * 3600)


def test_the_sample_before_the_period_covers_its_first_minutes(console: Console) -> None:
    climate = Climate(console)
    climate.steady("B2-04", local(MONDAY, 0), local(MONDAY, 23, 55), 18.0, 50.0)
    climate.steady("B2-04", local(TUESDAY, 0, 4), local(WEDNESDAY, 0), 18.0, 50.0)

    report = builder(console).build(SITE, PeriodKind.DAILY, TUESDAY)

    room = next(r for r in report.rooms if r.room == "B2-04")
    assert room.gap_count == 0  # Monday 23:54 holds until Tuesday 00:04, when the next comes
    assert room.coverage == 1.0
    assert room.samples == 24 * 60 - 4


def raise_at(console: Console, when: datetime, key: str, room: str, **kind: object) -> int:
    """The rules raise ``key`` at ``when``; returns the alarm's id."""
    console.clock.set(when)
    change = console.raise_alarm(key, room, **kind)  # type: ignore[arg-type]
    return change.alarm.id


def ack_at(console: Console, when: datetime, alarm_id: int) -> None:
    console.clock.set(when)
    assert console.service.ack(alarm_id, "zhao", Via.CONSOLE)


CLIMATE = {"category": Category.CLIMATE, "severity": Severity.MEDIUM}
TROUBLE = {"category": Category.TROUBLE, "severity": Severity.LOW}


def test_alarms_by_category_and_severity_with_time_to_acknowledge(console: Console) -> None:
    # Last Sunday night: not this week.
    old = raise_at(console, local(date(2026, 1, 4), 23, 0), "fire:yunxi:B2-02", "B2-02")
    ack_at(console, local(date(2026, 1, 4), 23, 1), old)
    fire = raise_at(console, local(MONDAY, 9), "fire:yunxi:B2-01", "B2-01")
    ack_at(console, local(MONDAY, 9, 2), fire)
    damp = raise_at(
        console, local(MONDAY, 20), "humidity_limits:yunxi:b201-th1", "B2-01", **CLIMATE
    )
    ack_at(console, local(MONDAY, 20, 30), damp)
    warm = raise_at(
        console, local(TUESDAY, 3), "temperature_limits:yunxi:b203-th1", "B2-03", **CLIMATE
    )
    ack_at(console, local(TUESDAY, 3, 10), warm)
    raise_at(console, local(TUESDAY, 5), "sensor_silent:yunxi:b203-th2", "B2-03", **TROUBLE)
    # Work on B3-01's sensors: its trouble alarm is recorded but nobody is called.
    console.service.open_window(
        site=SITE, room="B3-01", sensor=None, starts_at=local(TUESDAY, 8),
        ends_at=local(TUESDAY, 12), reason="更换传感器 replacing sensors", by="zhao",
    )  # fmt: skip
    quiet = raise_at(console, local(TUESDAY, 9), "sensor_silent:yunxi:b301-th1", "B3-01", **TROUBLE)
    ack_at(console, local(TUESDAY, 15), quiet)
    console.clock.set(local(WEDNESDAY, 12))

    report = builder(console).build(SITE, PeriodKind.WEEKLY, MONDAY)

    alarms = report.alarms
    assert (alarms.total.count, alarms.total.acknowledged, alarms.total.unacknowledged) == (5, 4, 1)
    assert alarms.total.suppressed == 1
    assert alarms.total.median_ack_s == 600  # of 120, 600 and 1800 s; the window's is out
    assert alarms.total.max_ack_s == 1800
    rows = {
        (g.category, g.severity): (g.count, g.median_ack_s, g.max_ack_s, g.unacknowledged)
        for g in alarms.groups
    }
    assert rows == {
        (Category.FIRE, Severity.CRITICAL): (1, 120, 120, 0),
        (Category.CLIMATE, Severity.MEDIUM): (2, 1200, 1800, 0),
        (Category.TROUBLE, Severity.LOW): (2, None, None, 1),
    }
    assert [g.severity for g in alarms.groups] == ["critical", "medium", "low"]  # most urgent first


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_alarm_history_reads_the_span_in_utc_on_both_databases(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'state.db'}"
    else:
        # A server session in Shanghai time must not shift the span by eight hours.
        url = postgres_url(request.getfixturevalue("pg_schema"), timezone="Asia/Shanghai")
    engine: Engine = create_state_engine(url)
    try:
        store = AlarmStore(engine)
        store.start()
        with store.begin() as tx:
            for n, at in enumerate([local(MONDAY, 0), local(MONDAY, 23, 59), local(TUESDAY, 0)]):
                tx.insert_alarm(
                    key=f"k{n}", rule="fire", category="fire", severity="critical",
                    state="unacked", site=SITE, room="B2-01", sensor=None, message_zh="火警",
                    message_en="Fire", raised_at=at, last_at=at, cleared_at=None,
                    times_raised=1, last_value=None, chattering=False,
                )  # fmt: skip
            event = AlarmEvent(
                "other", Transition.RAISE, "fire", Category.FIRE, Severity.CRITICAL, "elsewhere",
                None, None, local(MONDAY, 9), "火警", "Fire",
            )  # fmt: skip
            tx.insert_alarm(
                key=event.key, rule=event.rule, category="fire", severity="critical",
                state="unacked", site=event.site, room=None, sensor=None, message_zh="火警",
                message_en="Fire", raised_at=event.at, last_at=event.at, cleared_at=None,
                times_raised=1, last_value=None, chattering=False,
            )  # fmt: skip
        found = AlarmStore(engine).raised_between(SITE, local(MONDAY, 0), local(TUESDAY, 0))
    finally:
        engine.dispose()
    assert [a.key for a in found] == ["k0", "k1"]
    assert found[0].raised_at == local(MONDAY, 0)


def test_an_unknown_site_is_refused(console: Console) -> None:
    with pytest.raises(UnknownSiteError):
        builder(console).build("nowhere", PeriodKind.DAILY, MONDAY)


def test_without_an_inspection_store_the_sections_say_so(console: Console) -> None:
    report = builder(console).build(SITE, PeriodKind.WEEKLY, MONDAY)
    assert report.inspections is None
    assert report.hazards is None
    page = render_html(report)
    assert "未接入巡查记录。" in page
    assert "No hazard ledger is connected." in page
    text = render_csv(report).decode("utf-8-sig")
    titles = [row[0] for row in csv.reader(io.StringIO(text)) if row]
    assert "巡查检查 Inspections" not in titles
    assert "库房环境 Stack climate" in titles


ROOM = "B2-01"


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(
        st.tuples(
            st.integers(min_value=1, max_value=40),  # minutes after the previous sample
            st.floats(min_value=10, max_value=30),
            st.floats(min_value=30, max_value=80),
        ),
        max_size=80,
    ),
    first=st.integers(min_value=-30, max_value=60),  # minutes from the start of the day
)
def test_the_climate_figures_add_up_whatever_the_samples(
    facility: Facility, steps: list[tuple[int, float, float]], first: int
) -> None:
    period = period_of(PeriodKind.DAILY, MONDAY, SHANGHAI)
    as_of = period.start + timedelta(hours=12)
    at = period.start + timedelta(minutes=first)
    samples: list[tuple[datetime, dict[str, float]]] = []
    for minutes, t, rh in steps:
        samples.append((at, {"temperature": t, "humidity": rh, "mold_index": 0.0}))
        at += timedelta(minutes=minutes)
    room_info = facility.room(SITE, ROOM)
    assert room_info is not None
    room = room_climate(
        room_info,
        facility.room_classes["paper"].name,
        samples,
        period,
        as_of,
        sample_hold=timedelta(minutes=10),
        longest_gaps=100,
    )
    span = (as_of - period.start).total_seconds()
    assert room.covered_s + room.gap_s == pytest.approx(span)
    assert room.coverage is not None
    assert 0 <= room.coverage <= 1
    assert room.samples == sum(1 for when, _ in samples if period.start <= when < as_of)
    if room.within_limits is None:
        assert room.covered_s == 0
    else:
        assert room.within_limits <= min(room.temperature_within or 0, room.humidity_within or 0)
        assert (
            room.within_limits
            >= (room.temperature_within or 0) + (room.humidity_within or 0) - 1 - 1e-9
        )
    for gap in room.longest_gaps:
        assert period.start <= gap.start < gap.end <= as_of
