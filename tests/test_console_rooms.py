"""A sensor never heard is offline only after the same grace the rules engine gives it."""

from __future__ import annotations

from datetime import timedelta

from collectors.sqlite_store import SensorLatest
from console.rooms import sensor_offline
from sensors.clock import FakeClock
from sensors.facility import Facility


def test_a_sensor_never_heard_gets_three_intervals_of_grace(
    facility: Facility, clock: FakeClock
) -> None:
    smoke = facility.sensor("yunxi", "b201-smoke1")
    assert smoke is not None
    assert smoke.interval == timedelta(minutes=5)
    now = clock.now()
    # Lantai started listening a minute ago: a 5-minute heartbeat may simply not be due.
    assert not sensor_offline(smoke, None, now, 3.0, now - timedelta(minutes=1))
    # Fifteen minutes and more without a word: offline, as the silence rule says too.
    assert sensor_offline(smoke, None, now, 3.0, now - timedelta(minutes=16))
    # Without a start time (a console on its own), never heard means offline.
    assert sensor_offline(smoke, None, now, 3.0)


def test_a_heard_sensor_is_judged_by_its_last_message_and_its_presence(
    facility: Facility, clock: FakeClock
) -> None:
    climate = facility.sensor("yunxi", "b201-th1")
    assert climate is not None
    now = clock.now()
    fresh = SensorLatest("yunxi", "b201-th1", now - timedelta(minutes=2), {}, None)
    stale = SensorLatest("yunxi", "b201-th1", now - timedelta(minutes=4), {}, None)
    said_offline = SensorLatest("yunxi", "b201-th1", now, {}, False)
    assert not sensor_offline(climate, fresh, now, 3.0, now)
    assert sensor_offline(climate, stale, now, 3.0, now)
    assert sensor_offline(climate, said_offline, now, 3.0, now)
