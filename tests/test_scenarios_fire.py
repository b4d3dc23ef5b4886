"""Fire in the stacks, told as the incident log of the example site (Asia/Shanghai times).

Every sensor reports its room's normal values every minute unless the script says
otherwise (a detector in alarm keeps reporting smoke), with the example rule file loaded.
"""

from __future__ import annotations

import pytest

from sensors.clock import FakeClock
from sensors.events import Category, Severity
from sensors.facility import Facility
from tests.scenarios import Timeline, Values, example_rules, local


@pytest.fixture
def site(facility: Facility, clock: FakeClock) -> Timeline:
    clock.set(local(facility, "2026-01-06 02:00"))
    line = Timeline(facility, clock, rules=example_rules(facility))
    line.start()
    return line


def test_a_fire_in_stack_3_at_night(site: Timeline) -> None:
    facility = site.facility
    smoke: dict[str, Values] = {}

    def detectors(_minute: int) -> dict[str, Values]:
        return smoke  # detectors in alarm keep saying so on every report

    site.run(until=local(facility, "2026-01-06 02:13:05"))
    # 02:13:05  b203-smoke1 in B2-03 (paper stack 3) trips
    site.send("b203-smoke1", smoke=True)
    smoke["b203-smoke1"] = {"smoke": True}
    site.run(until=local(facility, "2026-01-06 02:13:40"), script=detectors)
    # 02:13:40  the smoke reaches b203-smoke2, 35 s later: a second independent detector
    site.send("b203-smoke2", smoke=True)
    smoke["b203-smoke2"] = {"smoke": True}
    # 02:14-02:50  the fire brigade; both detectors stay in alarm
    site.run(until=local(facility, "2026-01-06 02:50"), script=detectors)
    log_at_0250 = site.record.log(facility)
    # 02:50:20  b203-smoke1 is reset; 02:50:30 b203-smoke2
    site.run(until=local(facility, "2026-01-06 02:50:20"), script=detectors)
    site.send("b203-smoke1", smoke=False)
    del smoke["b203-smoke1"]
    site.run(until=local(facility, "2026-01-06 02:50:30"), script=detectors)
    site.send("b203-smoke2", smoke=False)
    del smoke["b203-smoke2"]
    site.run(until=local(facility, "2026-01-06 03:00"), script=detectors)

    assert log_at_0250 == [
        # At once, no delay: a fire panel must annunciate within 10 s.
        ("02:13:05", "raise", "fire:yunxi:B2-03"),
        # Two independent detectors within 2 minutes (GB 50116-2013 §4.1.6).
        ("02:13:40", "raise", "fire_confirmed:yunxi:B2-03"),
    ]
    assert site.record.log(facility) == [
        *log_at_0250,
        # The last detector back to normal ends the episode, confirmed fire first.
        ("02:50:30", "clear", "fire_confirmed:yunxi:B2-03"),
        ("02:50:30", "clear", "fire:yunxi:B2-03"),
    ]
    fire, confirmed = site.record.events[:2]
    assert (fire.category, fire.severity) == (Category.FIRE, Severity.CRITICAL)
    assert (fire.room, fire.sensor) == ("B2-03", "b203-smoke1")  # where to run to
    assert (confirmed.category, confirmed.severity) == (Category.FIRE, Severity.CRITICAL)
    assert confirmed.message_en == (
        "Fire confirmed in B2-03: two independent detectors (b203-smoke1, b203-smoke2)"
    )
    assert site.record.tasks == []


def test_dust_from_moved_boxes_trips_two_detectors_minutes_apart_without_confirming(
    site: Timeline,
) -> None:
    facility = site.facility
    smoke: dict[str, Values] = {}

    def detectors(_minute: int) -> dict[str, Values]:
        return smoke

    # 02:10  an inventory team moves boxes in B2-01; dust trips b201-smoke1
    site.run(until=local(facility, "2026-01-06 02:10"))
    site.send("b201-smoke1", smoke=True)
    smoke["b201-smoke1"] = {"smoke": True}
    # 02:16  the dust drifts to b201-smoke2, 6 minutes later: outside the 2-minute window
    # in which two onsets are one plume, so it is no second independent device
    site.run(until=local(facility, "2026-01-06 02:16"), script=detectors)
    site.send("b201-smoke2", smoke=True)
    smoke["b201-smoke2"] = {"smoke": True}
    site.run(until=local(facility, "2026-01-06 02:30"), script=detectors)

    assert site.record.log(facility) == [("02:10:00", "raise", "fire:yunxi:B2-01")]
