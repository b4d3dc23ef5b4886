"""The alarm service and its store (on SQLite and, when one answers, PostgreSQL): the
ISA-18.2 lifecycle as the desk sees it, ordering, UTC times, the one-open-alarm rule, the
listeners, the audit trail, shelving and maintenance windows; then the feed and the log.

No escalation policy here (console only): nobody is paged, so every test reads the records
and the audit trail, not messages. The shelving tests build a small AlertingConfig with
people only (who may shelve). Time comes from the FakeClock only.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from alerts.config import AlertingConfig, PersonConfig
from alerts.feed import AlarmFeed
from alerts.listeners.console import ConsoleListener
from alerts.listeners.log import LogListener
from alerts.models import OPEN_STATES, Alarm, AlarmChange, AlarmState, Change, Via
from alerts.routing import Routing
from alerts.service import AlarmService, Refused
from alerts.store import AlarmStore
from alerts.tables import alarms, create_state_engine
from sensors.clock import FakeClock
from sensors.events import AlarmEvent, Category, Severity, Transition
from sensors.facility import Facility
from tests.postgres_server import PgSchema, postgres_url

T0 = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)
SHANGHAI = ZoneInfo("Asia/Shanghai")
HUMIDITY = "humidity_limits:yunxi:b201-th1"
FIRE = "fire:yunxi:B2-01"


def event(
    key: str = HUMIDITY,
    transition: Transition = Transition.RAISE,
    *,
    at: datetime = T0,
    room: str = "B2-01",
    sensor: str = "b201-th1",
    value: float | str | None = 60.1,
    severity: Severity = Severity.MEDIUM,
    category: Category = Category.CLIMATE,
    message_en: str = "Relative humidity 60.1%RH in B2-01, above the limit of 60%RH",
) -> AlarmEvent:
    return AlarmEvent(
        key=key,
        transition=transition,
        rule=key.split(":", 1)[0],
        category=category,
        severity=severity,
        site="yunxi",
        room=room,
        sensor=sensor,
        at=at,
        message_zh=f"{room} 相对湿度 60.1%RH，高于上限 60%RH",
        message_en=message_en,
        value=value,
    )


def fire(at: datetime = T0, room: str = "B2-01") -> AlarmEvent:
    return event(
        f"fire:yunxi:{room}",
        at=at,
        room=room,
        sensor=f"{room.lower().replace('-', '')}-smoke1",
        value="smoke",
        severity=Severity.CRITICAL,
        category=Category.FIRE,
        message_en=f"Fire alarm in {room}: smoke detector",
    )


def silent(key: str, at: datetime = T0, room: str = "B2-01") -> AlarmEvent:
    return event(
        key,
        at=at,
        room=room,
        value=3.2,
        severity=Severity.LOW,
        category=Category.TROUBLE,
        message_en="Sensor silent for 3 min",
    )


def clear(key: str = HUMIDITY, at: datetime = T0, room: str = "B2-01") -> AlarmEvent:
    return event(key, Transition.CLEAR, at=at, room=room, value=None, message_en="Back to normal")


# --- state databases ------------------------------------------------------------------------


@pytest.fixture
def pg_schema(postgres_server: str) -> Iterator[PgSchema]:
    """A fresh schema on the session's PostgreSQL server, dropped afterwards."""
    admin = sa.create_engine(postgres_server)
    schema = PgSchema(postgres_server, f"lantai_test_{uuid.uuid4().hex[:12]}")
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema.name}"'))
    try:
        yield schema
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema.name}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def state_engine(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Engine]:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'state.db'}"
    else:
        url = postgres_url(request.getfixturevalue("pg_schema"))
    engine = create_state_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture
def store(state_engine: Engine) -> AlarmStore:
    return AlarmStore(state_engine)


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[AlarmStore]:
    engine = create_state_engine(f"sqlite:///{tmp_path / 'state.db'}")
    yield AlarmStore(engine)
    engine.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


# --- the service ----------------------------------------------------------------------------


class Recorder:
    """A listener that keeps what it is told (the console and the log are the real ones)."""

    def __init__(self, name: str = "recorder") -> None:
        self.name = name
        self.changes: list[AlarmChange] = []

    def notify(self, change: AlarmChange) -> None:
        self.changes.append(change)


class Broken:
    name = "broken"

    def __init__(self) -> None:
        self.calls = 0

    def notify(self, change: AlarmChange) -> None:
        self.calls += 1
        raise ConnectionError("the feed's client went away")


# People for the shelving tests: only the supervisor may shelve.
PEOPLE = [
    PersonConfig(id="chen", name="陈主任", can_shelve=True),
    PersonConfig(id="wang", name="王建国"),
]


def start(
    store: AlarmStore,
    facility: Facility,
    clock: FakeClock,
    *listeners: Recorder | Broken,
    people: list[PersonConfig] | None = None,
) -> AlarmService:
    routing = Routing(AlertingConfig(people=people), facility) if people is not None else None
    service = AlarmService(store, facility, clock, routing=routing, listeners=listeners)
    service.start(deliver=False)
    return service


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def service(
    store: AlarmStore, facility: Facility, clock: FakeClock, recorder: Recorder
) -> Iterator[AlarmService]:
    started = start(store, facility, clock, recorder, people=PEOPLE)
    yield started
    started.stop()


def publish(
    service: AlarmService, recorder: Recorder, clock: FakeClock, *events: AlarmEvent
) -> list[AlarmChange]:
    """Publish at each event's time (the clock follows) and return the changes told."""
    before = len(recorder.changes)
    for e in events:
        if e.at > clock.now():
            clock.set(e.at)
        service.publish([e])
    return recorder.changes[before:]


def one(service: AlarmService, recorder: Recorder, clock: FakeClock, e: AlarmEvent) -> AlarmChange:
    (change,) = publish(service, recorder, clock, e)
    return change


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


def assert_utc(when: datetime | None) -> None:
    assert when is not None
    assert when.tzinfo is not None, "naive datetime"
    assert when.utcoffset() == timedelta(0), f"{when.isoformat()} is not UTC"


# --- the lifecycle through the service ------------------------------------------------------


def test_a_first_raise_creates_an_unacked_alarm(
    service: AlarmService, store: AlarmStore, recorder: Recorder, clock: FakeClock
) -> None:
    change = one(service, recorder, clock, event())
    assert change.change is Change.RAISED
    alarm = change.alarm
    assert alarm.state is AlarmState.UNACKED
    assert alarm.count == 1
    assert alarm.key == HUMIDITY
    assert alarm.rule == "humidity_limits"
    assert (alarm.category, alarm.severity) == (Category.CLIMATE, Severity.MEDIUM)
    assert (alarm.site, alarm.room, alarm.sensor) == ("yunxi", "B2-01", "b201-th1")
    assert alarm.raised_at == alarm.last_at == T0
    assert alarm.cleared_at is None
    assert alarm.last_value == "60.1"
    assert (alarm.acked_at, alarm.shelved_until, alarm.suppressed_by) == (None, None, None)
    assert store.get(alarm.id) == alarm
    assert store.active_keys() == {HUMIDITY}


def test_without_an_alerting_file_an_alarm_reaches_the_console_only(
    store: AlarmStore, facility: Facility, clock: FakeClock
) -> None:
    recorder = Recorder()
    service = start(store, facility, clock, recorder)  # no routing: Routing.empty
    alarm = one(service, recorder, clock, fire()).alarm
    assert alarm.incident_id is not None
    incident = store.incident(alarm.incident_id)
    assert incident is not None
    assert (incident.paging, incident.policy, incident.next_due_at) == ("console", None, None)
    assert store.messages(alarm.incident_id) == []
    assert service.tick() == 0


def test_a_raise_while_unacked_repeats_the_same_alarm(
    service: AlarmService, store: AlarmStore, recorder: Recorder, clock: FakeClock
) -> None:
    first = one(service, recorder, clock, event()).alarm
    again = one(
        service,
        recorder,
        clock,
        event(at=minutes(40), value=62.4, message_en="Relative humidity 62.4%RH in B2-01"),
    )
    assert again.change is Change.REPEATED
    assert again.alarm.id == first.id
    assert again.alarm.state is AlarmState.UNACKED
    assert again.alarm.count == 2
    assert again.alarm.last_value == "62.4"
    assert again.alarm.message_en == "Relative humidity 62.4%RH in B2-01"
    assert again.alarm.raised_at == T0
    assert again.alarm.last_at == minutes(40)
    assert len(store.list()) == 1


def test_a_raise_while_acked_repeats_and_stays_acked(
    service: AlarmService, recorder: Recorder, clock: FakeClock
) -> None:
    alarm = one(service, recorder, clock, event()).alarm
    service.ack(alarm.id, "wang", Via.CONSOLE)
    again = one(service, recorder, clock, event(at=minutes(3), value=61.0))
    assert (again.change, again.alarm.state, again.alarm.count) == (
        Change.REPEATED,
        AlarmState.ACKED,
        2,
    )
    assert again.alarm.acked_by == "wang"


def test_a_clear_returns_the_alarm_to_normal_still_unacknowledged(
    service: AlarmService, store: AlarmStore, recorder: Recorder, clock: FakeClock
) -> None:
    raised = one(service, recorder, clock, event()).alarm
    cleared = one(service, recorder, clock, clear(at=minutes(120)))
    assert cleared.change is Change.CLEARED
    assert cleared.alarm.id == raised.id
    assert cleared.alarm.state is AlarmState.RTN_UNACKED
    assert cleared.alarm.cleared_at == minutes(120)
    assert cleared.alarm.raised_at == T0
    assert store.active_keys() == set()
    assert [a.id for a in store.list()] == [raised.id]  # still on the desk's list


def test_a_clear_without_an_open_alarm_changes_nothing(
    service: AlarmService, store: AlarmStore, recorder: Recorder, clock: FakeClock
) -> None:
    assert publish(service, recorder, clock, clear("fire:yunxi:B2-04", room="B2-04")) == []
    publish(service, recorder, clock, event(), clear(at=minutes(1)))
    assert publish(service, recorder, clock, clear(at=minutes(2))) == []  # cleared twice
    assert len(store.list(states=None)) == 1
    assert (service.stats.events, service.stats.changes) == (4, 2)


def test_ack_of_a_returned_alarm_closes_it(
    service: AlarmService, store: AlarmStore, recorder: Recorder, clock: FakeClock
) -> None:
    alarm = publish(service, recorder, clock, event(), clear(at=minutes(5)))[-1].alarm
    clock.set(minutes(7))
    (change,) = service.ack(alarm.id, "wang", Via.CONSOLE)
    assert change.change is Change.CLOSED
    assert change.alarm.state is AlarmState.CLOSED
    assert (change.alarm.acked_at, change.alarm.acked_by) == (minutes(7), "wang")
    assert recorder.changes[-1] == change
    assert store.list() == []  # the desk's list is open alarms
    assert [a.id for a in store.list(states=None)] == [alarm.id]


def test_ack_of_an_active_alarm_then_its_clear_closes_it(
    service: AlarmService, recorder: Recorder, clock: FakeClock
) -> None:
    alarm = one(service, recorder, clock, event()).alarm
    clock.set(minutes(1))
    (acked,) = service.ack(alarm.id, "wang", Via.SMS)
    assert (acked.change, acked.alarm.state) == (Change.ACKED, AlarmState.ACKED)
    closed = one(service, recorder, clock, clear(at=minutes(30)))
    assert (closed.change, closed.alarm.state) == (Change.CLOSED, AlarmState.CLOSED)
    assert closed.alarm.cleared_at == minutes(30)
    assert closed.alarm.acked_at == minutes(1)


def test_a_second_ack_changes_nothing(
    service: AlarmService, recorder: Recorder, clock: FakeClock
) -> None:
    alarm = one(service, recorder, clock, event()).alarm
    assert len(service.ack(alarm.id, "wang", Via.CONSOLE)) == 1
    told = len(recorder.changes)
    assert service.ack(alarm.id, "chen", Via.SMS) == []
    assert len(recorder.changes) == told


def test_an_ack_acknowledges_the_rest_of_the_rooms_incident(
    service: AlarmService, recorder: Recorder, clock: FakeClock
) -> None:
    humidity = one(service, recorder, clock, event()).alarm
    smoke = one(service, recorder, clock, fire(at=minutes(1))).alarm
    assert smoke.incident_id == humidity.incident_id  # one room within the group window
    changes = service.ack(smoke.id, "wang", Via.CONSOLE, "on my way")
    assert [(c.change, c.alarm.key) for c in changes] == [
        (Change.ACKED, FIRE),
        (Change.ACKED, HUMIDITY),
    ]


def test_an_ack_of_an_unknown_alarm_is_refused(service: AlarmService) -> None:
    with pytest.raises(Refused) as refused:
        service.ack(999, "wang", Via.CONSOLE)
    assert (refused.value.reason, refused.value.message) == ("not_found", "no alarm 999")


def test_a_raise_after_returning_to_normal_reraises_the_same_record(
    service: AlarmService, store: AlarmStore, recorder: Recorder, clock: FakeClock
) -> None:
    old = one(service, recorder, clock, event()).alarm
    one(service, recorder, clock, clear(at=minutes(10)))
    back = one(service, recorder, clock, event(at=minutes(20), value=61.5))
    assert back.change is Change.RERAISED
    assert back.alarm.id == old.id
    assert back.alarm.state is AlarmState.UNACKED
    assert back.alarm.cleared_at is None
    assert back.alarm.count == 2
    assert back.alarm.last_value == "61.5"
    assert (back.alarm.raised_at, back.alarm.last_at) == (T0, minutes(20))
    assert len(store.list(states=None)) == 1


def test_a_raise_after_closing_opens_a_new_record(
    service: AlarmService, store: AlarmStore, recorder: Recorder, clock: FakeClock
) -> None:
    old = publish(service, recorder, clock, event(), clear(at=minutes(60)))[-1].alarm
    service.ack(old.id, "wang", Via.CONSOLE)
    new = one(service, recorder, clock, event(at=minutes(180)))
    assert new.change is Change.RAISED
    assert new.alarm.id != old.id
    assert (new.alarm.count, new.alarm.raised_at) == (1, minutes(180))
    assert [a.id for a in store.list(states=[AlarmState.UNACKED])] == [new.alarm.id]
    (closed,) = store.list(states=[AlarmState.CLOSED])
    assert closed.id == old.id
    assert closed.cleared_at == minutes(60)


# --- the desk's list ------------------------------------------------------------------------


def test_alarms_are_listed_open_first_then_unacked_then_by_severity_then_newest(
    service: AlarmService, store: AlarmStore, recorder: Recorder, clock: FakeClock
) -> None:
    # One room each, so that an ack takes no other alarm with it.
    medium_acked = one(service, recorder, clock, event(room="B2-01")).alarm
    service.ack(medium_acked.id, "wang", Via.CONSOLE)
    critical = one(service, recorder, clock, fire(at=minutes(1), room="B2-02")).alarm
    low = one(service, recorder, clock, silent("sensor_silent:yunxi:b203", minutes(2), "B2-03"))
    returned = publish(
        service,
        recorder,
        clock,
        event("temperature_limits:yunxi:b204-th1", at=minutes(3), room="B2-04"),
        clear("temperature_limits:yunxi:b204-th1", at=minutes(4), room="B2-04"),
    )[-1].alarm
    critical_acked = one(service, recorder, clock, fire(at=minutes(5), room="B3-01")).alarm
    service.ack(critical_acked.id, "wang", Via.CONSOLE)
    closed = publish(
        service,
        recorder,
        clock,
        fire(at=minutes(6), room="B3-02"),
        clear("fire:yunxi:B3-02", at=minutes(7), room="B3-02"),
    )[-1].alarm
    service.ack(closed.id, "wang", Via.CONSOLE)
    newer_medium = one(
        service, recorder, clock, event("humidity_limits:yunxi:b303", at=minutes(8), room="B3-03")
    ).alarm

    listed = store.list(states=None)
    assert [(a.id, a.state) for a in listed] == [
        (critical.id, AlarmState.UNACKED),
        (newer_medium.id, AlarmState.UNACKED),  # newer first among equals
        (returned.id, AlarmState.RTN_UNACKED),  # unacked, though normal again
        (low.alarm.id, AlarmState.UNACKED),
        (critical_acked.id, AlarmState.ACKED),
        (medium_acked.id, AlarmState.ACKED),
        (closed.id, AlarmState.CLOSED),
    ]
    assert [a.id for a in store.list()] == [a.id for a in listed[:-1]]  # open by default
    assert [a.id for a in store.list(states=[AlarmState.ACKED])] == [
        critical_acked.id,
        medium_acked.id,
    ]
    assert store.list(site="elsewhere") == []


def test_the_list_limit_keeps_the_most_urgent_alarms(
    service: AlarmService, store: AlarmStore, recorder: Recorder, clock: FakeClock
) -> None:
    one(service, recorder, clock, fire(at=T0))  # the oldest
    for n in range(3):
        one(service, recorder, clock, silent(f"sensor_silent:yunxi:s{n}", minutes(n + 1)))
    top = store.list(limit=2)
    assert [a.key for a in top] == [FIRE, "sensor_silent:yunxi:s2"]


# --- times ----------------------------------------------------------------------------------


def test_times_come_back_timezone_aware_utc(
    service: AlarmService, store: AlarmStore, recorder: Recorder, clock: FakeClock
) -> None:
    raised = one(service, recorder, clock, event()).alarm
    one(service, recorder, clock, clear(at=minutes(5)))
    clock.set(minutes(6))
    service.ack(raised.id, "wang", Via.CONSOLE)
    fetched = store.get(raised.id)
    assert fetched is not None
    for alarm in (raised, fetched, *store.list(states=None)):
        assert_utc(alarm.raised_at)
        assert_utc(alarm.last_at)
    assert_utc(fetched.cleared_at)
    assert_utc(fetched.acked_at)
    assert (fetched.cleared_at, fetched.acked_at) == (minutes(5), minutes(6))
    trail = store.timeline(raised.id)
    for entry in trail:
        assert_utc(entry.at)
    assert [e.at for e in trail if e.alarm_id == raised.id] == [T0, minutes(5), minutes(6)]
    assert fetched.incident_id is not None
    incident = store.incident(fetched.incident_id)
    assert incident is not None
    assert_utc(incident.opened_at)
    assert incident.opened_at == T0


def test_an_aware_local_time_is_stored_as_the_same_instant(
    service: AlarmService, store: AlarmStore, recorder: Recorder, clock: FakeClock
) -> None:
    shanghai = datetime(2026, 1, 5, 10, 0, tzinfo=SHANGHAI)  # 02:00 UTC
    alarm = one(service, recorder, clock, event(at=shanghai)).alarm
    assert alarm.raised_at == T0
    assert_utc(alarm.raised_at)
    stored = store.get(alarm.id)
    assert stored is not None
    assert stored.raised_at == T0


def test_shelve_and_window_times_given_in_local_time_keep_their_instant(
    service: AlarmService,
    store: AlarmStore,
    recorder: Recorder,
    clock: FakeClock,
    backend: str,
    request: pytest.FixtureRequest,
) -> None:
    until = minutes(60).astimezone(SHANGHAI)
    alarm = one(service, recorder, clock, event()).alarm
    shelved = service.shelve(alarm.id, "chen", "sensor being recalibrated", until)
    assert shelved.alarm.shelved_until == minutes(60)
    window = service.open_window(
        site="yunxi",
        room="B2-02",
        sensor=None,
        starts_at=T0.astimezone(SHANGHAI),
        ends_at=minutes(120).astimezone(SHANGHAI),
        reason="HVAC service",
        by="chen",
    )
    assert (window.starts_at, window.ends_at) == (T0, minutes(120))


def test_times_are_utc_whatever_the_postgresql_session_time_zone(
    pg_schema: PgSchema, facility: Facility, clock: FakeClock
) -> None:
    engine = create_state_engine(postgres_url(pg_schema, timezone="Asia/Shanghai"))
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SHOW timezone")).scalar() == "Asia/Shanghai"
        store = AlarmStore(engine)
        recorder = Recorder()
        service = start(store, facility, clock, recorder, people=PEOPLE)
        alarm = one(service, recorder, clock, event()).alarm
        one(service, recorder, clock, clear(at=minutes(5)))
        clock.set(minutes(6))
        service.ack(alarm.id, "wang", Via.CONSOLE)
        fetched = store.get(alarm.id)
        assert fetched is not None
        assert (fetched.raised_at, fetched.cleared_at, fetched.acked_at) == (
            T0,
            minutes(5),
            minutes(6),
        )
        for when in (fetched.raised_at, fetched.cleared_at, fetched.acked_at):
            assert_utc(when)
        for entry in store.timeline(alarm.id):
            assert_utc(entry.at)
    finally:
        engine.dispose()


# --- one open alarm per condition, in the database itself -----------------------------------


def test_the_database_refuses_a_second_open_alarm_for_a_key(
    service: AlarmService,
    store: AlarmStore,
    state_engine: Engine,
    recorder: Recorder,
    clock: FakeClock,
) -> None:
    old = publish(service, recorder, clock, fire(), clear(FIRE, at=minutes(1)))[-1].alarm
    service.ack(old.id, "wang", Via.CONSOLE)
    one(service, recorder, clock, fire(at=minutes(2)))
    with state_engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(sa.select(alarms).order_by(alarms.c.id))]
    copy = {name: v for name, v in rows[1].items() if name != "id"}
    assert [r["state"] for r in rows] == ["closed", "unacked"]

    # Any number of closed alarms per key: the unique index is partial.
    with state_engine.begin() as conn:
        conn.execute(alarms.insert().values({**copy, "state": AlarmState.CLOSED.value}))
    # But the database itself refuses a second open one, in any open state.
    for state in OPEN_STATES:
        with pytest.raises(sa.exc.IntegrityError), state_engine.begin() as conn:
            conn.execute(alarms.insert().values({**copy, "state": state.value}))
    assert store.active_keys() == {FIRE}
    assert len(store.list(states=None)) == 3


# --- listeners ------------------------------------------------------------------------------


def test_the_service_tells_every_listener_each_change_in_order(
    store: AlarmStore, facility: Facility, clock: FakeClock
) -> None:
    first, second = Recorder("first"), Recorder("second")
    service = start(store, facility, clock, first, second)
    service.publish([event(), event(at=minutes(1), value=61.0)])
    clock.set(minutes(2))
    service.publish([clear(FIRE), fire(at=minutes(2)), clear(at=minutes(2))])
    clock.set(minutes(3))
    smoke = first.changes[2].alarm
    service.ack(smoke.id, "wang", Via.CONSOLE)  # takes the room's humidity alarm with it

    assert [(c.change, c.alarm.key) for c in first.changes] == [
        (Change.RAISED, HUMIDITY),
        (Change.REPEATED, HUMIDITY),
        (Change.RAISED, FIRE),
        (Change.CLEARED, HUMIDITY),
        (Change.ACKED, FIRE),
        (Change.CLOSED, HUMIDITY),
    ]
    assert second.changes == first.changes
    assert first.changes[1].alarm.count == 2
    assert first.changes[3].alarm.state is AlarmState.RTN_UNACKED
    assert (service.stats.events, service.stats.changes) == (5, 6)
    assert service.stats.listener_failures == {}


def test_a_failing_listener_is_counted_and_logged_and_does_not_stop_the_others(
    store: AlarmStore, facility: Facility, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    broken, after = Broken(), Recorder("console")
    service = start(store, facility, clock, broken, after)
    with caplog.at_level(logging.ERROR, logger="alerts.service"):
        service.publish([fire()])
        clock.set(minutes(5))
        service.publish([clear(FIRE, at=minutes(5))])

    assert [c.change for c in after.changes] == [Change.RAISED, Change.CLEARED]
    assert broken.calls == 2
    assert service.stats.listener_failures == {"broken": 2}
    assert store.active_keys() == set()  # the record is kept whatever the listeners do
    alarm_id = after.changes[0].alarm.id
    failures = [r for r in caplog.records if r.name == "alerts.service"]
    assert [r.getMessage() for r in failures] == [
        f"listener broken failed for alarm #{alarm_id}"
    ] * 2
    assert all(r.exc_info is not None and r.exc_info[0] is ConnectionError for r in failures)


# --- the audit trail ------------------------------------------------------------------------


def trail(store: AlarmStore, alarm: Alarm) -> list[tuple[str, str, Via, datetime, str | None]]:
    """The alarm's own entries (its incident's "console_only" notes left out)."""
    return [
        (e.action, e.by, e.via, e.at, e.comment)
        for e in store.timeline(alarm.id)
        if e.alarm_id == alarm.id
    ]


def test_the_audit_trail_records_who_when_how_and_why(
    service: AlarmService, store: AlarmStore, recorder: Recorder, clock: FakeClock
) -> None:
    alarm = one(service, recorder, clock, event()).alarm
    clock.set(minutes(1))
    service.ack(alarm.id, "wang", Via.SMS, "checked: the dehumidifier tripped")
    clock.set(minutes(2))
    service.shelve(alarm.id, "chen", "dehumidifier being replaced", minutes(62))
    clock.set(minutes(3))
    service.unshelve(alarm.id, "chen", Via.API)
    clock.set(minutes(4))
    service.shelve(alarm.id, "chen", "night work", minutes(34), Via.VOICE)
    clock.set(minutes(34))
    service.tick()  # the shelve runs out

    assert trail(store, alarm) == [
        ("raised", "rule:humidity_limits", Via.RULE, T0, "value 60.1"),
        ("acked", "wang", Via.SMS, minutes(1), "checked: the dehumidifier tripped"),
        (
            "shelved",
            "chen",
            Via.CONSOLE,
            minutes(2),
            "until 2026-01-05T03:02:00+00:00: dehumidifier being replaced",
        ),
        ("unshelved", "chen", Via.API, minutes(3), None),
        ("shelved", "chen", Via.VOICE, minutes(4), "until 2026-01-05T02:34:00+00:00: night work"),
        ("unshelved", "system", Via.SYSTEM, minutes(34), None),
    ]
    assert [c.change for c in recorder.changes] == [
        Change.RAISED,
        Change.ACKED,
        Change.SHELVED,
        Change.UNSHELVED,
        Change.SHELVED,
        Change.UNSHELVED,
    ]


def test_a_shelved_alarm_carries_who_why_and_until_when(
    service: AlarmService, store: AlarmStore, recorder: Recorder, clock: FakeClock
) -> None:
    alarm = one(service, recorder, clock, event()).alarm
    change = service.shelve(alarm.id, "chen", "sensor being recalibrated", minutes(90))
    assert change.change is Change.SHELVED
    shelved = store.get(alarm.id)
    assert shelved is not None
    assert (shelved.shelved_until, shelved.shelved_by, shelved.shelve_reason) == (
        minutes(90),
        "chen",
        "sensor being recalibrated",
    )
    assert shelved.shelved(minutes(89)) is True
    assert shelved.shelved(minutes(90)) is False
    assert shelved.state is AlarmState.UNACKED  # shelving is a flag, not a state


def test_a_shelve_runs_out_at_its_time_on_tick(
    service: AlarmService, store: AlarmStore, recorder: Recorder, clock: FakeClock
) -> None:
    alarm = one(service, recorder, clock, event()).alarm
    service.shelve(alarm.id, "chen", "sensor being recalibrated", minutes(30))
    clock.set(minutes(30) - timedelta(seconds=1))
    service.tick()
    still = store.get(alarm.id)
    assert still is not None
    assert still.shelved_until == minutes(30)
    clock.set(minutes(30))
    service.tick()
    expired = store.get(alarm.id)
    assert expired is not None
    assert (expired.shelved_until, expired.shelved_by, expired.shelve_reason) == (None, None, None)
    assert recorder.changes[-1].change is Change.UNSHELVED
    assert recorder.changes[-1].alarm.id == alarm.id
    service.tick()  # nothing left to expire: no second entry
    assert [a for a, *_ in trail(store, alarm)].count("unshelved") == 1


@pytest.mark.parametrize(
    ("by", "reason", "until", "refusal"),
    [
        ("wang", "on my way", minutes(30), ("forbidden", "'wang' may not shelve alarms")),
        ("zhou", "on my way", minutes(30), ("forbidden", "'zhou' may not shelve alarms")),
        ("chen", "  ", minutes(30), ("invalid", "shelving needs a reason")),
        (
            "chen",
            "recalibrating",
            T0,
            ("invalid", "shelve until a time within 1d from now"),
        ),
        (
            "chen",
            "recalibrating",
            T0 + timedelta(hours=24, seconds=1),
            ("invalid", "shelve until a time within 1d from now"),
        ),
    ],
)
def test_a_shelve_is_refused(
    service: AlarmService,
    store: AlarmStore,
    recorder: Recorder,
    clock: FakeClock,
    by: str,
    reason: str,
    until: datetime,
    refusal: tuple[str, str],
) -> None:
    alarm = one(service, recorder, clock, event()).alarm
    with pytest.raises(Refused) as refused:
        service.shelve(alarm.id, by, reason, until)
    assert (refused.value.reason, refused.value.message) == refusal
    unchanged = store.get(alarm.id)
    assert unchanged is not None
    assert unchanged.shelved_until is None
    assert [a for a, *_ in trail(store, alarm)] == ["raised"]


def test_a_closed_alarm_cannot_be_shelved_and_an_unshelved_one_not_unshelved(
    service: AlarmService, recorder: Recorder, clock: FakeClock
) -> None:
    alarm = publish(service, recorder, clock, event(), clear(at=minutes(1)))[-1].alarm
    with pytest.raises(Refused) as not_shelved:
        service.unshelve(alarm.id, "chen")
    assert not_shelved.value.reason == "conflict"
    service.ack(alarm.id, "wang", Via.CONSOLE)
    with pytest.raises(Refused) as closed:
        service.shelve(alarm.id, "chen", "recalibrating", minutes(30))
    assert (closed.value.reason, closed.value.message) == (
        "conflict",
        f"alarm {alarm.id} is closed",
    )


# --- maintenance windows --------------------------------------------------------------------


def test_an_alarm_raised_inside_a_maintenance_window_is_recorded_as_suppressed(
    service: AlarmService, store: AlarmStore, recorder: Recorder, clock: FakeClock
) -> None:
    window = service.open_window(
        site="yunxi",
        room="B2-01",
        sensor=None,
        starts_at=T0,
        ends_at=minutes(120),
        reason="HVAC service",
        by="chen",
    )
    assert store.windows() == [window]
    inside = one(service, recorder, clock, event(at=minutes(10))).alarm
    elsewhere = one(service, recorder, clock, fire(at=minutes(11), room="B2-02")).alarm
    assert inside.suppressed_by == window.id
    assert inside.state is AlarmState.UNACKED  # recorded all the same: on the desk's list
    assert elsewhere.suppressed_by is None
    assert (
        "suppressed",
        "system",
        Via.SYSTEM,
        minutes(10),
        f"maintenance window {window.id} by chen: HVAC service",
    ) in trail(store, inside)

    clock.set(minutes(120))
    service.tick()  # the window ends
    after = store.get(inside.id)
    assert after is not None
    assert after.suppressed_by is None
    assert trail(store, inside)[-1] == (
        "unsuppressed",
        "system",
        Via.SYSTEM,
        minutes(120),
        f"window {window.id} ended",
    )
    assert store.windows() == []
    assert [w.id for w in store.windows(include_ended=True)] == [window.id]
    later = one(
        service, recorder, clock, event("temperature_limits:yunxi:b201-th1", at=minutes(121))
    )
    assert later.alarm.suppressed_by is None


def test_a_window_for_one_sensor_leaves_its_rooms_other_sensors_alone(
    service: AlarmService, recorder: Recorder, clock: FakeClock
) -> None:
    window = service.open_window(
        site="yunxi",
        room="B2-01",
        sensor="b201-th1",
        starts_at=T0,
        ends_at=minutes(60),
        reason="probe swap",
        by="chen",
    )
    probe = one(service, recorder, clock, event(at=minutes(1))).alarm
    other = one(
        service,
        recorder,
        clock,
        event("humidity_limits:yunxi:b201-th2", at=minutes(2), sensor="b201-th2"),
    ).alarm
    assert (probe.suppressed_by, other.suppressed_by) == (window.id, None)


def test_closing_a_window_early_ends_its_suppression_now(
    service: AlarmService, store: AlarmStore, recorder: Recorder, clock: FakeClock
) -> None:
    window = service.open_window(
        site="yunxi",
        room=None,
        sensor=None,
        starts_at=T0,
        ends_at=minutes(240),
        reason="fire system test",
        by="chen",
    )
    alarm = one(service, recorder, clock, fire(at=minutes(5))).alarm
    assert alarm.suppressed_by == window.id  # a site-wide window covers every room
    clock.set(minutes(30))
    closed = service.close_window(window.id, "chen")
    assert closed.ends_at == minutes(30)
    after = store.get(alarm.id)
    assert after is not None
    assert after.suppressed_by is None
    assert store.windows() == []


@pytest.mark.parametrize(
    ("room", "ends_at", "reason", "message"),
    [
        ("B9-99", minutes(60), "service", "unknown room 'B9-99' in yunxi"),
        ("B2-01", None, "service", "a maintenance window needs an end"),
        ("B2-01", T0, "service", "a maintenance window must end after it starts"),
        ("B2-01", minutes(60), " ", "a maintenance window needs a reason"),
    ],
)
def test_a_window_is_refused(
    service: AlarmService,
    store: AlarmStore,
    room: str,
    ends_at: datetime | None,
    reason: str,
    message: str,
) -> None:
    with pytest.raises(Refused) as refused:
        service.open_window(
            site="yunxi",
            room=room,
            sensor=None,
            starts_at=T0,
            ends_at=ends_at,
            reason=reason,
            by="chen",
        )
    assert (refused.value.reason, refused.value.message) == ("invalid", message)
    assert store.windows(include_ended=True) == []


# --- the feed and the log -------------------------------------------------------------------


def test_the_feed_delivers_a_change_published_from_another_thread() -> None:
    feed = AlarmFeed()
    change = AlarmChange(
        Change.RAISED,
        Alarm(
            id=7,
            key=FIRE,
            rule="fire",
            category=Category.FIRE,
            severity=Severity.CRITICAL,
            state=AlarmState.UNACKED,
            site="yunxi",
            room="B2-01",
            sensor="b201-smoke1",
            message_zh="B2-01 火警",
            message_en="Fire alarm in B2-01",
            raised_at=T0,
            last_at=T0,
            cleared_at=None,
            count=1,
            last_value="smoke",
        ),
    )

    async def watch() -> AlarmChange:
        sub = feed.subscribe()
        try:
            ingest = threading.Thread(target=ConsoleListener(feed).notify, args=(change,))
            ingest.start()
            received = await asyncio.wait_for(sub.queue.get(), timeout=5)
            ingest.join()
            return received
        finally:
            feed.unsubscribe(sub)

    assert asyncio.run(watch()) is change


def test_the_console_listener_feeds_the_service_changes(
    sqlite_store: AlarmStore, facility: Facility, clock: FakeClock
) -> None:
    feed = AlarmFeed()

    async def watch() -> list[AlarmChange]:
        sub = feed.subscribe()
        try:
            service = AlarmService(sqlite_store, facility, clock, listeners=[ConsoleListener(feed)])
            service.start(deliver=False)
            service.publish([fire(), clear(FIRE)])
            return [await asyncio.wait_for(sub.queue.get(), timeout=5) for _ in range(2)]
        finally:
            feed.unsubscribe(sub)

    received = asyncio.run(watch())
    assert [(c.change, c.alarm.key) for c in received] == [
        (Change.RAISED, FIRE),
        (Change.CLEARED, FIRE),
    ]


def test_the_log_listener_writes_one_line_per_change(
    sqlite_store: AlarmStore,
    facility: Facility,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    recorder = Recorder()
    service = start(sqlite_store, facility, clock, recorder)
    raised = one(service, recorder, clock, fire())
    with caplog.at_level(logging.INFO, logger="lantai.alarms"):
        LogListener().notify(raised)
    (record,) = caplog.records
    line = record.getMessage()
    assert record.levelno == logging.WARNING
    assert FIRE in line
    assert "critical" in line
    assert "Fire alarm in B2-01: smoke detector" in line
    assert f"#{raised.alarm.id}" in line

    caplog.clear()
    cleared = one(service, recorder, clock, clear(FIRE, at=minutes(5)))
    with caplog.at_level(logging.INFO, logger="lantai.alarms"):
        LogListener().notify(cleared)
    (record,) = caplog.records
    assert record.levelno == logging.INFO
    assert "alarm cleared" in record.getMessage()
