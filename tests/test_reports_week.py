"""A week of an archive on a fake clock, through the real services, and the weekly report.

The inspection service (the templates of tests/test_inspection_common.py: B2-04 patrolled
08:30–10:00 and 16:30–17:30, floor F3 checked on Wednesdays 09:00–17:00) creates the
tasks and sends its alarms into the real alarm service; people answer, sign, miss, and
close a hazard with re-inspection. On Wednesday at noon the weekly report shows it all.
Times are Shanghai wall times; 5 January 2026 is a Monday.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pytest

from alerts.models import Via
from alerts.store import AlarmStore
from console.reports.compute import ReportBuilder
from console.reports.html import render_html
from console.reports.periods import PeriodKind
from inspections.models import HazardState, ItemKind, PhotoRule, Result, Task, TaskStatus
from inspections.service import InspectionService
from inspections.store import InspectionStore
from sensors.clock import FakeClock
from sensors.events import Category, Severity
from sensors.facility import Facility
from tests.console_server import Console, console_stores
from tests.test_inspection_common import JPEG, ROOM, SITE, local, templates


@dataclass
class Week:
    console: Console
    inspections: InspectionService

    @property
    def clock(self) -> FakeClock:
        return self.console.clock

    def at(self, when: datetime) -> None:
        """Move the clock on and tick, as the scheduler does."""
        self.clock.set(when)
        self.inspections.tick()

    def task(self, day: int, hour: int, room: str | None = ROOM) -> Task:
        """The task of 2026-01-``day`` whose window opens at ``hour`` (B2-04, or F3's)."""
        found = [
            t
            for t in self.inspections.tasks_for_day(SITE, date(2026, 1, day))
            if t.room == room and t.window_start in (local(day, hour, 30), local(day, hour))
        ]
        assert len(found) == 1, found
        return found[0]

    def do(
        self, task: Task, by: str, when: datetime, *, fail: str | None = None, note: str = ""
    ) -> int | None:
        """Answer every item (``fail`` fails that one), sign off; returns a hazard opened."""
        self.clock.set(when)
        hazard = None
        for item in task.items:
            value = 50.0 if item.kind is ItemKind.READING else None
            result = Result.FAIL if item.key == fail else Result.PASS
            tag = f"{task.id}-{item.key}"
            answered = self.inspections.answer(
                task.id, item.key, result, value, note, by, when, tag
            )
            hazard = answered.hazard_id or hazard
            if item.photo is PhotoRule.REQUIRED:
                self.inspections.add_photo(
                    task.id, item.key, JPEG, "image/jpeg", by, when, f"{tag}-p"
                )
        self.inspections.sign_off(task.id, by, when, None, f"{task.id}-sign")
        return hazard


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(local(4, 23))


@pytest.fixture
def week(tmp_path: Path, facility: Facility, clock: FakeClock) -> Iterator[Week]:
    with console_stores(tmp_path, facility, clock) as console:
        store = InspectionStore(console.alarms.engine)
        store.start()
        service = InspectionService(store, facility, templates(facility), clock, console.service)
        yield Week(console, service)


def test_the_weekly_report_shows_the_week_as_it_happened(week: Week) -> None:
    # Monday: the morning patrol on time; the afternoon one is missed and raises an alarm,
    # which the desk acknowledges a quarter of an hour later.
    week.at(local(5, 0))
    week.do(week.task(5, 8), "wang", local(5, 9, 5))
    for when in (local(5, 17), local(5, 17, 30)):
        week.at(when)
    [overdue] = [
        a
        for a in week.console.alarms.list(states=None, site=SITE)
        if a.rule == "inspection_overdue"
    ]
    week.clock.set(local(5, 17, 45))
    week.console.service.ack(overdue.id, "zhao", Via.CONSOLE)
    # Tuesday: the doors fail in the morning patrol; the hazard is assigned, rectified and
    # accepted on re-inspection. Monday's afternoon patrol is done late; Tuesday's is missed.
    week.at(local(6, 0))
    hazard = week.do(week.task(6, 8), "wang", local(6, 8, 50), fail="doors", note="北窗锁扣损坏")
    assert hazard is not None
    week.do(week.task(5, 16), "wang", local(6, 9, 30))
    week.clock.set(local(6, 9, 40))
    week.inspections.assign(hazard, "he", local(7, 17), "chen")
    week.clock.set(local(6, 15))
    week.inspections.rectify(hazard, "更换锁扣", "he")
    week.clock.set(local(6, 16))
    week.inspections.reinspect(hazard, True, "chen", "合格")
    for when in (local(6, 16, 50), local(6, 17, 30)):
        week.at(when)
    # Wednesday: nobody does the morning patrol; the floor check is done before noon.
    week.at(local(7, 0))
    for when in (local(7, 9, 45), local(7, 10)):
        week.at(when)
    week.do(week.task(7, 9, room=None), "chen", local(7, 11))
    week.at(local(7, 12))

    builder = ReportBuilder(
        week.console.facility,
        week.clock,
        week.console.readings,
        AlarmStore(week.console.alarms.engine),
        week.inspections,
    )
    report = builder.build(SITE, PeriodKind.WEEKLY)

    tasks = report.inspections
    assert tasks is not None
    counts = {c.cadence: (c.total, c.on_time, c.late, c.missed, c.open) for c in tasks.by_cadence}
    # Wednesday afternoon's patrol has not opened yet: it is not counted.
    assert counts == {"daily": (5, 2, 1, 2, 0), "weekly": (1, 1, 0, 0, 0)}
    assert [t.window_start for t in tasks.missed] == [local(6, 16, 30), local(7, 8, 30)]
    assert [(t.window_start, t.late_by_s) for t in tasks.late] == [(local(5, 16, 30), 16 * 3600)]
    hazards = report.hazards
    assert hazards is not None
    assert (hazards.total.opened, hazards.total.closed, hazards.total.still_open) == (1, 1, 0)
    [danger] = [g for g in hazards.by_grade if g.opened]
    assert (danger.grade, danger.closed) == ("danger", 1)
    found = week.inspections.hazard(hazard)
    assert found is not None
    assert found.state is HazardState.ACCEPTED
    # Three patrols went overdue and each raised an inspection alarm; one was acknowledged
    # after 15 minutes. The reminders before each window closed are counted apart.
    [group] = [g for g in report.alarms.groups if g.category is Category.INSPECTION]
    assert (group.severity, group.count, group.acknowledged) == (Severity.MEDIUM, 3, 1)
    assert group.max_ack_s == 15 * 60
    reminders = [
        a for a in week.console.alarms.list(states=None, site=SITE) if a.rule == "inspection_due"
    ]
    assert reminders
    assert report.alarms.reminders == len(reminders)
    assert report.alarms.total.count == 3
    page = render_html(report)
    assert "漏检" in page
    assert "巡查检查" in page
    assert "季考核意见与签字" not in page
    assert [t.status for t in tasks.missed] == [TaskStatus.MISSED, TaskStatus.MISSED]
