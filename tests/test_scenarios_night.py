"""Climate incidents, told as the night log of the example site (times are Asia/Shanghai).

Every sensor reports its room's normal values every minute unless the script says
otherwise, with the example rule file loaded; each test ends with exactly the alarms and
tasks the safety officer expects, and nothing anywhere else in the building.
"""

from __future__ import annotations

import pytest

from sensors.clock import FakeClock
from sensors.facility import Facility
from tests.scenarios import Timeline, Values, example_rules, local


@pytest.fixture
def night(facility: Facility, clock: FakeClock) -> Timeline:
    """The example site from Monday 22:00, all quiet."""
    clock.set(local(facility, "2026-01-05 22:00"))
    line = Timeline(facility, clock, rules=example_rules(facility))
    line.start()
    return line


def test_a_night_of_hvac_failure_in_paper_stack_b2_01(night: Timeline) -> None:
    # 22:00  The air handling of B2-01 (paper stack, 45-60 %RH) trips; the dehumidifier
    #        stops. RH climbs 1 % every 10 minutes from 52 %.
    # 01:40  The guard sent by the 01:21 task restarts it; RH falls 1 % every 5 minutes.
    def hvac(minute: int) -> dict[str, Values]:
        rh = 52 + minute / 10 if minute <= 220 else 74 - (minute - 220) / 5
        rh = round(max(rh, 52.0), 1)
        return {"b201-th1": {"humidity": rh}, "b201-th2": {"humidity": rh}}

    night.heartbeat(values=hvac(0))
    night.run(until=local(night.facility, "2026-01-06 03:30"), script=hvac)

    assert night.record.log(night.facility) == [
        # 22:30  55 %, 3 % in 30 min: 6 %/h is over 3 %/h, "dehumidifier stopped?"
        ("22:30:00", "raise", "humidity_rise:yunxi:b201-th1"),
        ("22:30:00", "raise", "humidity_rise:yunxi:b201-th2"),
        # 23:21  60.1 % is over the class maximum; 23:31 after the 10-minute delay (61.1 %)
        ("23:31:00", "raise", "humidity_limits:yunxi:b201-th1"),
        ("23:31:00", "raise", "humidity_limits:yunxi:b201-th2"),
        # 23:41  62.1 % against 52.0 % at 22:00: over 10 %RH peak to peak (±5 %) in a day
        ("23:41:00", "raise", "humidity_swing:yunxi:b201-th1"),
        ("23:41:00", "raise", "humidity_swing:yunxi:b201-th2"),
        # 02:00  RH falls: the rise is over
        ("02:00:00", "clear", "humidity_rise:yunxi:b201-th1"),
        ("02:00:00", "clear", "humidity_rise:yunxi:b201-th2"),
        # 03:00  58 %, 2 % inside the limit (hysteresis): back to normal
        ("03:00:00", "clear", "humidity_limits:yunxi:b201-th1"),
        ("03:00:00", "clear", "humidity_limits:yunxi:b201-th2"),
        # The day's swing stays raised: it did happen, and the window is 24 hours.
    ]
    # 01:21  two hours above 60 %: one visit to B2-01. Each of the room's two sensors
    # asks, with the room's key, so the inspections list has one task.
    assert night.record.task_log(night.facility) == {"task:humidity_task:yunxi:B2-01": "01:21:00"}
    task = night.record.tasks[0]
    assert (task.rule, task.site, task.room, task.role) == (
        "humidity_task",
        "yunxi",
        "B2-01",
        "guard",
    )
    assert task.title_en == "Check the dehumidifier and air conditioning in B2-01"
    assert task.title_zh == "检查 B2-01 除湿机与空调"


def test_a_flapping_sensor_at_the_temperature_limit_for_four_hours(night: Timeline) -> None:
    # 22:00  B2-01's th1 drifts up from the normal 19.0 °C by 0.1 °C a minute (no spike)...
    # 22:49  ... to 23.9 °C, and from then on reads 24.1 / 23.9 °C in turn, every minute,
    #        for four hours, around the paper stack's 24 °C limit.
    def flapping(minute: int) -> dict[str, Values]:
        ramp = round(19.0 + minute / 10, 1)
        flap = 24.1 if minute % 2 else 23.9
        return {"b201-th1": {"temperature": ramp if minute <= 49 else flap}}

    night.heartbeat()
    night.run(minutes=49 + 4 * 60, script=flapping)

    # One temperature alarm, and not the limit's. temperature_limits waits 5 minutes
    # ("for: 5m") beyond 24 °C before it raises, and a flapping value is back inside
    # within a minute every time, which cancels the pending alarm without a word: no
    # alarm at all, where peers.md counted ~60 in 4 hours. The one alarm is the day's
    # swing: 23.1 °C at 22:41 is 4.1 °C above the 19.0 °C of 22:00, over the 4 °C peak to
    # peak (±2 °C) a stack may move in 24 hours; the flapping keeps it raised, once.
    assert night.record.log(night.facility) == [
        ("22:41:00", "raise", "temperature_swing:yunxi:b201-th1"),
    ]
    assert night.record.tasks == []
