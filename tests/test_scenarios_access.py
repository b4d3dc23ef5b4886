"""Doors and badges, told as the guard-room log of the example site (Asia/Shanghai times).

The example rule file is loaded: its calendar (Mon-Fri 08:30-12:00 and 13:30-17:30, the
National Day holidays, two 调休 Sundays), 双人进库 for the whole second floor with 90 s for
the second badge, and five minutes before B3-03's door counts as held open.
"""

from __future__ import annotations

import pytest

from sensors.clock import FakeClock
from sensors.events import Category, Severity
from sensors.facility import Facility
from tests.scenarios import LogLine, Timeline, Values, example_rules, local


def _site(facility: Facility, clock: FakeClock, start: str) -> Timeline:
    clock.set(local(facility, start))
    line = Timeline(facility, clock, rules=example_rules(facility))
    line.start()
    return line


def test_a_forced_door_at_0213_in_the_film_masters_stack(
    facility: Facility, clock: FakeClock
) -> None:
    site = _site(facility, clock, "2026-01-06 02:00")  # Tuesday night
    door: dict[str, Values] = {}

    def b303(_minute: int) -> dict[str, Values]:
        return door

    site.run(until=local(facility, "2026-01-06 02:12:59"))
    # 02:13:00  B3-03's door is forced open (no badge) and left open
    door["b303-door"] = {"door": "open", "forced": True}
    site.run(until=local(facility, "2026-01-06 02:13:00"), script=b303)
    door["b303-door"] = {"door": "open"}
    # 02:26:00  the door is shut again
    site.run(until=local(facility, "2026-01-06 02:25:59"), script=b303)
    door.clear()
    site.run(until=local(facility, "2026-01-06 02:40"), script=b303)

    assert site.record.log(facility) == [
        ("02:13:00", "raise", "door_forced:yunxi:b303-door"),
        # Opened while the calendar is closed, and without a badge.
        ("02:13:00", "raise", "after_hours_entry:yunxi:b303-door"),
        # Open for more than B3-03's 5 minutes (the rule file's; 2 by default): the first
        # sweep after 02:18:00.
        ("02:18:10", "raise", "door_held_open:yunxi:b303-door"),
        ("02:26:00", "clear", "door_forced:yunxi:b303-door"),
        ("02:26:00", "clear", "after_hours_entry:yunxi:b303-door"),
        ("02:26:00", "clear", "door_held_open:yunxi:b303-door"),
    ]
    forced = site.record.events[0]
    assert (forced.category, forced.severity) == (Category.INTRUSION, Severity.HIGH)
    assert forced.message_en == "B3-03: door b303-door forced open"


def test_an_after_hours_badge_entry_at_2240_on_a_weekday(
    facility: Facility, clock: FakeClock
) -> None:
    site = _site(facility, clock, "2026-01-06 22:30")  # Tuesday evening, closed since 17:30
    site.run(until=local(facility, "2026-01-06 22:40"))
    # 22:40:00  badge A1234 is granted at B2-01's door (second floor), nobody else's follows
    site.send("b201-door", badge="A1234", granted=True)
    # 22:40:05  the door opens (the badge's own entry: no second alarm) ...
    site.run(until=local(facility, "2026-01-06 22:40:05"))
    site.send("b201-door", door="open")
    # 22:40:20  ... and closes behind one person
    site.run(until=local(facility, "2026-01-06 22:40:20"))
    site.send("b201-door", door="closed")
    site.run(until=local(facility, "2026-01-06 22:50"))

    assert site.record.log(facility) == [
        ("22:40:00", "raise", "after_hours_entry:yunxi:b201-door"),
        # Closing the door ends the after-hours entry condition.
        ("22:40:20", "clear", "after_hours_entry:yunxi:b201-door"),
        # No second badge within the second floor's 90 s: the first sweep after 22:41:30.
        ("22:41:40", "raise", "two_person:yunxi:b201-door"),
        # The door's next report says "closed": the two-person condition is over too.
        ("22:42:00", "clear", "two_person:yunxi:b201-door"),
    ]
    entry = site.record.events[0]
    assert (entry.category, entry.severity) == (Category.INTRUSION, Severity.HIGH)
    assert entry.message_en == "B2-01: entry after hours, badge A1234"
    assert entry.value == "A1234"


@pytest.mark.parametrize(
    ("when", "after_hours"),
    [
        pytest.param("2026-01-06 10:00", False, id="tuesday-morning"),
        pytest.param("2026-01-06 12:30", True, id="tuesday-lunch-break"),
        pytest.param("2026-01-06 17:40", True, id="tuesday-after-17-30"),
        pytest.param("2026-01-10 10:00", True, id="saturday"),
        pytest.param("2026-10-01 10:00", True, id="national-day-holiday"),
        pytest.param("2026-09-27 10:00", False, id="adjusted-working-sunday"),
    ],
)
def test_the_example_calendar_decides_what_is_after_hours(
    facility: Facility, clock: FakeClock, when: str, after_hours: bool
) -> None:
    # B3-01 (audio-visual tapes, third floor) has no two-person rule: only the calendar.
    site = _site(facility, clock, when)
    # hh:mm:00  badge B7781 granted; :05 the door opens; :20 it closes
    site.send("b301-door", badge="B7781", granted=True)
    clock.advance(5)
    site.send("b301-door", door="open")
    clock.advance(15)
    site.send("b301-door", door="closed")
    site.run(minutes=5)

    hhmm = when[-5:]
    key = "after_hours_entry:yunxi:b301-door"
    expected: list[LogLine] = [(f"{hhmm}:00", "raise", key), (f"{hhmm}:20", "clear", key)]
    assert site.record.log(facility) == (expected if after_hours else [])
