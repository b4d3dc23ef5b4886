"""Access-control rules: forced and held-open doors, after-hours entry, 双人进库, denied badges.

Each rule is a frozen compiled dataclass with a small frozen state and pure functions
(rules/base.py): ``evaluate_<rule>(rule, state, reading, subject, now)`` on every door
reading and, for rules with a timer, ``tick_<rule>(rule, state, subject, now)``. Both give
back the same state object and ``NO_EVENTS`` when nothing changes. Times are ``now``, the
engine's time for the reading, so that timers and readings share one clock. ``evaluate``
first fires a timer that is already due, so a late sweep cannot hide a breach.

The entry and after-hours rules are site policies, not national rules (archive-standards.md
§2: a mandatory 双人进库 and an after-hours approval rule are both UNVERIFIED).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

from pydantic import TypeAdapter

from rules.base import NO_EVENTS, Subject, Verdict, clear_event, raise_event
from rules.calendar import Calendar
from sensors.events import AlarmEvent, Category, Severity
from sensors.reading import Reading

Events = tuple[AlarmEvent, ...]


@dataclass(frozen=True, slots=True)
class DoorForcedRule:
    """A door reports ``forced``: raise at once; the next closed, unforced reading clears."""

    id: str = "door_forced"
    severity: Severity = Severity.HIGH


@dataclass(frozen=True, slots=True)
class DoorHeldOpenRule:
    """A door open for longer than ``after``; closing clears."""

    # Design choice, no standard: long enough to wheel a trolley of boxes through.
    after: timedelta = timedelta(minutes=2)
    id: str = "door_held_open"
    severity: Severity = Severity.MEDIUM


@dataclass(frozen=True, slots=True)
class AfterHoursEntryRule:
    """A granted badge, or a door opened without one, while the site calendar is closed."""

    calendar: Calendar
    # A door opening this soon after a granted badge is that badge's entry, judged already.
    grace: timedelta = timedelta(minutes=1)
    id: str = "after_hours_entry"
    severity: Severity = Severity.HIGH


@dataclass(frozen=True, slots=True)
class TwoPersonRule:
    """双人进库: in ``rooms``, a granted badge needs a second, different one within ``within``."""

    rooms: frozenset[str]
    within: timedelta = timedelta(seconds=60)
    id: str = "two_person"
    severity: Severity = Severity.HIGH


@dataclass(frozen=True, slots=True)
class DeniedBadgesRule:
    """``count`` denied badges within ``within``: someone is trying cards."""

    count: int = 3
    within: timedelta = timedelta(minutes=5)
    id: str = "denied_badges"
    severity: Severity = Severity.MEDIUM

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError("denied_badges needs a count of at least 1")


AccessRule = (
    DoorForcedRule | DoorHeldOpenRule | AfterHoursEntryRule | TwoPersonRule | DeniedBadgesRule
)


@dataclass(frozen=True, slots=True)
class DoorForcedState:
    raised: bool = False


@dataclass(frozen=True, slots=True)
class DoorHeldOpenState:
    opened_at: datetime | None = None
    raised: bool = False


@dataclass(frozen=True, slots=True)
class AfterHoursState:
    raised: bool = False
    badge_at: datetime | None = None  # the last granted badge


@dataclass(frozen=True, slots=True)
class TwoPersonState:
    """Waiting for a second person while ``deadline`` is set."""

    first_badge: str | None = None
    deadline: datetime | None = None
    raised: bool = False


@dataclass(frozen=True, slots=True)
class DeniedBadgesState:
    """The last ``count`` denied badges (times and badge ids, oldest first)."""

    times: tuple[datetime, ...] = ()
    badges: tuple[str, ...] = ()
    raised: bool = False


DOOR_FORCED_INITIAL = DoorForcedState()
DOOR_HELD_OPEN_INITIAL = DoorHeldOpenState()
AFTER_HOURS_INITIAL = AfterHoursState()
TWO_PERSON_INITIAL = TwoPersonState()
DENIED_BADGES_INITIAL = DeniedBadgesState()


def evaluate_door_forced(
    rule: DoorForcedRule, state: DoorForcedState, reading: Reading, subject: Subject, now: datetime
) -> tuple[DoorForcedState, Events]:
    p = reading.payload
    if p.forced is True:
        if state.raised:
            return state, NO_EVENTS
        zh, en = _door(subject)
        return DoorForcedState(raised=True), (
            raise_event(
                _verdict(rule),
                subject,
                now,
                f"{subject.room}：{zh}被强行打开{_badge_zh(p.badge)}",
                f"{subject.room}: {en} forced open{_badge_en(p.badge)}",
                "forced",
            ),
        )
    if state.raised and p.door == "closed":
        return DOOR_FORCED_INITIAL, (clear_event(_verdict(rule), subject, now, "closed"),)
    return state, NO_EVENTS


def evaluate_door_held_open(
    rule: DoorHeldOpenRule,
    state: DoorHeldOpenState,
    reading: Reading,
    subject: Subject,
    now: datetime,
) -> tuple[DoorHeldOpenState, Events]:
    door = reading.payload.door
    if door == "open" and state.opened_at is None:
        return DoorHeldOpenState(opened_at=now), NO_EVENTS
    state, events = tick_door_held_open(rule, state, subject, now)
    if door == "closed" and state.opened_at is not None:
        if state.raised:  # closing cancels a pending timer silently, clears a raised one
            events = (*events, clear_event(_verdict(rule), subject, now, "closed"))
        return DOOR_HELD_OPEN_INITIAL, events
    return state, events


def tick_door_held_open(
    rule: DoorHeldOpenRule, state: DoorHeldOpenState, subject: Subject, now: datetime
) -> tuple[DoorHeldOpenState, Events]:
    if state.raised or state.opened_at is None or now - state.opened_at <= rule.after:
        return state, NO_EVENTS
    zh, en = _door(subject)
    minutes = f"{rule.after.total_seconds() / 60:g}"
    return DoorHeldOpenState(opened_at=state.opened_at, raised=True), (
        raise_event(
            _verdict(rule),
            subject,
            now,
            f"{subject.room}：{zh}已开启超过 {minutes} 分钟未关闭",
            f"{subject.room}: {en} held open for more than {minutes} min",
            round((now - state.opened_at).total_seconds()),
        ),
    )


def evaluate_after_hours_entry(
    rule: AfterHoursEntryRule,
    state: AfterHoursState,
    reading: Reading,
    subject: Subject,
    now: datetime,
) -> tuple[AfterHoursState, Events]:
    p = reading.payload
    if p.granted is True:
        if state.raised or rule.calendar.is_open(now):
            return AfterHoursState(raised=state.raised, badge_at=now), NO_EVENTS
        badge = p.badge or "?"
        zh = f"{subject.room}：非工作时间进入，卡号 {badge}"
        en = f"{subject.room}: entry after hours, badge {badge}"
        return AfterHoursState(raised=True, badge_at=now), (
            raise_event(_verdict(rule), subject, now, zh, en, badge),
        )
    if p.door == "open":
        badged = state.badge_at is not None and now - state.badge_at <= rule.grace
        if state.raised or badged or rule.calendar.is_open(now):
            return state, NO_EVENTS
        door_zh, door_en = _door(subject)
        zh = f"{subject.room}：非工作时间{door_zh}被打开，无刷卡记录"
        en = f"{subject.room}: {door_en} opened after hours without a badge"
        return AfterHoursState(raised=True), (
            raise_event(_verdict(rule), subject, now, zh, en, "door"),
        )
    if p.door == "closed" and state.raised:
        return AFTER_HOURS_INITIAL, (clear_event(_verdict(rule), subject, now, "closed"),)
    return state, NO_EVENTS


def evaluate_two_person(
    rule: TwoPersonRule, state: TwoPersonState, reading: Reading, subject: Subject, now: datetime
) -> tuple[TwoPersonState, Events]:
    if subject.room not in rule.rooms:
        return state, NO_EVENTS
    state, events = tick_two_person(rule, state, subject, now)
    p = reading.payload
    if p.granted is True and not state.raised:
        if state.deadline is None:
            return TwoPersonState(first_badge=p.badge, deadline=now + rule.within), events
        # A badge we cannot tell apart from the first does not prove a second person.
        if p.badge is not None and state.first_badge not in {None, p.badge}:
            return TWO_PERSON_INITIAL, events
    elif p.door == "closed" and state.raised:
        return TWO_PERSON_INITIAL, (*events, clear_event(_verdict(rule), subject, now, "closed"))
    return state, events


def tick_two_person(
    rule: TwoPersonRule, state: TwoPersonState, subject: Subject, now: datetime
) -> tuple[TwoPersonState, Events]:
    if state.deadline is None or now <= state.deadline:
        return state, NO_EVENTS
    badge = state.first_badge or "?"
    seconds = f"{rule.within.total_seconds():g}"
    return TwoPersonState(first_badge=state.first_badge, raised=True), (
        raise_event(
            _verdict(rule),
            subject,
            now,
            f"{subject.room}：违反双人进库，卡号 {badge} 刷卡后 {seconds} 秒内无第二人刷卡",
            f"{subject.room}: two-person rule broken, badge {badge} entered alone "
            f"(no second badge within {seconds} s)",
            badge,
        ),
    )


def evaluate_denied_badges(
    rule: DeniedBadgesRule,
    state: DeniedBadgesState,
    reading: Reading,
    subject: Subject,
    now: datetime,
) -> tuple[DeniedBadgesState, Events]:
    if reading.payload.granted is not False:
        return state, NO_EVENTS
    state, events = tick_denied_badges(rule, state, subject, now)
    window = [
        (t, b) for t, b in zip(state.times, state.badges, strict=True) if now - t <= rule.within
    ]
    window = [*window, (now, reading.payload.badge or "?")][-rule.count :]
    times, badges = tuple(t for t, _ in window), tuple(b for _, b in window)
    if state.raised or len(window) < rule.count:
        return DeniedBadgesState(times, badges, raised=state.raised), events
    named = ", ".join(dict.fromkeys(badges))
    minutes = f"{rule.within.total_seconds() / 60:g}"
    zh = f"{subject.room}：{minutes} 分钟内 {len(window)} 次刷卡被拒，卡号 {named}"
    en = f"{subject.room}: {len(window)} denied badges within {minutes} min: {named}"
    return DeniedBadgesState(times, badges, raised=True), (
        *events,
        raise_event(_verdict(rule), subject, now, zh, en, named),
    )


def tick_denied_badges(
    rule: DeniedBadgesRule, state: DeniedBadgesState, subject: Subject, now: datetime
) -> tuple[DeniedBadgesState, Events]:
    if not state.raised or now - state.times[-1] <= rule.within:
        return state, NO_EVENTS
    return DENIED_BADGES_INITIAL, (clear_event(_verdict(rule), subject, now, "quiet"),)


AccessState = (
    DoorForcedState | DoorHeldOpenState | AfterHoursState | TwoPersonState | DeniedBadgesState
)

# Kinds are the default rule ids; the engine stores (kind, dump_state(state)).
STATE_TYPES: Mapping[str, type[AccessState]] = MappingProxyType(
    {
        "door_forced": DoorForcedState,
        "door_held_open": DoorHeldOpenState,
        "after_hours_entry": AfterHoursState,
        "two_person": TwoPersonState,
        "denied_badges": DeniedBadgesState,
    }
)
_KINDS = MappingProxyType({cls: kind for kind, cls in STATE_TYPES.items()})
_ADAPTERS: Mapping[str, TypeAdapter[AccessState]] = MappingProxyType(
    {kind: TypeAdapter(cls) for kind, cls in STATE_TYPES.items()}
)


def state_kind(state: AccessState) -> str:
    return _KINDS[type(state)]


def dump_state(state: AccessState) -> dict[str, Any]:
    """A JSON-ready dict (datetimes as ISO 8601 text with their offset)."""
    data: dict[str, Any] = _ADAPTERS[state_kind(state)].dump_python(state, mode="json")
    return data


def load_state(kind: str, data: Mapping[str, Any]) -> AccessState:
    """The state ``dump_state`` wrote; ValueError for an unknown kind or bad data."""
    adapter = _ADAPTERS.get(kind)
    if adapter is None:
        raise ValueError(f"unknown access rule state {kind!r}")
    return adapter.validate_python(dict(data))


def _verdict(rule: AccessRule) -> Verdict:
    return Verdict(rule.id, Category.INTRUSION, rule.severity)


def _door(subject: Subject) -> tuple[str, str]:
    """How the messages name the door: (zh, en)."""
    if subject.sensor:
        return f"库门 {subject.sensor} ", f"door {subject.sensor}"
    return "库门", "the door"


def _badge_zh(badge: str | None) -> str:
    return f"，卡号 {badge}" if badge else ""


def _badge_en(badge: str | None) -> str:
    return f", badge {badge}" if badge else ""
