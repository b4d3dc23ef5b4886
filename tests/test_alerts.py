"""Alarm records (on SQLite and, when one answers, PostgreSQL), the service, the feed, the log."""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from alerts.feed import AlarmFeed
from alerts.models import Alarm, AlarmChange, AlarmState, Change
from alerts.notifiers.console import ConsoleNotifier
from alerts.notifiers.log import LogNotifier
from alerts.service import AlarmService
from alerts.store import AlarmStore, alarms, create_state_engine
from sensors.clock import FakeClock
from sensors.events import AlarmEvent, Category, Severity, Transition

# Trust authentication on the development machine; CI may have no server yet.
POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"

T0 = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)


def event(
    key: str = "humidity_limits:yunxi:b201-th1",
    transition: Transition = Transition.RAISE,
    *,
    at: datetime = T0,
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
        room="B2-01",
        sensor="b201-th1",
        at=at,
        message_zh="B2-01 相对湿度 60.1%RH，高于上限 60%RH",
        message_en=message_en,
        value=value,
    )


def fire(at: datetime = T0) -> AlarmEvent:
    return event(
        "fire:yunxi:B2-01",
        at=at,
        value="smoke",
        severity=Severity.CRITICAL,
        category=Category.FIRE,
        message_en="Fire alarm in B2-01: smoke detector b201-smoke1",
    )


def silent(at: datetime = T0) -> AlarmEvent:
    return event(
        "sensor_silent:yunxi:b201-th1",
        at=at,
        value=3.2,
        severity=Severity.LOW,
        category=Category.TROUBLE,
        message_en="Sensor b201-th1 in B2-01 silent for 3 min",
    )


def clear(key: str = "humidity_limits:yunxi:b201-th1", at: datetime = T0) -> AlarmEvent:
    return event(key, Transition.CLEAR, at=at, value=None, message_en="Back to normal in B2-01")


# --- state databases ------------------------------------------------------------------------


def postgres_url(schema: str, *, timezone: str | None = None) -> str:
    """The test server, with unqualified tables resolved in ``schema``."""
    options = f"-csearch_path={schema}"
    if timezone is not None:
        options += f" -ctimezone={timezone}"
    return f"{POSTGRES_URL}?options={quote(options)}"


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """A fresh schema on the PostgreSQL test server, dropped afterwards; skip if none answers."""
    try:
        admin = sa.create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
    except ImportError as exc:  # pragma: no cover - the driver is a test dependency
        pytest.skip(f"PostgreSQL driver not installed ({exc}); pip install 'psycopg[binary]'")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        pytest.skip(f"no PostgreSQL server answers at {POSTGRES_URL}: {exc.orig}")
    schema = f"lantai_test_{uuid.uuid4().hex[:12]}"
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield schema
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
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
    s = AlarmStore(state_engine)
    s.start()
    return s


def applied(store: AlarmStore, e: AlarmEvent) -> AlarmChange:
    change = store.apply(e)
    assert change is not None, e
    return change


def assert_utc(when: datetime | None) -> None:
    assert when is not None
    assert when.tzinfo is not None, "naive datetime"
    assert when.utcoffset() == timedelta(0), f"{when.isoformat()} is not UTC"


# --- AlarmStore -----------------------------------------------------------------------------


def test_a_first_raise_creates_an_active_alarm(store: AlarmStore) -> None:
    change = applied(store, event())
    assert change.change is Change.RAISED
    alarm = change.alarm
    assert alarm.state is AlarmState.ACTIVE
    assert alarm.count == 1
    assert alarm.key == "humidity_limits:yunxi:b201-th1"
    assert alarm.rule == "humidity_limits"
    assert (alarm.category, alarm.severity) == (Category.CLIMATE, Severity.MEDIUM)
    assert (alarm.site, alarm.room, alarm.sensor) == ("yunxi", "B2-01", "b201-th1")
    assert alarm.raised_at == alarm.last_at == T0
    assert alarm.cleared_at is None
    assert alarm.last_value == "60.1"
    assert store.get(alarm.id) == alarm
    assert store.active_keys() == {alarm.key}


def test_a_raise_while_active_repeats_the_same_alarm(store: AlarmStore) -> None:
    first = applied(store, event()).alarm
    later = T0 + timedelta(minutes=40)
    again = applied(
        store,
        event(at=later, value=62.4, message_en="Relative humidity 62.4%RH in B2-01"),
    )
    assert again.change is Change.REPEATED
    assert again.alarm.id == first.id
    assert again.alarm.count == 2
    assert again.alarm.last_value == "62.4"
    assert again.alarm.message_en == "Relative humidity 62.4%RH in B2-01"
    assert again.alarm.raised_at == T0
    assert again.alarm.last_at == later
    assert len(store.list()) == 1


def test_a_clear_closes_the_alarm(store: AlarmStore) -> None:
    raised = applied(store, event()).alarm
    later = T0 + timedelta(hours=2)
    cleared = applied(store, clear(at=later))
    assert cleared.change is Change.CLEARED
    assert cleared.alarm.id == raised.id
    assert cleared.alarm.state is AlarmState.CLEARED
    assert cleared.alarm.cleared_at == later
    assert cleared.alarm.raised_at == T0
    assert store.active_keys() == set()


def test_a_clear_for_a_key_without_an_active_alarm_changes_nothing(store: AlarmStore) -> None:
    assert store.apply(clear("fire:yunxi:B2-04")) is None
    applied(store, event())
    applied(store, clear())
    assert store.apply(clear()) is None  # cleared twice: the second is a no-op
    assert len(store.list()) == 1


def test_a_raise_after_a_clear_opens_a_new_alarm(store: AlarmStore) -> None:
    old = applied(store, event()).alarm
    applied(store, clear(at=T0 + timedelta(hours=1)))
    new = applied(store, event(at=T0 + timedelta(hours=3)))
    assert new.change is Change.RAISED
    assert new.alarm.id != old.id
    assert new.alarm.count == 1
    assert [a.id for a in store.list(state=AlarmState.ACTIVE)] == [new.alarm.id]
    (closed,) = store.list(state=AlarmState.CLEARED)
    assert closed.id == old.id
    assert closed.cleared_at == T0 + timedelta(hours=1)


def test_active_alarms_are_listed_most_urgent_first(store: AlarmStore) -> None:
    applied(store, event(at=T0))  # medium, oldest
    applied(store, silent(at=T0 + timedelta(minutes=1)))  # low
    applied(store, fire(at=T0 + timedelta(minutes=2)))  # critical, newest
    applied(store, event("temperature_limits:yunxi:b201-th1", at=T0 + timedelta(minutes=3)))
    applied(store, clear("temperature_limits:yunxi:b201-th1", at=T0 + timedelta(minutes=4)))

    active = store.list(state=AlarmState.ACTIVE)
    assert [a.severity for a in active] == [Severity.CRITICAL, Severity.MEDIUM, Severity.LOW]
    everything = store.list()
    assert [a.state for a in everything][-1] is AlarmState.CLEARED
    assert store.list(site="elsewhere") == []


def test_the_list_limit_keeps_the_most_urgent_alarms(store: AlarmStore) -> None:
    applied(store, fire(at=T0))
    for n in range(3):
        applied(store, event(f"sensor_silent:yunxi:s{n}", at=T0 + timedelta(minutes=n + 1)))
    top = store.list(state=AlarmState.ACTIVE, limit=2)
    assert top[0].key == "fire:yunxi:B2-01"


def test_times_come_back_timezone_aware_utc(store: AlarmStore) -> None:
    raised = applied(store, event()).alarm
    applied(store, clear(at=T0 + timedelta(minutes=5)))
    fetched = store.get(raised.id)
    assert fetched is not None
    listed = store.list()
    for alarm in (raised, fetched, *listed):
        assert_utc(alarm.raised_at)
        assert_utc(alarm.last_at)
    assert_utc(fetched.cleared_at)
    assert fetched.cleared_at == T0 + timedelta(minutes=5)


def test_an_aware_local_time_is_stored_as_the_same_instant(
    store: AlarmStore, backend: str, request: pytest.FixtureRequest
) -> None:
    shanghai = datetime(2026, 1, 5, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    alarm = applied(store, event(at=shanghai)).alarm
    assert alarm.raised_at == shanghai  # the same instant: 02:00 UTC


def test_times_are_utc_whatever_the_postgresql_session_time_zone(pg_schema: str) -> None:
    engine = create_state_engine(postgres_url(pg_schema, timezone="Asia/Shanghai"))
    try:
        s = AlarmStore(engine)
        s.start()
        alarm = applied(s, event()).alarm
        assert alarm.raised_at == T0
        assert_utc(alarm.raised_at)
    finally:
        engine.dispose()


def test_the_database_refuses_a_second_active_alarm_for_a_key(
    store: AlarmStore, state_engine: Engine
) -> None:
    key = "fire:yunxi:B2-01"
    applied(store, fire())
    applied(store, clear(key, at=T0 + timedelta(minutes=1)))
    applied(store, fire(at=T0 + timedelta(minutes=2)))
    with state_engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(sa.select(alarms))]
    copies = [{name: v for name, v in row.items() if name != "id"} for row in rows]
    cleared = next(r for r in copies if r["state"] == AlarmState.CLEARED.value)
    active = next(r for r in copies if r["state"] == AlarmState.ACTIVE.value)

    # Any number of cleared alarms per key: the unique index is partial.
    with state_engine.begin() as conn:
        conn.execute(alarms.insert().values(cleared))
    # But the database itself refuses a second active one, whatever the code above it does.
    with pytest.raises(sa.exc.IntegrityError), state_engine.begin() as conn:
        conn.execute(alarms.insert().values(active))
    assert store.active_keys() == {key}
    assert len(store.list()) == 3


# --- AlarmService ---------------------------------------------------------------------------


class RecordingNotifier:
    def __init__(self, name: str) -> None:
        self.name = name
        self.changes: list[AlarmChange] = []

    def notify(self, change: AlarmChange) -> None:
        self.changes.append(change)


class BrokenNotifier:
    name = "sms"

    def __init__(self) -> None:
        self.calls = 0

    def notify(self, change: AlarmChange) -> None:
        self.calls += 1
        raise ConnectionError("SMS gateway unreachable")


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[AlarmStore]:
    engine = create_state_engine(f"sqlite:///{tmp_path / 'state.db'}")
    s = AlarmStore(engine)
    s.start()
    yield s
    engine.dispose()


def test_the_service_tells_every_notifier_each_change_in_order(
    sqlite_store: AlarmStore,
) -> None:
    first, second = RecordingNotifier("first"), RecordingNotifier("second")
    service = AlarmService(sqlite_store, [first, second])
    service.publish([event(), event(at=T0 + timedelta(minutes=1), value=61.0)])
    service.publish([clear("fire:yunxi:B2-01"), fire(), clear(at=T0 + timedelta(minutes=30))])

    expected = [
        (Change.RAISED, "humidity_limits:yunxi:b201-th1"),
        (Change.REPEATED, "humidity_limits:yunxi:b201-th1"),
        (Change.RAISED, "fire:yunxi:B2-01"),
        (Change.CLEARED, "humidity_limits:yunxi:b201-th1"),
    ]
    assert [(c.change, c.alarm.key) for c in first.changes] == expected
    assert second.changes == first.changes
    assert first.changes[1].alarm.count == 2
    assert (service.stats.events, service.stats.changes) == (5, 4)
    assert service.stats.notify_failures == {}


def test_a_failing_notifier_does_not_stop_the_next_and_is_counted(
    sqlite_store: AlarmStore, caplog: pytest.LogCaptureFixture
) -> None:
    broken, after = BrokenNotifier(), RecordingNotifier("console")
    service = AlarmService(sqlite_store, [broken, after])
    with caplog.at_level(logging.ERROR, logger="alerts.service"):
        service.publish([fire(), clear("fire:yunxi:B2-01", at=T0 + timedelta(minutes=5))])

    assert [c.change for c in after.changes] == [Change.RAISED, Change.CLEARED]
    assert broken.calls == 2
    assert service.stats.notify_failures == {"sms": 2}
    assert sqlite_store.active_keys() == set()  # the record is kept whatever the channels do
    assert sum("notifier sms failed" in r.getMessage() for r in caplog.records) == 2


def test_the_feed_delivers_a_change_published_from_another_thread() -> None:
    feed = AlarmFeed()
    change = AlarmChange(
        Change.RAISED,
        Alarm(
            id=7,
            key="fire:yunxi:B2-01",
            rule="fire",
            category=Category.FIRE,
            severity=Severity.CRITICAL,
            state=AlarmState.ACTIVE,
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
            ingest = threading.Thread(target=ConsoleNotifier(feed).notify, args=(change,))
            ingest.start()
            received = await asyncio.wait_for(sub.queue.get(), timeout=5)
            ingest.join()
            return received
        finally:
            feed.unsubscribe(sub)

    assert asyncio.run(watch()) is change


def test_the_log_notifier_writes_one_line_per_change(
    sqlite_store: AlarmStore, caplog: pytest.LogCaptureFixture, clock: FakeClock
) -> None:
    raised = applied(sqlite_store, fire(at=clock.now()))
    with caplog.at_level(logging.INFO, logger="lantai.alarms"):
        LogNotifier().notify(raised)
    (record,) = caplog.records
    line = record.getMessage()
    assert record.levelno == logging.WARNING
    assert "fire:yunxi:B2-01" in line
    assert "critical" in line
    assert "Fire alarm in B2-01: smoke detector b201-smoke1" in line
    assert f"#{raised.alarm.id}" in line

    caplog.clear()
    cleared = applied(sqlite_store, clear("fire:yunxi:B2-01", at=clock.advance(300)))
    with caplog.at_level(logging.INFO, logger="lantai.alarms"):
        LogNotifier().notify(cleared)
    (record,) = caplog.records
    assert record.levelno == logging.INFO
    assert "cleared" in record.getMessage()
