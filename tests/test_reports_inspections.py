"""The inspection and hazard sections of a report, from the real inspection store.

A week of an archive (Monday 5 to Sunday 11 January 2026, Asia/Shanghai; times are local),
written to the store as the inspection service writes it: daily patrols of B2-01 done on
time, missed, done late and still open; a weekly check; a rule's task; hazards found,
rectified and accepted, or left past their deadline. The report is made on Friday 09:00.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from alerts.store import AlarmStore
from console.reports.compute import ReportBuilder
from console.reports.inspection_summary import state_at
from console.reports.periods import PeriodKind
from console.reports.sources import InspectionReader
from inspections.models import Cadence, HazardGrade, HazardState, TaskSource, TaskStatus
from inspections.store import InspectionStore, items_to_json
from sensors.clock import FakeClock
from sensors.facility import Facility
from tests.console_server import SITE, Console, console_stores

SHANGHAI = ZoneInfo("Asia/Shanghai")
MONDAY = date(2026, 1, 5)
LAST_WEEK = date(2025, 12, 29)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=SHANGHAI).astimezone(UTC)


def day(n: int) -> date:
    """Monday + n days."""
    return MONDAY + timedelta(days=n)


@dataclass
class Archive:
    """The inspection store, written to as the service does."""

    store: InspectionStore
    console: Console

    def task(
        self,
        key: str,
        on: date,
        status: TaskStatus,
        *,
        window: tuple[int, int] = (8, 10),
        signed: datetime | None = None,
        cadence: Cadence | None = Cadence.DAILY,
        room: str | None = "B2-01",
        title: tuple[str, str] = ("日巡查：第一纸质档案库", "Daily patrol: Paper stack 1"),
    ) -> int:
        start, end = local(on, window[0], 30), local(on, window[1])
        with self.store.begin() as tx:
            task_id = tx.insert_task(
                key=key,
                source=(TaskSource.SCHEDULE if cadence else TaskSource.RULE).value,
                site=SITE,
                room=room,
                floor="F2",
                template=None if cadence is None else f"{cadence.value}-patrol",
                cadence=None if cadence is None else cadence.value,
                request_key=None if cadence else key,
                title_zh=title[0],
                title_en=title[1],
                role="guard",
                window_start=start,
                window_end=end,
                local_date=on,
                created_at=start,
                created_late=False,
                status=status.value,
                items=items_to_json(()),
                remind_at=end - timedelta(minutes=15),
                overdue_severity="medium",
                reminded=False,
                overdue_raised=status in (TaskStatus.MISSED, TaskStatus.LATE),
                signed_by=None if signed is None else "li",
                signed_at=signed,
            )
        assert task_id is not None
        return task_id

    def hazard(
        self,
        title: tuple[str, str],
        grade: HazardGrade,
        steps: list[tuple[datetime, HazardState]],
        deadline: datetime | None = None,
    ) -> int:
        """A hazard found at the first step's time that went through ``steps``."""
        found_at = steps[0][0]
        with self.store.begin() as tx:
            hazard_id = tx.insert_hazard(
                site=SITE,
                room="B2-01",
                task_id=None,
                item_key=None,
                title_zh=title[0],
                title_en=title[1],
                grade=grade.value,
                state=steps[-1][1].value,
                found_by="li",
                found_at=found_at,
                owner="wang",
                deadline=deadline,
                note="",
                overdue_raised=False,
            )
            assert hazard_id is not None
            for at, state in steps:
                tx.log_hazard(hazard_id, at, "wang", state)
        return hazard_id


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(local(LAST_WEEK, 0))


@pytest.fixture
def archive(tmp_path: Path, facility: Facility, clock: FakeClock) -> Iterator[Archive]:
    with console_stores(tmp_path, facility, clock) as console:
        store = InspectionStore(console.alarms.engine)  # one state database, as in service
        store.start()
        yield Archive(store, console)


def a_week(archive: Archive) -> dict[str, int]:
    """The week's tasks and hazards; returns the ids the assertions name."""
    a, ids = archive, {}
    a.task("daily:prev-sun", LAST_WEEK + timedelta(days=6), TaskStatus.MISSED)  # last week
    a.task("daily:mon", day(0), TaskStatus.DONE, signed=local(day(0), 9, 10))
    a.task("daily:tue", day(1), TaskStatus.DONE, signed=local(day(1), 9, 50))
    ids["missed"] = a.task("daily:wed", day(2), TaskStatus.MISSED)
    ids["late"] = a.task("daily:thu", day(3), TaskStatus.LATE, signed=local(day(3), 11))
    a.task("daily:fri", day(4), TaskStatus.OPEN)
    a.task("daily:sat", day(5), TaskStatus.OPEN)  # made ahead; not due on Friday morning
    a.task(
        "weekly:mon", day(0), TaskStatus.DONE, window=(14, 17), signed=local(day(0), 15),
        cadence=Cadence.WEEKLY, room=None, title=("周检查", "Weekly check"),
    )  # fmt: skip
    a.task(
        "rule:humidity_task:B2-03", day(1), TaskStatus.DONE, window=(3, 11),
        signed=local(day(1), 4), cadence=None, room="B2-03",
        title=("检查 B2-03 除湿机", "Check the dehumidifier in B2-03"),
    )  # fmt: skip
    leak = ("库顶渗水", "Water seeping from the ceiling")
    ids["closed"] = a.hazard(
        ("灭火器压力不足", "Extinguisher pressure low"),
        HazardGrade.GENERAL,
        [
            (local(day(0), 9, 5), HazardState.FOUND),
            (local(day(0), 10), HazardState.ASSIGNED),
            (local(day(1), 16), HazardState.RECTIFIED),
            (local(day(2), 10), HazardState.ACCEPTED),
        ],
        deadline=local(day(2), 18),
    )
    ids["overdue"] = a.hazard(
        leak,
        HazardGrade.HIGH,
        [(local(day(3), 11), HazardState.FOUND), (local(day(3), 11, 30), HazardState.ASSIGNED)],
        deadline=local(day(3), 18),
    )
    a.hazard(  # last week's, closed last week: not in this week's figures at all
        ("线路老化", "Old wiring"),
        HazardGrade.DANGER,
        [
            (local(LAST_WEEK, 10), HazardState.FOUND),
            (local(LAST_WEEK + timedelta(days=1), 9), HazardState.ACCEPTED),
        ],
    )
    ids["carried"] = a.hazard(  # last week's, still being worked on
        ("窗帘破损", "Torn blackout curtain"),
        HazardGrade.GENERAL,
        [(local(LAST_WEEK, 11), HazardState.FOUND), (local(LAST_WEEK, 12), HazardState.ASSIGNED)],
        deadline=local(day(10), 18),
    )
    ids["late_closed"] = a.hazard(  # last week's, accepted on Tuesday
        ("虫害诱捕器缺失", "Pest trap missing"),
        HazardGrade.GENERAL,
        [
            (local(LAST_WEEK, 14), HazardState.FOUND),
            (local(LAST_WEEK, 15), HazardState.ASSIGNED),
            (local(day(1), 10), HazardState.ACCEPTED),
            (local(day(1), 11), HazardState.FILED),
        ],
    )
    archive.console.clock.set(local(day(4), 9))
    return ids


def builder(archive: Archive) -> ReportBuilder:
    reader: InspectionReader = archive.store  # the store is the report's reader, as is
    console = archive.console
    return ReportBuilder(
        console.facility,
        console.clock,
        console.readings,
        AlarmStore(console.alarms.engine),
        reader,
    )


def test_patrols_on_time_late_missed_and_open_per_cadence(archive: Archive) -> None:
    ids = a_week(archive)

    report = builder(archive).build(SITE, PeriodKind.WEEKLY, MONDAY)

    tasks = report.inspections
    assert tasks is not None
    counts = {c.cadence: (c.total, c.on_time, c.late, c.missed, c.open) for c in tasks.by_cadence}
    assert counts == {"daily": (5, 2, 1, 1, 1), "weekly": (1, 1, 0, 0, 0), "rule": (1, 1, 0, 0, 0)}
    assert [c.cadence for c in tasks.by_cadence] == ["daily", "weekly", "rule"]
    total = tasks.total
    assert (total.total, total.on_time, total.late, total.missed, total.open) == (7, 4, 1, 1, 1)
    assert [t.id for t in tasks.missed] == [ids["missed"]]
    assert [t.id for t in tasks.late] == [ids["late"]]
    assert tasks.late[0].late_by_s == 3600  # window closed 10:00, signed 11:00
    assert tasks.late[0].title.zh == "日巡查：第一纸质档案库"


def test_hazards_opened_closed_open_and_overdue_by_grade(archive: Archive) -> None:
    ids = a_week(archive)

    report = builder(archive).build(SITE, PeriodKind.WEEKLY, MONDAY)

    hazards = report.hazards
    assert hazards is not None
    t = hazards.total
    assert (t.opened, t.closed, t.still_open, t.overdue) == (2, 2, 2, 1)
    grades = {c.grade: (c.opened, c.closed, c.still_open, c.overdue) for c in hazards.by_grade}
    assert grades == {
        HazardGrade.HIGH: (1, 0, 1, 1),
        HazardGrade.DANGER: (0, 0, 0, 0),
        HazardGrade.GENERAL: (1, 2, 1, 0),
    }
    # The ledger's open lines, 高危 first.
    assert [(h.id, h.grade, h.state, h.overdue) for h in hazards.open] == [
        (ids["overdue"], HazardGrade.HIGH, HazardState.ASSIGNED, True),
        (ids["carried"], HazardGrade.GENERAL, HazardState.ASSIGNED, False),
    ]


def test_last_weeks_report_reads_the_hazards_as_they_stood_then(archive: Archive) -> None:
    ids = a_week(archive)

    report = builder(archive).build(SITE, PeriodKind.WEEKLY, LAST_WEEK)

    assert report.complete
    hazards = report.hazards
    assert hazards is not None
    t = hazards.total
    # Found last week: three; closed last week: one; the pest trap was accepted only this
    # Tuesday, so at Sunday midnight it was still open, as the report said on Monday.
    assert (t.opened, t.closed, t.still_open, t.overdue) == (3, 1, 2, 0)
    assert {h.id: h.state for h in hazards.open} == {
        ids["carried"]: HazardState.ASSIGNED,
        ids["late_closed"]: HazardState.ASSIGNED,
    }
    tasks = report.inspections
    assert tasks is not None
    assert (tasks.total.total, tasks.total.missed) == (1, 1)


def test_a_hazards_state_at_a_time_comes_from_its_log(archive: Archive) -> None:
    ids = a_week(archive)
    hazard = archive.store.hazard(ids["closed"])
    assert hazard is not None
    assert state_at(hazard, local(day(0), 9)) is None  # not found yet
    assert state_at(hazard, local(day(0), 9, 6)) is HazardState.FOUND
    assert state_at(hazard, local(day(1), 16)) is HazardState.ASSIGNED  # "before", not at
    assert state_at(hazard, local(day(1), 16, 1)) is HazardState.RECTIFIED
    assert state_at(hazard, local(day(6), 0)) is HazardState.ACCEPTED
