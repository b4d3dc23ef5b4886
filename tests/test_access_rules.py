"""The access-control rules as incident timelines on a fake clock (Asia/Shanghai wall time)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Generic, TypeVar
from zoneinfo import ZoneInfo

import pytest

from rules.access import (
    AFTER_HOURS_INITIAL,
    DENIED_BADGES_INITIAL,
    DOOR_FORCED_INITIAL,
    DOOR_HELD_OPEN_INITIAL,
    TWO_PERSON_INITIAL,
    AccessState,
    AfterHoursEntryRule,
    AfterHoursState,
    DeniedBadgesRule,
    DeniedBadgesState,
    DoorForcedRule,
    DoorHeldOpenRule,
    DoorHeldOpenState,
    TwoPersonRule,
    TwoPersonState,
    dump_state,
    evaluate_after_hours_entry,
    evaluate_denied_badges,
    evaluate_door_forced,
    evaluate_door_held_open,
    evaluate_two_person,
    load_state,
    state_kind,
    tick_denied_badges,
    tick_door_held_open,
    tick_two_person,
)
from rules.base import NO_EVENTS, Subject
from rules.calendar import Calendar, CalendarConfig
from sensors.clock import FakeClock
from sensors.events import AlarmEvent, Category, Severity, Transition
from sensors.payload import ReadingPayload
from sensors.reading import Reading

SHANGHAI = ZoneInfo("Asia/Shanghai")
SITE = "yunxi"
B2_01 = Subject(SITE, "B2-01", "b201-door")
B2_04 = Subject(SITE, "B2-04", "b204-door")  # 特藏库: two-person rule
B3_03 = Subject(SITE, "B3-03", "b303-door")

S = TypeVar("S")
Events = tuple[AlarmEvent, ...]


def local(y: int, mo: int, d: int, h: int, mi: int, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=SHANGHAI)


class Door(Generic[S]):
    """One door under one rule: readings and timer sweeps at the fake clock's time."""

    def __init__(
        self,
        clock: FakeClock,
        subject: Subject,
        state: S,
        evaluate: Callable[[S, Reading, Subject, datetime], tuple[S, Events]],
        tick: Callable[[S, Subject, datetime], tuple[S, Events]] | None = None,
    ) -> None:
        self.clock, self.subject, self.state = clock, subject, state
        self._evaluate, self._tick = evaluate, tick
        self.events: list[AlarmEvent] = []

    def send(self, **values: object) -> Events:
        now = self.clock.now()
        payload = ReadingPayload.model_validate(values)
        raw = json.dumps(values).encode()
        s = self.subject
        reading = Reading(s.site, s.room, s.sensor, now, now, payload, raw)
        self.state, events = self._evaluate(self.state, reading, s, now)
        self.events.extend(events)
        return events

    def sweep(self) -> Events:
        assert self._tick is not None
        self.state, events = self._tick(self.state, self.subject, self.clock.now())
        self.events.extend(events)
        return events


def only(events: Events, transition: Transition) -> AlarmEvent:
    (event,) = events
    assert event.transition is transition
    return event


@pytest.fixture
def site_calendar() -> Calendar:
    """Office hours, the 2026 National Day week off, Saturday 10 October worked (调休)."""
    config = CalendarConfig(
        holidays=[date(2026, 10, d) for d in range(1, 8)], workdays=[date(2026, 10, 10)]
    )
    return Calendar.compile(config)


# Forced doors


def test_a_forced_door_at_0213(clock: FakeClock) -> None:
    door = Door(clock, B3_03, DOOR_FORCED_INITIAL, partial(evaluate_door_forced, DoorForcedRule()))
    clock.set(local(2026, 1, 6, 2, 13))
    alarm = only(door.send(door="open", forced=True), Transition.RAISE)
    assert (alarm.rule, alarm.category, alarm.severity) == (
        "door_forced",
        Category.INTRUSION,
        Severity.HIGH,
    )
    assert alarm.at == local(2026, 1, 6, 2, 13, 0)
    assert alarm.key == B3_03.key("door_forced")
    assert "B3-03" in alarm.message_zh
    assert "B3-03" in alarm.message_en
    assert "强行" in alarm.message_zh
    assert "forced" in alarm.message_en

    clock.advance(20)
    assert door.send(door="open", forced=True) == NO_EVENTS  # still the one alarm
    assert door.send(door="closed", forced=True) == NO_EVENTS  # the contact still says forced
    clock.set(local(2026, 1, 6, 2, 31))
    cleared = only(door.send(door="closed", forced=False), Transition.CLEAR)
    assert cleared.key == alarm.key
    assert door.state == DOOR_FORCED_INITIAL


def test_an_ordinary_door_reading_changes_nothing(clock: FakeClock) -> None:
    reading = Reading(
        SITE, "B3-03", "b303-door", clock.now(), clock.now(), ReadingPayload(door="open"), b"{}"
    )
    state, events = evaluate_door_forced(
        DoorForcedRule(), DOOR_FORCED_INITIAL, reading, B3_03, clock.now()
    )
    assert state is DOOR_FORCED_INITIAL
    assert events is NO_EVENTS


# Doors held open


def held_open_door(clock: FakeClock) -> Door[DoorHeldOpenState]:
    rule = DoorHeldOpenRule()
    return Door(
        clock,
        B2_01,
        DOOR_HELD_OPEN_INITIAL,
        partial(evaluate_door_held_open, rule),
        partial(tick_door_held_open, rule),
    )


def test_a_door_propped_open_during_a_delivery(clock: FakeClock) -> None:
    door = held_open_door(clock)
    clock.set(local(2026, 1, 6, 10, 0))
    assert door.send(door="open") == NO_EVENTS
    assert door.state.opened_at == local(2026, 1, 6, 10, 0)
    clock.advance(timedelta(minutes=1, seconds=59))
    assert door.sweep() == NO_EVENTS
    assert door.send(door="open") == NO_EVENTS  # a heartbeat does not restart the timer
    clock.advance(2)  # 2:01
    alarm = only(door.sweep(), Transition.RAISE)
    assert (alarm.rule, alarm.severity) == ("door_held_open", Severity.MEDIUM)
    assert "B2-01" in alarm.message_zh
    assert "B2-01" in alarm.message_en
    assert "held open" in alarm.message_en
    clock.advance(60)
    assert door.sweep() == NO_EVENTS  # raised once
    clock.advance(90)
    only(door.send(door="closed"), Transition.CLEAR)
    assert door.state == DOOR_HELD_OPEN_INITIAL


def test_closing_in_time_cancels_the_timer_without_an_event(clock: FakeClock) -> None:
    door = held_open_door(clock)
    door.send(door="open")
    clock.advance(90)
    assert door.send(door="closed") == NO_EVENTS
    clock.advance(300)
    assert door.sweep() == NO_EVENTS
    assert door.events == []


def test_a_door_closed_after_a_missed_sweep_is_still_recorded(clock: FakeClock) -> None:
    door = held_open_door(clock)
    door.send(door="open")
    clock.advance(timedelta(minutes=3))
    raised, cleared = door.send(door="closed")
    assert (raised.transition, cleared.transition) == (Transition.RAISE, Transition.CLEAR)


def test_a_pending_timer_survives_a_restart(clock: FakeClock) -> None:
    door = held_open_door(clock)
    door.send(door="open")
    saved = json.dumps({"kind": state_kind(door.state), "state": dump_state(door.state)})

    restored = json.loads(saved)
    state = load_state(restored["kind"], restored["state"])
    assert isinstance(state, DoorHeldOpenState)
    door.state = state
    clock.advance(timedelta(minutes=2, seconds=1))
    only(door.sweep(), Transition.RAISE)


# Entry after hours


def entrance(clock: FakeClock, calendar: Calendar) -> Door[AfterHoursState]:
    rule = AfterHoursEntryRule(calendar=calendar)
    return Door(clock, B2_01, AFTER_HOURS_INITIAL, partial(evaluate_after_hours_entry, rule))


def test_a_guard_badges_in_at_2240_on_a_tuesday(clock: FakeClock, site_calendar: Calendar) -> None:
    door = entrance(clock, site_calendar)
    clock.set(local(2026, 1, 6, 22, 40))
    alarm = only(door.send(badge="G-017", granted=True), Transition.RAISE)
    assert (alarm.rule, alarm.severity, alarm.category) == (
        "after_hours_entry",
        Severity.HIGH,
        Category.INTRUSION,
    )
    assert "G-017" in alarm.message_zh
    assert "G-017" in alarm.message_en
    assert "B2-01" in alarm.message_zh
    assert "B2-01" in alarm.message_en
    clock.advance(3)
    assert door.send(door="open") == NO_EVENTS  # the same entry
    clock.advance(240)
    only(door.send(door="closed"), Transition.CLEAR)


@pytest.mark.parametrize(
    ("when", "alarm"),
    [
        (local(2026, 1, 6, 10, 0), False),  # a Tuesday morning
        (local(2026, 10, 1, 10, 0), True),  # National Day, a Thursday
        (local(2026, 10, 10, 10, 0), False),  # a Saturday made a workday
        (local(2026, 10, 17, 10, 0), True),  # an ordinary Saturday
    ],
)
def test_entry_follows_the_site_calendar(
    clock: FakeClock, site_calendar: Calendar, when: datetime, alarm: bool
) -> None:
    door = entrance(clock, site_calendar)
    clock.set(when)
    events = door.send(badge="A-101", granted=True)
    assert [e.transition for e in events] == ([Transition.RAISE] if alarm else [])


def test_a_door_opened_at_night_without_a_badge(clock: FakeClock, site_calendar: Calendar) -> None:
    door = entrance(clock, site_calendar)
    clock.set(local(2026, 1, 7, 3, 5))
    alarm = only(door.send(door="open"), Transition.RAISE)
    assert "without a badge" in alarm.message_en
    assert "无刷卡" in alarm.message_zh


def test_a_denied_badge_at_night_is_not_an_entry(clock: FakeClock, site_calendar: Calendar) -> None:
    door = entrance(clock, site_calendar)
    clock.set(local(2026, 1, 7, 3, 5))
    assert door.send(badge="X-9", granted=False) == NO_EVENTS
    assert door.state is AFTER_HOURS_INITIAL


def test_the_last_archivist_badged_before_closing_time(
    clock: FakeClock, site_calendar: Calendar
) -> None:
    door = entrance(clock, site_calendar)
    clock.set(local(2026, 1, 6, 17, 29, 40))
    door.send(badge="A-101", granted=True)
    clock.advance(30)  # 17:30:10: the door opens after closing time, for that badge
    assert door.send(door="open") == NO_EVENTS
    assert door.send(door="closed") == NO_EVENTS
    assert door.events == []


# The two-person rule, 双人进库


def vault(clock: FakeClock, subject: Subject = B2_04) -> Door[TwoPersonState]:
    rule = TwoPersonRule(rooms=frozenset({"B2-04"}))
    return Door(
        clock,
        subject,
        TWO_PERSON_INITIAL,
        partial(evaluate_two_person, rule),
        partial(tick_two_person, rule),
    )


def test_one_archivist_enters_b2_04_alone(clock: FakeClock) -> None:
    door = vault(clock)
    clock.set(local(2026, 1, 6, 14, 0))
    assert door.send(badge="A-101", granted=True) == NO_EVENTS
    assert door.send(door="open") == NO_EVENTS
    clock.advance(59)
    assert door.sweep() == NO_EVENTS
    clock.advance(2)
    alarm = only(door.sweep(), Transition.RAISE)
    assert (alarm.rule, alarm.severity) == ("two_person", Severity.HIGH)
    assert alarm.key == B2_04.key("two_person")
    assert "A-101" in alarm.message_zh
    assert "A-101" in alarm.message_en
    assert "B2-04" in alarm.message_zh
    assert "双人" in alarm.message_zh
    clock.advance(30)
    assert door.sweep() == NO_EVENTS
    only(door.send(door="closed"), Transition.CLEAR)
    assert door.state == TWO_PERSON_INITIAL


def test_two_archivists_within_20_s(clock: FakeClock) -> None:
    door = vault(clock)
    door.send(badge="A-101", granted=True)
    clock.advance(20)
    assert door.send(badge="A-102", granted=True) == NO_EVENTS
    assert door.state == TWO_PERSON_INITIAL
    clock.advance(120)
    assert door.sweep() == NO_EVENTS
    assert door.send(door="closed") == NO_EVENTS
    assert door.events == []


def test_the_same_badge_twice_is_one_person(clock: FakeClock) -> None:
    door = vault(clock)
    door.send(badge="A-101", granted=True)
    clock.advance(10)
    assert door.send(badge="A-101", granted=True) == NO_EVENTS
    clock.advance(51)
    alarm = only(door.sweep(), Transition.RAISE)
    assert "A-101" in alarm.message_en


def test_a_denied_second_badge_is_not_a_second_person(clock: FakeClock) -> None:
    door = vault(clock)
    door.send(badge="A-101", granted=True)
    clock.advance(10)
    door.send(badge="V-555", granted=False)
    clock.advance(51)
    only(door.sweep(), Transition.RAISE)


def test_a_second_badge_after_the_deadline_is_too_late(clock: FakeClock) -> None:
    door = vault(clock)
    door.send(badge="A-101", granted=True)
    clock.advance(90)  # no sweep ran in between
    alarm = only(door.send(badge="A-102", granted=True), Transition.RAISE)
    assert "A-101" in alarm.message_en


def test_rooms_without_the_rule_are_not_watched(clock: FakeClock) -> None:
    door = vault(clock, subject=B2_01)
    door.send(badge="A-101", granted=True)
    assert door.state is TWO_PERSON_INITIAL
    clock.advance(120)
    assert door.sweep() == NO_EVENTS


# Denied badges


def reader(clock: FakeClock) -> Door[DeniedBadgesState]:
    rule = DeniedBadgesRule()
    return Door(
        clock,
        B2_01,
        DENIED_BADGES_INITIAL,
        partial(evaluate_denied_badges, rule),
        partial(tick_denied_badges, rule),
    )


def test_three_denied_badges_in_2_minutes_raise_one_alarm(clock: FakeClock) -> None:
    door = reader(clock)
    clock.set(local(2026, 1, 6, 19, 0))
    for badge in ("X-9", "X-9", "Y-3", "Y-3"):
        door.send(badge=badge, granted=False)
        clock.advance(40)
    (alarm,) = door.events
    assert alarm.transition is Transition.RAISE
    assert (alarm.rule, alarm.severity) == ("denied_badges", Severity.MEDIUM)
    assert alarm.at == local(2026, 1, 6, 19, 1, 20)  # on the third
    assert "X-9, Y-3" in alarm.message_zh
    assert "X-9, Y-3" in alarm.message_en
    assert "B2-01" in alarm.message_en
    assert len(door.state.times) == 3  # bounded to count

    clock.set(local(2026, 1, 6, 19, 7))  # five minutes after the last: still in the window
    assert door.sweep() == NO_EVENTS
    clock.advance(1)
    only(door.sweep(), Transition.CLEAR)
    assert door.state == DENIED_BADGES_INITIAL


def test_denied_badges_spread_out_do_not_raise(clock: FakeClock) -> None:
    door = reader(clock)
    for _ in range(6):
        door.send(badge="X-9", granted=False)
        clock.advance(timedelta(minutes=3))
    assert door.events == []
    assert len(door.state.times) == 2  # the window keeps only what is still inside it


def test_a_granted_badge_is_not_counted(clock: FakeClock) -> None:
    door = reader(clock)
    door.send(badge="X-9", granted=False)
    before = door.state
    assert door.send(badge="A-101", granted=True) == NO_EVENTS
    assert door.state is before


def test_a_denied_badge_count_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        DeniedBadgesRule(count=0)


# States kept across restarts


AT = datetime(2026, 1, 6, 14, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "state",
    [
        DOOR_FORCED_INITIAL,
        DoorHeldOpenState(opened_at=AT, raised=True),
        AfterHoursState(raised=True, badge_at=AT.astimezone(SHANGHAI)),
        TwoPersonState(first_badge="A-101", deadline=AT + timedelta(seconds=60)),
        DeniedBadgesState(times=(AT, AT + timedelta(seconds=40)), badges=("X-9", "Y-3")),
    ],
)
def test_every_state_survives_json(state: AccessState) -> None:
    text = json.dumps(dump_state(state))
    assert load_state(state_kind(state), json.loads(text)) == state


def test_an_unknown_state_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown"):
        load_state("tailgating", {})
