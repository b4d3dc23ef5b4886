"""Alarms and InfluxDB, both ways: every alarm change becomes an alarm_event point, and the
sink's own trouble (spool nearly full, low disk, long outage) raises and clears an alarm.

A real AlarmService on SQLite; the forwarder writes to tests/fake_influx.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from alerts.models import AlarmState, Via
from alerts.service import AlarmService
from alerts.store import AlarmStore
from alerts.tables import create_state_engine
from collectors.influx_forwarder import InfluxForwarder, spool_path_for
from collectors.influx_lines import LineEncoder
from collectors.influx_writer import InfluxClientWriter
from collectors.sqlite_store import SqliteReadingStore
from lantai.influx_alarms import InfluxAlarmListener
from lantai.influx_health import RULE, InfluxHealthAlarm
from sensors.clock import FakeClock, to_ns
from sensors.events import AlarmEvent, Category, Severity, Transition
from sensors.facility import Facility
from tests.fake_influx import FakeInflux, fake_influx  # noqa: F401

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


class Rig:
    def __init__(self, facility: Facility, tmp: Path, fake: FakeInflux) -> None:
        self.clock = FakeClock(T0)
        self.fake = fake
        self.free = [10**12]
        self.readings = SqliteReadingStore(tmp / "readings.db")
        self.readings.start()
        settings = fake.settings(spool_max_points=10, min_free_disk_mb=100)
        self.forwarder = InfluxForwarder(
            settings,
            self.readings,
            spool_path_for(self.readings.path),
            LineEncoder(facility),
            InfluxClientWriter(settings),
            self.clock,
            disk_free=lambda _: self.free[0],
        )
        self.forwarder.open()
        self.engine = create_state_engine(f"sqlite:///{tmp / 'state.db'}")
        self.store = AlarmStore(self.engine)
        self.alarms = AlarmService(
            self.store,
            facility,
            self.clock,
            listeners=[InfluxAlarmListener(self.forwarder, self.clock)],
        )
        self.alarms.start(deliver=False)
        self.health = InfluxHealthAlarm(self.forwarder, self.alarms, facility, self.clock)

    def drain(self) -> None:
        while self.forwarder.step() != self.forwarder.settings.flush_interval_s:
            pass

    def close(self) -> None:
        self.alarms.stop()
        self.forwarder.stop()
        self.readings.stop()
        self.engine.dispose()


@pytest.fixture
def rig(facility: Facility, tmp_path: Path, fake_influx: FakeInflux) -> Iterator[Rig]:  # noqa: F811
    made = Rig(facility, tmp_path, fake_influx)
    yield made
    made.close()


def _smoke(at: datetime, transition: Transition) -> AlarmEvent:
    return AlarmEvent(
        key="fire:yunxi:B2-01",
        transition=transition,
        rule="fire",
        category=Category.FIRE,
        severity=Severity.CRITICAL,
        site="yunxi",
        room="B2-01",
        sensor="b201-smoke1",
        at=at,
        message_zh="B2-01 火警",
        message_en="Fire in B2-01",
        value="b201-smoke1",
    )


def test_each_alarm_change_is_one_point_stamped_when_it_happened(rig: Rig) -> None:
    raised_at = T0.replace(second=5)
    rig.alarms.publish([_smoke(raised_at, Transition.RAISE)])
    (alarm,) = rig.store.list(states=(AlarmState.UNACKED,))
    rig.clock.advance(60)
    rig.alarms.ack(alarm.id, "wang", via=Via.CONSOLE)
    rig.clock.advance(60)
    rig.alarms.publish([_smoke(rig.clock.now(), Transition.CLEAR)])
    rig.drain()
    tags = "alarm_event,site=yunxi,room=B2-01,sensor=b201-smoke1,rule=fire,category=fire"
    texts = 'message_zh="B2-01 火警",message_en="Fire in B2-01",value="b201-smoke1"'
    assert rig.fake.accepted == [
        (
            f'{tags},severity=critical,change=raised alarm_id={alarm.id}i,state="unacked",'
            f"{texts} {to_ns(raised_at)}"
        ),
        (
            f'{tags},severity=critical,change=acked alarm_id={alarm.id}i,state="acked",'
            f'{texts},by="wang" {to_ns(T0) + 60 * 10**9}'
        ),
        (
            f'{tags},severity=critical,change=closed alarm_id={alarm.id}i,state="closed",'
            f"{texts} {to_ns(T0) + 120 * 10**9}"
        ),
    ]


def test_the_sink_raises_its_alarm_when_nearly_full_and_clears_it_after(rig: Rig) -> None:
    rig.health.check()  # healthy: nothing raised, nothing to clear
    assert rig.store.list(states=(AlarmState.UNACKED,)) == []
    rig.fake.outage(503)
    rig.free[0] = 10 * 1024 * 1024
    rig.forwarder.step()
    rig.health.check()
    (alarm,) = rig.store.list(states=(AlarmState.UNACKED,))
    assert (alarm.rule, alarm.key, alarm.category, alarm.severity) == (
        RULE,
        f"{RULE}:yunxi",
        Category.SYSTEM,
        Severity.HIGH,
    )
    assert alarm.message_en == ("Monitoring data export impaired: 10 MB free on the store's disk")
    rig.free[0] = 10**12
    rig.fake.restore()
    rig.drain()
    rig.health.check()
    (cleared,) = rig.store.list(states=(AlarmState.RTN_UNACKED,))
    assert cleared.id == alarm.id
