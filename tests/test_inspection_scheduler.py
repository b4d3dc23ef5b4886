"""APScheduler wiring with a real BackgroundScheduler and a SQLite job store: the jobs are
persisted, a restart finds them, a run missed while Lantai was down runs once at start,
and the service's tick (not the scheduler) makes sure nothing is created twice.

The scheduler runs on the wall clock (APScheduler's own); the service on a fake clock.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.engine import Engine

from alerts.tables import create_state_engine
from inspections.scheduler import JOB_TABLE, TIMER_JOB, InspectionScheduler, Wakeup
from sensors.clock import FakeClock
from sensors.facility import Facility
from tests.test_inspection_common import (
    SHANGHAI,
    TEMPLATES,
    RecordingSink,
    local,
    make_service,
)

PATROL_JOB = "inspection:patrol:yunxi"
WEEKLY_JOB = "inspection:weekly:yunxi"


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'state.db'}"


@pytest.fixture
def engine(url: str) -> Iterator[Engine]:
    found = create_state_engine(url)
    yield found
    found.dispose()


def wait_for(scheduler: InspectionScheduler, job: str, count: int = 1) -> list[Wakeup]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        runs = [w for w in scheduler.wakeups if w.job == job]
        if len(runs) >= count:
            return runs
        time.sleep(0.02)
    raise AssertionError(f"{job} did not run {count} time(s): {scheduler.wakeups}")


def stored_rows(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return sorted(row.id for row in conn.execute(sa.text(f"SELECT id FROM {JOB_TABLE}")))


def make_overdue(engine: Engine, job_id: str, when: datetime) -> None:
    """As if Lantai had been down when ``job_id`` was due: its stored next run is ``when``.

    Straight through the job store: a scheduler started for this, even paused, would
    process the job as it shuts down and move it on.
    """
    store = SQLAlchemyJobStore(engine=engine, tablename=JOB_TABLE)
    store.start(BackgroundScheduler(timezone=UTC), "default")  # never started: no thread
    job = store.lookup_job(job_id)
    assert job is not None
    job.next_run_time = when
    store.update_job(job)


def test_jobs_persist_and_a_restart_runs_the_missed_wake_up_once(
    url: str, engine: Engine, facility: Facility
) -> None:
    clock = FakeClock(local(4, 23))
    first = InspectionScheduler(
        make_service(engine, facility, clock, RecordingSink()), engine, timer_seconds=3600
    )
    first.start()
    try:
        wait_for(first, TIMER_JOB)  # the start-up tick
        jobs = first.stored_jobs()
    finally:
        first.stop()
    assert set(jobs) == {PATROL_JOB, WEEKLY_JOB}
    patrol_next, weekly_next = jobs[PATROL_JOB], jobs[WEEKLY_JOB]
    assert patrol_next is not None
    assert weekly_next is not None
    # The triggers run in the site's zone: the start of a Shanghai day (a Wednesday).
    assert patrol_next.astimezone(SHANGHAI).strftime("%H:%M:%S") == "00:00:00"
    assert weekly_next.astimezone(SHANGHAI).strftime("%a %H:%M") == "Wed 00:00"
    assert stored_rows(engine) == [PATROL_JOB, WEEKLY_JOB]

    # Down over two runs of the patrol job; the service's clock is two days on.
    missed = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    make_overdue(engine, PATROL_JOB, missed)
    clock.set(local(6, 9))
    second_engine = create_state_engine(url)
    sink = RecordingSink()
    service = make_service(second_engine, facility, clock, sink)
    second = InspectionScheduler(service, second_engine, timer_seconds=3600)
    second.start()
    try:
        [run] = wait_for(second, PATROL_JOB)
        # Kept across the restart: the runs missed since (the stored one and the local
        # midnights after it) run once, as the latest of them (coalesced).
        assert missed < run.scheduled < run.ran_at
        assert run.scheduled.astimezone(SHANGHAI).strftime("%H:%M:%S") == "00:00:00"
        wait_for(second, TIMER_JOB)
        time.sleep(0.2)
        assert [w.job for w in second.wakeups].count(PATROL_JOB) == 1
        after = second.stored_jobs()
        next_patrol = after[PATROL_JOB]
        assert next_patrol is not None
        assert next_patrol > datetime.now(UTC)
        assert after[WEEKLY_JOB] == weekly_next  # untouched
    finally:
        second.stop()
        second_engine.dispose()
    assert stored_rows(engine) == [PATROL_JOB, WEEKLY_JOB]
    # Monday's and Tuesday's patrols, each once, the missed ones marked late.
    tasks = service.tasks_between("yunxi", local(5, 0), local(7, 0))
    assert len(tasks) == len({t.key for t in tasks}) == 4
    assert [t.created_late for t in tasks] == [True, True, True, False]
    assert service.tick().created == 0


def test_a_changed_template_gets_a_new_job_and_a_removed_one_loses_its_job(
    engine: Engine, facility: Facility
) -> None:
    clock = FakeClock(local(4, 23))
    first = InspectionScheduler(
        make_service(engine, facility, clock, RecordingSink()), engine, timer_seconds=3600
    )
    first.start()
    first.stop()
    # The weekly check moves to Friday; the patrol is dropped.
    weekly_only = "templates:\n  - id: weekly\n" + TEMPLATES.split("  - id: weekly\n", 1)[1]
    text = weekly_only.replace("weekday: wed", "weekday: fri")
    changed = make_service(engine, facility, clock, RecordingSink(), text)
    assert [t.id for t in changed.templates] == ["weekly"]
    second = InspectionScheduler(changed, engine, timer_seconds=3600)
    second.start()
    try:
        jobs = second.stored_jobs()
    finally:
        second.stop()
    assert set(jobs) == {WEEKLY_JOB}
    friday = jobs[WEEKLY_JOB]
    assert friday is not None
    assert friday.astimezone(SHANGHAI).strftime("%a %H:%M") == "Fri 00:00"
    assert stored_rows(engine) == [WEEKLY_JOB]
