"""Faults: the wall clock steps (NTP) forward and back, read as incident timelines.

The server's clock and the sensors' clocks are both NTP-disciplined, so when the step
comes every sensor's ``ts`` follows the same clock as the server's receive time. What
is right:

* a step back must raise nothing: no sensor is "silent" or "skewed" because the clock
  went back, no swing or rise is computed across the step, and the silence timer still
  catches a sensor that dies after it;
* a step forward must not make every sensor "silent": no sensor missed a reading, only
  the clock moved (the engine compares the wall clock with a monotonic one at every
  sweep and moves the silence timers with a step);
* scheduled inspection tasks are created once per window whatever the clock does
  (the template's cursor only moves forward and task keys are unique);
* an escalation step or reminder is sent once: a step back does not send it again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from inspections.models import TaskStatus
from sensors.clock import FakeClock
from sensors.facility import Facility
from tests.alarm_desk import Desk, Smtp, local_time, smtp_fixture  # noqa: F401
from tests.fake_twilio import FakeTwilio, fake_twilio_fixture  # noqa: F401
from tests.scenarios import Timeline, Values, example_rules, local, normal_values
from tests.test_inspection_common import SITE, RecordingSink, make_service, state_engine
from tests.test_inspection_common import local as shanghai

TEN_MINUTES = timedelta(minutes=10)
# The example alerting file's people (alerts/example-alerting.yaml).
LI, CHEN, HE = "+8613800000002", "+8613800000004", "+8613800000005"


def _site(facility: Facility, clock: FakeClock, start: str) -> Timeline:
    clock.set(local(facility, start))
    line = Timeline(facility, clock, rules=example_rules(facility))
    line.start()
    return line


def _live_values(line: Timeline) -> dict[str, Values]:
    """Every sensor's normal values with a little noise, stamped by the (shared) clock."""
    minute = int(line.elapsed.total_seconds() // 60)
    out: dict[str, Values] = {}
    for sensor in line.sensors:
        info = line.facility.sensor(SITE, sensor)
        assert info is not None
        values: dict[str, object] = dict(normal_values(line.facility, info))
        if isinstance(rh := values.get("humidity"), float):
            values["humidity"] = round(rh + (0.4 if minute % 2 else -0.4), 1)
        if isinstance(t := values.get("temperature"), float):
            values["temperature"] = round(t + (0.2 if minute % 3 else -0.2), 1)
        values["ts"] = line.clock.now().isoformat()  # the sensor's clock stepped too
        out[sensor] = values
    return out


def test_a_step_back_raises_nothing_and_a_sensor_dying_after_it_is_still_found(
    facility: Facility, clock: FakeClock
) -> None:
    site = _site(facility, clock, "2026-01-06 09:00")

    def live(_: int) -> dict[str, Values]:
        return _live_values(site)

    # 09:00-09:30  everyone reports every minute, values wobbling, ts on the same clock
    site.run(until=local(facility, "2026-01-06 09:30"), script=live)
    # 09:30:05  NTP steps the clock back 10 min 30 s, off the reporting grid
    clock.advance(5)
    clock.step(-(TEN_MINUTES + timedelta(seconds=30)))
    site.run(until=local(facility, "2026-01-06 09:45"), script=live)
    assert site.record.log(facility) == []  # no silence, skew, swing or rise

    # 09:45  b201-th1 dies; the timer, restarted by its readings after the step, holds
    site.run(until=local(facility, "2026-01-06 09:55"), script=live, quiet={"b201-th1"})
    assert site.record.log(facility) == [
        ("09:48:10", "raise", "sensor_silent:yunxi:b201-th1"),
    ]


def test_a_step_forward_makes_no_sensor_silent(facility: Facility, clock: FakeClock) -> None:
    site = _site(facility, clock, "2026-01-06 09:00")

    def live(_: int) -> dict[str, Values]:
        return _live_values(site)

    site.run(until=local(facility, "2026-01-06 09:30"), script=live)
    # 09:30:05  NTP steps the clock forward 10 minutes; the next sweep is at 09:40:10
    clock.advance(5)
    clock.step(TEN_MINUTES)
    site.run(until=local(facility, "2026-01-06 10:00"), script=live)
    assert site.record.log(facility) == []


def test_a_sensor_dying_just_before_a_step_back_is_found_on_time(
    facility: Facility, clock: FakeClock
) -> None:
    site = _site(facility, clock, "2026-01-06 09:00")

    def live(_: int) -> dict[str, Values]:
        return _live_values(site)

    site.run(until=local(facility, "2026-01-06 09:30"), script=live)
    # 09:30:05  b201-th1 has sent its last reading (09:30:00); the clock steps back 10 min
    clock.advance(5)
    clock.step(-TEN_MINUTES)
    site.run(until=local(facility, "2026-01-06 09:30"), script=live, quiet={"b201-th1"})
    # 3 min of real silence are up at 09:23:05 on the stepped clock (09:33:05 before it)
    assert site.record.log(facility) == [
        ("09:23:10", "raise", "sensor_silent:yunxi:b201-th1"),
    ]


# -- scheduled inspections -------------------------------------------------------------


@pytest.fixture
def engine(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Engine]:
    with state_engine("sqlite", tmp_path, request) as found:
        yield found


def _tick_through(
    clock: FakeClock, tick: Callable[[], object], until: datetime, every: timedelta
) -> None:
    """The scheduler's timer from now to ``until``."""
    while clock.now() <= until:
        tick()
        clock.advance(every)


def test_a_step_back_over_midnight_and_a_window_end_duplicates_no_task_or_alarm(
    engine: Engine, facility: Facility
) -> None:
    # Sunday 23:50 in Shanghai: Monday's two B2-04 patrols (08:30-10:00, 16:30-17:30) are
    # created at midnight. The clock then steps back over midnight and over a window end.
    clock = FakeClock(shanghai(4, 23, 50))
    sink = RecordingSink()
    service = make_service(engine, facility, clock, sink)
    minute = timedelta(minutes=1)

    _tick_through(clock, service.tick, shanghai(5, 0, 3), minute)  # 00:00 creates them
    # 00:04: the clock steps back 9 minutes, over midnight
    clock.step(shanghai(4, 23, 55) - clock.now())
    _tick_through(clock, service.tick, shanghai(5, 10, 4), minute)  # 10:00 closes the first
    clock.step(shanghai(5, 9, 54) - clock.now())  # 10:05: back 11 minutes, into the window again
    _tick_through(clock, service.tick, shanghai(5, 10, 10), minute)

    monday = service.tasks_for_day(SITE, date(2026, 1, 5))
    assert sorted((t.window_start, t.status) for t in monday) == [
        (shanghai(5, 8, 30), TaskStatus.MISSED),
        (shanghai(5, 16, 30), TaskStatus.OPEN),
    ]
    (first,) = [t for t in monday if t.window_start == shanghai(5, 8, 30)]
    assert [(e.key, e.transition.value) for e in sink.events] == [
        (f"inspection-due:{first.id}", "raise"),  # 09:30, once
        (f"inspection-due:{first.id}", "clear"),  # 10:00, once
        (f"inspection-overdue:{first.id}", "raise"),  # 10:00, once
    ]


# -- escalation --------------------------------------------------------------------------


@pytest.fixture
def desk(tmp_path: Path, facility: Facility, fake_twilio: FakeTwilio, smtp: Smtp) -> Iterator[Desk]:
    # Tuesday 24 November 2026, 02:05 in Yunxi: Monday's night shift (li) is on duty.
    clock = FakeClock(local_time(facility, "2026-11-24 02:05"))
    opened = Desk.open(tmp_path, facility, clock, fake_twilio, smtp)
    yield opened
    opened.close()


def test_a_step_back_mid_escalation_sends_no_step_or_reminder_twice(desk: Desk) -> None:
    desk.fire()  # 02:05:00 smoke in B2-01: SMS to the guard li
    desk.wait(minutes=3)  # 02:07 li's phone rings
    desk.clock.step(-TEN_MINUTES)  # 02:08 → 01:58: NTP steps the clock back
    desk.wait(minutes=20)  # the wall clock reaches 02:18
    # Steps are timed from the incident's start (02:05) on the wall clock: after the step
    # the supervisor's (5 min) and the officer's (10 min) fire when the stepped clock
    # reaches 02:10 and 02:15, li's reminders likewise; nothing already sent goes again.
    assert desk.log() == [
        ("02:05:00", "sms", "li", "sent"),
        ("02:07:00", "voice", "li", "sent"),
        ("02:10:00", "sms", "chen", "sent"),
        ("02:10:00", "voice", "chen", "sent"),
        ("02:10:00", "sms", "li", "sent"),  # reminder 1
        ("02:15:00", "sms", "he", "sent"),
        ("02:15:00", "voice", "he", "sent"),
        ("02:15:00", "email", "he", "sent"),
        ("02:15:00", "sms", "li", "sent"),  # reminder 2
    ]
    # And Twilio was asked exactly once per message.
    assert [p["To"] for p in desk.twilio_posts("Messages")] == [LI, CHEN, LI, HE, LI]
    assert [p["To"] for p in desk.twilio_posts("Calls")] == [LI, CHEN, HE]
