"""Lantai restarts in the middle of an incident (Asia/Shanghai times).

A restart is a new process: a new RulesEngine on the same facility, rule file and state
database (SQLite in tmp_path, as the service runs it), started after some downtime. It must
neither lose what was pending nor raise again what was raised (issue 3), and the minutes it
was down are not anyone's silence.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from alerts.store import create_state_engine
from rules.persistence import MemoryStateStore, SqlStateStore
from sensors.clock import FakeClock
from sensors.facility import Facility
from tests.scenarios import Timeline, Values, example_rules, local


@pytest.fixture
def state_store(tmp_path: Path) -> Iterator[SqlStateStore]:
    engine = create_state_engine(f"sqlite:///{tmp_path / 'state.db'}")
    store = SqlStateStore(engine)
    store.start()
    yield store
    engine.dispose()


def _incident(minute: int) -> dict[str, Values]:
    """The night's script, by minute since 01:00 (see the log in the test)."""
    out: dict[str, Values] = {"b201-th1": {"humidity": 59.5 if minute < 30 else 61.0}}
    if minute >= 5:
        out["b204-smoke1"] = {"smoke": True}
    if minute == 20:
        out["b202-th1"] = {"temperature": 17.0}
    elif minute >= 40:
        out["b202-th1"] = {"temperature": 21.5}
    return out


@pytest.mark.parametrize("crash", [False, True], ids=["stopped", "killed"])
def test_a_restart_in_the_middle_of_the_night(
    facility: Facility, clock: FakeClock, state_store: SqlStateStore, crash: bool
) -> None:
    # 01:00  B2-01's th1 reads 59.5 %RH, just under the paper stack's 60 %.
    # 01:00  b203-heat (B2-03) stops reporting.
    # 01:05  b204-smoke1 (B2-04) trips and stays in alarm.
    # 01:20  B2-02's th1 dips to 17.0 °C for one reading (the day's low, 2 °C under 19.0).
    # 01:30  B2-01's th1 reads 61.0 %: its 10-minute delay starts.
    # 01:36  Lantai is restarted (stopped, or killed after its last 10-second snapshot)
    #        and is back at 01:39:30, three and a half minutes later.
    # 01:40  B2-02's th1 reads 21.5 °C: 4.5 °C above the day's low.
    # 01:50  b203-heat reports again.
    clock.set(local(facility, "2026-01-06 01:00"))
    site = Timeline(facility, clock, rules=example_rules(facility), state_store=state_store)
    site.start()
    quiet = {"b203-heat"}
    site.run(until=local(facility, "2026-01-06 01:36"), script=_incident, quiet=quiet)
    before = site.record.log(facility)
    site.restart(down=timedelta(minutes=3, seconds=30), crash=crash)
    site.run(until=local(facility, "2026-01-06 01:49:59"), script=_incident, quiet=quiet)
    site.run(until=local(facility, "2026-01-06 02:00"), script=_incident)

    assert before == [
        ("01:03:10", "raise", "sensor_silent:yunxi:b203-heat"),
        ("01:05:00", "raise", "fire:yunxi:B2-04"),
    ]
    assert site.record.log(facility) == [
        *before,
        # Pending since 01:30, restored: raised at 01:40, ten minutes in; not lost (no
        # alarm) and not started over by the first reading after the restart (01:50).
        ("01:40:00", "raise", "humidity_limits:yunxi:b201-th1"),
        # The window kept the 17.0 °C of 01:20: 21.5 °C makes a 4.5 °C swing (> 4 °C).
        ("01:40:00", "raise", "temperature_swing:yunxi:b202-th1"),
        # Still known to be silent: not raised again (01:42:40), cleared when it reports.
        ("01:50:00", "clear", "sensor_silent:yunxi:b203-heat"),
        # Not here: the fire (still in alarm, raised once), and no sensor_silent for the
        # 39 sensors whose last reading was at 01:36, 3.5 minutes before the new process
        # started: the downtime is not their silence.
    ]
    assert site.engine.stats.restored_states > 0


def test_a_restart_with_a_fresh_state_database_would_lose_and_repeat(
    facility: Facility, clock: FakeClock
) -> None:
    # The counterpart of the test above, so that it shows what the state store is for:
    # the same night with the state database emptied at the restart.
    clock.set(local(facility, "2026-01-06 01:00"))
    store = MemoryStateStore()
    site = Timeline(facility, clock, rules=example_rules(facility), state_store=store)
    site.start()
    quiet = {"b203-heat"}
    site.run(until=local(facility, "2026-01-06 01:36"), script=_incident, quiet=quiet)
    store.saved.clear()  # nothing saved: as if the database were lost with the process
    site.restart(down=timedelta(minutes=3, seconds=30), crash=True)
    site.run(until=local(facility, "2026-01-06 01:50"), script=_incident, quiet=quiet)

    assert site.record.log(facility)[2:] == [
        # The fire is raised a second time, b203-heat's silence too (3 minutes after the
        # start), the delay starts over at 01:40 and B2-02 has no swing: its 17.0 °C is gone.
        ("01:40:00", "raise", "fire:yunxi:B2-04"),
        ("01:42:40", "raise", "sensor_silent:yunxi:b203-heat"),
        ("01:50:00", "raise", "humidity_limits:yunxi:b201-th1"),
    ]


def test_a_restart_during_a_broker_outage(
    facility: Facility, clock: FakeClock, state_store: SqlStateStore
) -> None:
    clock.set(local(facility, "2026-01-06 03:00"))
    site = Timeline(facility, clock, rules=example_rules(facility), state_store=state_store)
    site.start()
    site.run(until=local(facility, "2026-01-06 03:05"))
    # 03:05  the broker goes down; 03:10 the operator restarts Lantai, back at 03:11,
    #        and by then the broker is up again
    site.healthy = False
    site.run(until=local(facility, "2026-01-06 03:10"), reporting=False)
    site.restart(down=timedelta(minutes=1))
    site.healthy = True
    site.run(until=local(facility, "2026-01-06 03:30"))

    assert site.record.log(facility) == [
        ("03:05:50", "raise", "monitoring_degraded:yunxi"),
        ("03:11:10", "clear", "monitoring_degraded:yunxi"),
    ]
