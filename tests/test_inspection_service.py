"""The inspection service on a fake clock, as timelines of an archive's week (Shanghai).

The site is the example archive; the templates (tests/test_inspection_common.py) are a
daily patrol of the special-collections stack B2-04 (08:30–10:00 and 16:30–17:30) and a
weekly check of floor F3 on Wednesdays. 5 January 2026 is a Monday. The alarm sink keeps
the events the service publishes, so each test reads the exact AlarmEvents.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from alerts.models import AlarmState
from inspections.checklist import RULE_CHECKLIST
from inspections.errors import Refused
from inspections.models import (
    HazardGrade,
    HazardState,
    ItemKind,
    PhotoRule,
    Result,
    Task,
    TaskSource,
    TaskStatus,
)
from inspections.service import InspectionService, TickResult
from inspections.store import InspectionStore
from sensors.clock import FakeClock
from sensors.events import AlarmEvent, Category, Severity, TaskRequest, Transition
from sensors.facility import Facility
from tests.console_server import console_stores
from tests.test_alerts import pg_schema  # noqa: F401 - the fixture, for PostgreSQL runs
from tests.test_inspection_common import (
    JPEG,
    PNG,
    ROOM,
    SITE,
    RecordingSink,
    local,
    make_service,
    state_engine,
)

PLACE_ZH, PLACE_EN = "B2-04 特藏库", "B2-04 Special collections"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(local(4, 23))  # Sunday 23:00: the service starts the evening before


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
def engine(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Engine]:
    with state_engine("sqlite", tmp_path, request) as found:
        yield found


@pytest.fixture
def service(
    engine: Engine, facility: Facility, clock: FakeClock, sink: RecordingSink
) -> InspectionService:
    return make_service(engine, facility, clock, sink)


def at(clock: FakeClock, service: InspectionService, when: datetime) -> TickResult:
    """Move the clock to ``when`` and tick, as the scheduler would."""
    clock.set(when)
    return service.tick()


def patrol(service: InspectionService, day: int, hour: int) -> Task:
    """The B2-04 patrol of 2026-01-``day`` whose window opens at ``hour``:30."""
    [task] = [
        t
        for t in service.tasks_for_day(SITE, date(2026, 1, day), role="guard")
        if t.room == ROOM and t.window_start == local(day, hour, 30)
    ]
    return task


def fill(
    service: InspectionService,
    task: Task,
    by: str,
    when: datetime,
    tag: str,
    humidity: float = 50.0,
) -> None:
    """Answer every item as passed (a reading of ``humidity``), with the required photos."""
    for item in task.items:
        value = humidity if item.kind is ItemKind.READING else None
        service.answer(task.id, item.key, Result.PASS, value, "", by, when, f"{tag}-{item.key}")
        if item.photo is PhotoRule.REQUIRED:
            service.add_photo(task.id, item.key, JPEG, "image/jpeg", by, when, f"{tag}-photo")


def due_event(task: Task) -> AlarmEvent:
    return AlarmEvent(
        key=f"inspection-due:{task.id}",
        transition=Transition.RAISE,
        rule="inspection_due",
        category=Category.INSPECTION,
        severity=Severity.LOW,
        site=SITE,
        room=ROOM,
        sensor=None,
        at=local(5, 9, 30),
        message_zh=(
            f"巡查即将到期：{PLACE_ZH}「日巡查」须在 10:00 前完成签到（2026-01-05 08:30–10:00）"
        ),
        message_en=(
            f"Inspection due soon: Daily patrol in {PLACE_EN} must be signed off by 10:00 "
            "(2026-01-05 08:30–10:00)"
        ),
        value=str(task.id),
    )


def overdue_event(task: Task) -> AlarmEvent:
    return AlarmEvent(
        key=f"inspection-overdue:{task.id}",
        transition=Transition.RAISE,
        rule="inspection_overdue",
        category=Category.INSPECTION,
        severity=Severity.MEDIUM,
        site=SITE,
        room=ROOM,
        sensor=None,
        at=local(5, 10),
        message_zh=f"巡查逾期：{PLACE_ZH}「日巡查」未在规定时间（2026-01-05 08:30–10:00）内完成",
        message_en=(
            f"Inspection overdue: Daily patrol in {PLACE_EN} was not signed off in its window "
            "(2026-01-05 08:30–10:00)"
        ),
        value=str(task.id),
    )


# --- tasks appear on time ---------------------------------------------------------------


def test_a_week_of_tasks_appears_at_the_start_of_each_local_day(
    service: InspectionService, clock: FakeClock
) -> None:
    assert at(clock, service, local(4, 23)) == TickResult()  # Sunday's windows are over
    for day in range(5, 12):
        before = at(clock, service, local(day, 0) - timedelta(seconds=1))
        assert before.created == 0, day
        result = at(clock, service, local(day, 0))
        weekly = 1 if day == 7 else 0  # Wednesday
        assert (result.created, result.created_late) == (2 + weekly, 0), day
        tasks = service.tasks_for_day(SITE, date(2026, 1, day))
        assert [(t.template, t.room, t.floor, t.window_start, t.window_end) for t in tasks] == [
            ("patrol", ROOM, "F2", local(day, 8, 30), local(day, 10)),
            *([("weekly", None, "F3", local(day, 9), local(day, 17))] if weekly else []),
            ("patrol", ROOM, "F2", local(day, 16, 30), local(day, 17, 30)),
        ]
        for task in tasks:
            assert task.created_at == local(day, 0)
            assert not task.created_late
            assert task.source is TaskSource.SCHEDULE
            assert task.status is TaskStatus.OPEN
            assert task.local_date == date(2026, 1, day)
    humidity = patrol(service, 5, 8).items[0]
    # The room's own class limits (special collections: 45–55 %RH, JGJ 25-2010).
    assert (humidity.minimum, humidity.maximum, humidity.unit) == (45.0, 55.0, "%RH")
    assert [
        t.role for t in service.tasks_for_day(SITE, date(2026, 1, 7), role="stack_manager")
    ] == ["stack_manager"]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_restart_mid_week_creates_no_duplicates_and_the_missed_ones_late(
    backend: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    facility: Facility,
    clock: FakeClock,
) -> None:
    with state_engine(backend, tmp_path, request) as first_engine:
        sink = RecordingSink()  # the alarm pipeline outlives a restart of the service
        before = make_service(first_engine, facility, clock, sink)
        for moment in (local(4, 23), local(5, 0), local(6, 0)):
            at(clock, before, moment)
        assert len(before.tasks_between(SITE, local(5, 0), local(12, 0))) == 4
        # Lantai is down from Tuesday 00:05 until Thursday 09:00.
        clock.set(local(8, 9))
        with state_engine(backend, tmp_path, request) as second_engine:
            after = make_service(second_engine, facility, clock, sink)
            result = after.tick()
            # Wednesday's two patrols and weekly check, Thursday's two patrols.
            assert (result.created, result.created_late) == (5, 4)
            assert after.tick().created == 0
            assert before.tick().created == 0  # a second scheduler on the same data
            tasks = after.tasks_between(SITE, local(5, 0), local(12, 0))
            assert len(tasks) == len({t.key for t in tasks}) == 9
            late = {(t.template, t.window_start): t for t in tasks}
            for when in (local(7, 8, 30), local(7, 16, 30)):
                task = late[("patrol", when)]
                assert (task.created_late, task.created_at, task.status) == (
                    True,
                    local(8, 9),
                    TaskStatus.MISSED,
                )
            assert late[("weekly", local(7, 9))].created_late
            assert late[("patrol", local(8, 8, 30))].created_late  # its window had opened
            evening = late[("patrol", local(8, 16, 30))]
            assert (evening.created_late, evening.status) == (False, TaskStatus.OPEN)
            # Every window that closed unsigned raised its overdue alarm, once.
            raised = [e.key for e in sink.events if e.transition is Transition.RAISE]
            missed = [t for t in tasks if t.status is TaskStatus.MISSED]
            assert len(missed) == 7
            assert sorted(raised) == sorted(f"inspection-overdue:{t.id}" for t in missed)


# --- reminders, overdue alarms, sign-off -----------------------------------------------


def test_reminder_then_overdue_alarm_then_a_late_sign_off_clears_it(
    service: InspectionService, clock: FakeClock, sink: RecordingSink
) -> None:
    at(clock, service, local(5, 0))
    morning = patrol(service, 5, 8)
    assert at(clock, service, local(5, 9, 29)).reminded == 0
    assert sink.take() == []
    assert at(clock, service, local(5, 9, 30)).reminded == 1
    assert sink.take() == [due_event(morning)]
    assert at(clock, service, local(5, 9, 45)).reminded == 0  # once per task
    assert sink.take() == []
    assert at(clock, service, local(5, 10)).missed == 1
    assert sink.take() == [
        AlarmEvent(
            key=f"inspection-due:{morning.id}",
            transition=Transition.CLEAR,
            rule="inspection_due",
            category=Category.INSPECTION,
            severity=Severity.LOW,
            site=SITE,
            room=ROOM,
            sensor=None,
            at=local(5, 10),
            message_zh=f"{PLACE_ZH}「日巡查」的提醒由逾期告警接替",
            message_en=f"Reminder for Daily patrol in {PLACE_EN} replaced by the overdue alarm",
            value=str(morning.id),
        ),
        overdue_event(morning),
    ]
    assert service.task(morning.id).status is TaskStatus.MISSED  # type: ignore[union-attr]
    clock.set(local(5, 10, 20))
    fill(service, morning, "wang", local(5, 10, 20), "late")
    signed = service.sign_off(morning.id, "wang", local(5, 10, 20), "yunxi/B2-04", "late-sign")
    assert (signed.status, signed.signed_by, signed.signed_at, signed.checkpoint) == (
        TaskStatus.LATE,
        "wang",
        local(5, 10, 20),
        "yunxi/B2-04",
    )
    assert sink.take() == [
        AlarmEvent(
            key=f"inspection-overdue:{morning.id}",
            transition=Transition.CLEAR,
            rule="inspection_overdue",
            category=Category.INSPECTION,
            severity=Severity.MEDIUM,
            site=SITE,
            room=ROOM,
            sensor=None,
            at=local(5, 10, 20),
            message_zh=f"{PLACE_ZH}「日巡查」已由 wang 完成签到",
            message_en=f"Daily patrol in {PLACE_EN} signed off by wang",
            value=str(morning.id),
        )
    ]


def test_signed_off_in_its_window_raises_nothing(
    service: InspectionService, clock: FakeClock, sink: RecordingSink
) -> None:
    at(clock, service, local(5, 0))
    morning = patrol(service, 5, 8)
    clock.set(local(5, 9, 5))
    fill(service, morning, "wang", local(5, 9), "m")
    done = service.sign_off(morning.id, "wang", local(5, 9, 5), None, "m-sign")
    assert (done.status, done.synced_at) == (TaskStatus.DONE, local(5, 9, 5))
    for moment in (local(5, 9, 30), local(5, 10), local(5, 11)):
        at(clock, service, moment)
    assert sink.events == []


def test_signed_offline_in_the_window_and_synced_after_it_counts_as_done(
    service: InspectionService, clock: FakeClock, sink: RecordingSink
) -> None:
    at(clock, service, local(5, 0))
    morning = patrol(service, 5, 8)
    # In the basement at 09:10–09:15 with no signal; the phone keeps the answers.
    for moment in (local(5, 9, 30), local(5, 10)):
        at(clock, service, moment)
    assert [e.key for e in sink.take()] == [
        f"inspection-due:{morning.id}",
        f"inspection-due:{morning.id}",
        f"inspection-overdue:{morning.id}",
    ]
    clock.set(local(5, 10, 30))  # back upstairs: the queue is sent
    fill(service, morning, "wang", local(5, 9, 10), "offline")
    signed = service.sign_off(morning.id, "wang", local(5, 9, 15), "yunxi/B2-04", "offline-sign")
    assert (signed.status, signed.signed_at, signed.synced_at) == (
        TaskStatus.DONE,
        local(5, 9, 15),
        local(5, 10, 30),
    )
    assert all(a.answered_at == local(5, 9, 10) for a in signed.answers)
    [cleared] = sink.take()
    assert (cleared.key, cleared.transition) == (
        f"inspection-overdue:{morning.id}",
        Transition.CLEAR,
    )


def test_sign_off_refusals_say_what_is_missing_in_both_languages(
    service: InspectionService, clock: FakeClock
) -> None:
    at(clock, service, local(5, 0))
    morning = patrol(service, 5, 8)
    clock.set(local(5, 8))
    with pytest.raises(Refused) as early:
        service.answer(morning.id, "doors", Result.PASS, None, "", "wang", local(5, 8), "e1")
    assert (early.value.reason, early.value.message) == (
        "invalid",
        f"task {morning.id} opens at 2026-01-05 08:30",
    )
    clock.set(local(5, 9))
    service.answer(morning.id, "doors", Result.PASS, None, "", "wang", local(5, 9), "a1")
    with pytest.raises(Refused) as unanswered:
        service.sign_off(morning.id, "wang", local(5, 9), None, "s1")
    assert unanswered.value.reason == "invalid"
    assert unanswered.value.message == (
        "not answered yet: Relative humidity; Dehumidifier tank emptied"
    )
    assert unanswered.value.message_zh == "尚未填写：相对湿度；除湿机水箱已清空"
    service.answer(morning.id, "humidity", Result.PASS, 50.0, "", "wang", local(5, 9), "a2")
    service.answer(morning.id, "tank", Result.PASS, None, "", "wang", local(5, 9), "a3")
    with pytest.raises(Refused) as no_photo:
        service.sign_off(morning.id, "wang", local(5, 9), None, "s2")
    assert no_photo.value.message == "a photo is required for: Dehumidifier tank emptied"
    assert no_photo.value.message_zh == "以下检查项须拍照：除湿机水箱已清空"
    with pytest.raises(Refused) as reading:
        service.answer(morning.id, "humidity", Result.PASS, None, "", "wang", local(5, 9), "a4")
    assert reading.value.message_zh == "请填写「相对湿度」的读数"
    with pytest.raises(Refused) as no_value:
        service.answer(morning.id, "doors", Result.PASS, 1.0, "", "wang", local(5, 9), "a5")
    assert no_value.value.message == "item 'doors' takes no reading"
    with pytest.raises(Refused) as no_item:
        service.answer(morning.id, "roof", Result.PASS, None, "", "wang", local(5, 9), "a6")
    assert no_item.value.reason == "not_found"
    with pytest.raises(Refused) as no_task:
        service.sign_off(9999, "wang", local(5, 9), None, "s3")
    assert (no_task.value.reason, no_task.value.message_zh) == ("not_found", "没有任务 9999")
    service.add_photo(morning.id, "tank", PNG, None, "wang", local(5, 9), "p1")
    done = service.sign_off(morning.id, "wang", local(5, 9, 1), None, "s4")
    assert done.status is TaskStatus.DONE
    with pytest.raises(Refused) as twice:
        service.sign_off(morning.id, "li", local(5, 9, 2), None, "s5")
    assert (twice.value.reason, twice.value.message) == (
        "conflict",
        f"task {morning.id} was signed off by wang already",
    )
    with pytest.raises(Refused) as final:
        service.answer(morning.id, "doors", Result.FAIL, None, "", "li", local(5, 9, 3), "a7")
    assert final.value.reason == "conflict"


def test_a_phone_clock_ahead_cannot_sign_in_the_future(
    service: InspectionService, clock: FakeClock
) -> None:
    at(clock, service, local(5, 0))
    morning = patrol(service, 5, 8)
    clock.set(local(5, 9, 50))
    fill(service, morning, "wang", local(5, 9, 50), "f")
    signed = service.sign_off(morning.id, "wang", local(5, 11), None, "f-sign")
    assert (signed.signed_at, signed.status) == (local(5, 9, 50), TaskStatus.DONE)


# --- resends from phones that lost signal ----------------------------------------------


def test_answers_photos_and_sign_off_are_idempotent_by_client_id(
    service: InspectionService, clock: FakeClock, sink: RecordingSink
) -> None:
    at(clock, service, local(5, 0))
    morning = patrol(service, 5, 8)
    clock.set(local(5, 9, 10))
    first = service.answer(
        morning.id, "doors", Result.FAIL, None, "锁坏了", "wang", local(5, 9), "c1"
    )
    again = service.answer(
        morning.id, "doors", Result.FAIL, None, "锁坏了", "wang", local(5, 9), "c1"
    )
    assert again == first
    assert first.hazard_id is not None
    # A later correction from the phone, then the first request resent once more: the
    # resend changes nothing (its id is known), so the correction stands.
    service.answer(morning.id, "doors", Result.PASS, None, "修好了", "wang", local(5, 9, 5), "c2")
    service.answer(morning.id, "doors", Result.FAIL, None, "锁坏了", "wang", local(5, 9), "c1")
    # A stale answer under a new id (a second phone, offline longer) does not win either.
    service.answer(morning.id, "doors", Result.FAIL, None, "旧", "li", local(5, 9, 2), "other")
    task = service.task(morning.id)
    assert task is not None
    [doors] = task.answers
    assert (doors.result, doors.note, doors.answered_at) == (Result.PASS, "修好了", local(5, 9, 5))
    # The correction withdrew the hazard nobody had acted on.
    assert service.hazards(site=SITE) == []
    photo = service.add_photo(morning.id, "tank", JPEG, "image/jpeg", "wang", local(5, 9), "p1")
    resent = service.add_photo(morning.id, "tank", JPEG, "image/jpeg", "wang", local(5, 9), "p1")
    assert resent == photo
    service.answer(morning.id, "tank", Result.PASS, None, "", "wang", local(5, 9), "c3")
    service.answer(morning.id, "humidity", Result.PASS, 50.0, "", "wang", local(5, 9), "c4")
    signed = service.sign_off(morning.id, "wang", local(5, 9, 10), None, "s1")
    assert service.sign_off(morning.id, "wang", local(5, 9, 10), None, "s1") == signed
    task = service.task(morning.id)
    assert task is not None
    assert [a.photo_ids for a in task.answers if a.item_key == "tank"] == [(photo.id,)]
    with pytest.raises(Refused) as reused:
        service.add_photo(morning.id, "tank", JPEG, None, "wang", local(5, 9), "c3")
    assert reused.value.message == "request id 'c3' was used for another request"
    assert sink.events == []


def test_photos_are_checked_by_their_bytes_and_size(
    engine: Engine, facility: Facility, clock: FakeClock, sink: RecordingSink
) -> None:
    store = InspectionStore(engine)
    store.start()
    service = InspectionService(
        store,
        facility,
        make_service(engine, facility, clock, sink).templates,
        clock,
        sink,
        photo_limit=100,
    )
    at(clock, service, local(5, 0))
    morning = patrol(service, 5, 8)
    clock.set(local(5, 9))
    cases = [
        (b"GIF89a" + b"\x00" * 10, None, "unsupported", "only JPEG, PNG and WebP photos"),
        (PNG, "image/jpeg", "unsupported", "the photo was sent as image/jpeg but is image/png"),
        (JPEG + b"\x00" * 100, "image/jpeg", "too_large", "at most 9.53674e-05 MB"),
        (b"", None, "invalid", "the photo is empty"),
    ]
    for n, (data, declared, reason, fragment) in enumerate(cases):
        with pytest.raises(Refused) as refused:
            service.add_photo(morning.id, "tank", data, declared, "wang", local(5, 9), f"x{n}")
        assert refused.value.reason == reason
        assert fragment in refused.value.message
    webp = b"RIFF\x40\x00\x00\x00WEBPVP8 " + b"\x00" * 20
    photo = service.add_photo(morning.id, "tank", webp, "image/webp", "wang", local(5, 9), "ok")
    assert (photo.content_type, photo.size) == ("image/webp", len(webp))


# --- the rules' requests ----------------------------------------------------------------


def test_a_rule_request_becomes_one_task_per_episode(
    service: InspectionService, clock: FakeClock
) -> None:
    clock.set(local(5, 14))

    def ask(when: datetime) -> TaskRequest:
        return TaskRequest(
            key="task:humidity_task:yunxi:B2-03",
            rule="humidity_task",
            site=SITE,
            room="B2-03",
            at=when,
            title_zh="B2-03 湿度持续偏高 2 小时：检查除湿机",
            title_en="RH high in B2-03 for 2 h: check the dehumidifier",
            role="guard",
        )

    service.request([ask(local(5, 14)), ask(local(5, 14))])
    clock.set(local(5, 14, 30))
    service.request([ask(local(5, 14, 30))])  # the engine asked again: same episode
    [task] = service.open_tasks(SITE)
    assert (task.source, task.template, task.room, task.floor, task.role) == (
        TaskSource.RULE,
        None,
        "B2-03",
        "F2",
        "guard",
    )
    assert (task.window_start, task.window_end) == (local(5, 14), local(5, 16))
    assert task.title_en == "RH high in B2-03 for 2 h: check the dehumidifier"
    assert task.items == RULE_CHECKLIST
    assert task.local_date == date(2026, 1, 5)
    clock.set(local(5, 15))
    service.answer(
        task.id, "checked", Result.PASS, None, "除湿机已重启", "wang", local(5, 15), "r1"
    )
    service.sign_off(task.id, "wang", local(5, 15), "yunxi/B2-03", "r2")
    # The condition ended and came back the next day: a new episode, a new task.
    clock.set(local(6, 11))
    service.request([ask(local(6, 11))])
    rule_tasks = [
        t
        for t in service.tasks_between(SITE, local(5, 0), local(7, 0))
        if t.source is TaskSource.RULE
    ]
    assert [(t.window_start, t.status) for t in rule_tasks] == [
        (local(5, 14), TaskStatus.DONE),
        (local(6, 11), TaskStatus.OPEN),
    ]
    service.request(
        [TaskRequest("task:x:yunxi:B9-99", "x", SITE, "B9-99", local(6, 11), "?", "?", "guard")]
    )
    assert len(service.open_tasks(SITE)) == 1  # an unknown room is logged and skipped


# --- hazards ----------------------------------------------------------------------------


def test_a_reading_outside_the_room_limits_fails_and_opens_a_hazard(
    service: InspectionService, clock: FakeClock
) -> None:
    at(clock, service, local(5, 0))
    morning = patrol(service, 5, 8)
    clock.set(local(5, 9))
    # The guard ticked "pass", but 58 %RH is above special collections' 55 %RH.
    answered = service.answer(
        morning.id, "humidity", Result.PASS, 58.0, "除湿机停机", "wang", local(5, 9), "h1"
    )
    assert answered.answer.result is Result.FAIL
    hazard = service.hazard(answered.hazard_id or 0)
    assert hazard is not None
    assert (hazard.grade, hazard.state, hazard.room, hazard.item_key, hazard.found_by) == (
        HazardGrade.GENERAL,
        HazardState.FOUND,
        ROOM,
        "humidity",
        "wang",
    )
    assert hazard.title_zh == f"{PLACE_ZH}：相对湿度（不合格）"
    assert hazard.title_en == f"{PLACE_EN}: Relative humidity (failed)"
    # The person raises the grade; the same failure again keeps one hazard.
    raised = service.answer(
        morning.id,
        "humidity",
        Result.FAIL,
        59.0,
        "霉味",
        "wang",
        local(5, 9, 5),
        "h2",
        grade=HazardGrade.HIGH,
    )
    assert raised.hazard_id == hazard.id
    lowered = service.answer(
        morning.id,
        "humidity",
        Result.FAIL,
        59.0,
        "霉味",
        "wang",
        local(5, 9, 6),
        "h3",
        grade=HazardGrade.GENERAL,
    )
    assert lowered.hazard_id == hazard.id
    [only] = service.hazards(site=SITE)
    assert (only.grade, only.note) == (HazardGrade.HIGH, "霉味")  # never lowered
    edge = service.answer(
        morning.id, "humidity", Result.PASS, 55.0, "", "wang", local(5, 9, 7), "h4"
    )
    assert edge.answer.result is Result.PASS  # the limits are inclusive
    assert service.hazards(site=SITE) == []


def test_a_hazard_is_closed_with_re_inspection_and_every_step_is_logged(
    service: InspectionService, clock: FakeClock
) -> None:
    at(clock, service, local(5, 0))
    morning = patrol(service, 5, 8)
    clock.set(local(5, 9))
    answered = service.answer(
        morning.id, "doors", Result.FAIL, None, "北窗锁扣损坏", "wang", local(5, 9), "d1"
    )
    hazard_id = answered.hazard_id
    assert hazard_id is not None
    assert service.hazard(hazard_id).grade is HazardGrade.DANGER  # type: ignore[union-attr]
    clock.set(local(5, 11))
    assigned = service.assign(hazard_id, "he", local(7, 17), "chen")
    assert (assigned.state, assigned.owner, assigned.deadline) == (
        HazardState.ASSIGNED,
        "he",
        local(7, 17),
    )
    clock.set(local(6, 10))
    photo = service.add_hazard_photo(hazard_id, JPEG, "image/jpeg", "he", local(6, 10), "hp1")
    service.rectify(hazard_id, "更换锁扣", "he", [photo.id])
    clock.set(local(6, 15))
    with pytest.raises(Refused) as no_reason:
        service.reinspect(hazard_id, False, "chen")
    assert no_reason.value.message_zh == "请填写复查未通过的原因"
    rejected = service.reinspect(hazard_id, False, "chen", "锁扣仍松动")
    assert rejected.state is HazardState.ASSIGNED
    clock.set(local(7, 9))
    service.rectify(hazard_id, "更换整套窗锁", "he")
    clock.set(local(7, 14))
    service.reinspect(hazard_id, True, "chen", "合格")
    clock.set(local(8, 9))
    filed = service.file(hazard_id, "he")
    assert filed.state is HazardState.FILED
    assert [(e.state, e.by, e.at, e.note) for e in filed.log] == [
        (HazardState.FOUND, "wang", local(5, 9), "北窗锁扣损坏"),
        (HazardState.ASSIGNED, "chen", local(5, 11), "owner he, deadline 2026-01-07 09:00Z"),
        (HazardState.RECTIFIED, "he", local(6, 10), "更换锁扣"),
        (HazardState.ASSIGNED, "chen", local(6, 15), "复查未通过 / rejected: 锁扣仍松动"),
        (HazardState.RECTIFIED, "he", local(7, 9), "更换整套窗锁"),
        (HazardState.ACCEPTED, "chen", local(7, 14), "合格"),
        (HazardState.FILED, "he", local(8, 9), ""),
    ]
    assert filed.photo_ids == (photo.id,)
    with pytest.raises(Refused) as closed:
        service.rectify(hazard_id, "again", "he")
    assert closed.value.reason == "conflict"
    with pytest.raises(Refused) as past:
        service.assign(hazard_id, "he", local(8, 8), "chen")
    assert past.value.reason == "conflict"  # filed: nothing more to assign


def test_a_hazard_past_its_deadline_raises_an_alarm_until_rectified(
    service: InspectionService, clock: FakeClock, sink: RecordingSink
) -> None:
    at(clock, service, local(5, 0))
    morning = patrol(service, 5, 8)
    clock.set(local(5, 9))
    hazard_id = service.answer(
        morning.id,
        "doors",
        Result.FAIL,
        None,
        "门禁失灵",
        "wang",
        local(5, 9),
        "d1",
        grade=HazardGrade.HIGH,
    ).hazard_id
    assert hazard_id is not None
    with pytest.raises(Refused) as past:
        service.assign(hazard_id, "he", local(5, 8), "chen")
    assert past.value.message == "the deadline must be in the future"
    service.assign(hazard_id, "he", local(6, 17), "chen")
    assert at(clock, service, local(6, 16, 59)).hazards_overdue == 0
    sink.take()  # the patrols' own reminders and overdue alarms are not this test's
    assert at(clock, service, local(6, 17)).hazards_overdue == 1
    expected = AlarmEvent(
        key=f"hazard-overdue:{hazard_id}",
        transition=Transition.RAISE,
        rule="hazard_overdue",
        category=Category.INSPECTION,
        severity=Severity.HIGH,  # 高危 → high
        site=SITE,
        room=ROOM,
        sensor=None,
        at=local(6, 17),
        message_zh=(
            f"隐患整改逾期：{PLACE_ZH}：门窗上锁（不合格）（高危），"
            "责任人 he，期限 2026-01-06 17:00"
        ),
        message_en=(
            f"Hazard overdue: {PLACE_EN}: Doors and windows locked (failed) (high risk), "
            "owner he, deadline 2026-01-06 17:00"
        ),
        value=str(hazard_id),
    )
    assert [e for e in sink.take() if e.rule == "hazard_overdue"] == [expected]
    assert at(clock, service, local(6, 18)).hazards_overdue == 0  # raised once
    clock.set(local(6, 19))
    service.rectify(hazard_id, "门禁控制器已更换", "he")
    [cleared] = [e for e in sink.take() if e.rule == "hazard_overdue"]
    assert (cleared.key, cleared.transition, cleared.severity, cleared.at) == (
        expected.key,
        Transition.CLEAR,
        Severity.HIGH,
        local(6, 19),
    )


def test_the_hazard_ledger_exports_as_csv_that_excel_reads(
    service: InspectionService, clock: FakeClock
) -> None:
    at(clock, service, local(5, 0))
    morning = patrol(service, 5, 8)
    clock.set(local(5, 9))
    hazard_id = service.answer(
        morning.id, "doors", Result.FAIL, None, "北窗锁扣损坏", "wang", local(5, 9), "d1"
    ).hazard_id
    assert hazard_id is not None
    clock.set(local(5, 11))
    service.assign(hazard_id, "he", local(7, 17), "chen")
    clock.set(local(6, 10))
    service.rectify(hazard_id, "更换锁扣", "he")
    clock.set(local(6, 15))
    service.reinspect(hazard_id, True, "chen", "合格")
    data = service.ledger_csv(SITE, local(1, 0), local(1, 0, month=2))
    assert data.startswith(b"\xef\xbb\xbf")  # the BOM: Excel then reads UTF-8
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0][:4] == ["编号 No.", "地点 Place", "隐患 Hazard", "等级 Grade"]
    assert rows[1] == [
        str(hazard_id),
        f"{PLACE_ZH} / {PLACE_EN}",
        f"{PLACE_ZH}：门窗上锁（不合格） / {PLACE_EN}: Doors and windows locked (failed)",
        "危险 / danger",
        "wang",
        "2026-01-05 09:00",
        "北窗锁扣损坏",
        "he",
        "2026-01-07 17:00",
        "更换锁扣",
        "he",
        "2026-01-06 10:00",
        "chen",
        "2026-01-06 15:00",
        "",
        "复查通过 / accepted",
    ]
    assert len(rows) == 2
    later = service.ledger_csv(SITE, local(6, 0), local(7, 0))
    assert len(list(csv.reader(io.StringIO(later.decode("utf-8-sig"))))) == 1  # header only


# --- with the real parts around it ------------------------------------------------------


def test_the_overdue_alarm_goes_through_the_alarm_pipeline_and_prefill_reads_sensors(
    tmp_path: Path, facility: Facility, clock: FakeClock
) -> None:
    with console_stores(tmp_path, facility, clock) as console:
        store = InspectionStore(console.alarms.engine)
        store.start()
        service = InspectionService(
            store,
            facility,
            make_service(console.alarms.engine, facility, clock, RecordingSink()).templates,
            clock,
            console.service,
            readings=console.readings,
        )
        at(clock, service, local(5, 0))
        morning = patrol(service, 5, 8)
        clock.set(local(5, 8, 55))
        console.report_quiet(
            rooms=[ROOM], overrides={"b204-th1": {"humidity": 52.0}, "b204-th2": {"humidity": 53.0}}
        )
        clock.set(local(5, 9))
        prefill = service.prefill(morning)
        assert set(prefill) == {"humidity"}
        assert (prefill["humidity"].value, prefill["humidity"].sensors) == (
            52.5,
            ("b204-th1", "b204-th2"),
        )
        assert prefill["humidity"].at == local(5, 8, 55)
        clock.set(local(5, 9, 20))
        assert service.prefill(morning) == {}  # older than ten minutes: not offered
        at(clock, service, local(5, 9, 30))
        at(clock, service, local(5, 10))
        alarms = {a.key: a for a in console.alarms.list(states=None)}
        overdue = alarms[f"inspection-overdue:{morning.id}"]
        assert (overdue.category, overdue.severity, overdue.state, overdue.room) == (
            Category.INSPECTION,
            Severity.MEDIUM,
            AlarmState.UNACKED,
            ROOM,
        )
        assert overdue.incident_id is not None
        due = alarms[f"inspection-due:{morning.id}"]
        assert due.state is AlarmState.RTN_UNACKED  # replaced by the overdue alarm
        clock.set(local(5, 10, 15))
        fill(service, morning, "wang", local(5, 10, 15), "late")
        service.sign_off(morning.id, "wang", local(5, 10, 15), None, "late-sign")
        after = console.alarms.get(overdue.id)
        assert after is not None
        assert (after.state, after.cleared_at) == (AlarmState.RTN_UNACKED, local(5, 10, 15))


class FlakySink(RecordingSink):
    """The alarm pipeline failing once (its database busy), then working again."""

    def __init__(self) -> None:
        super().__init__()
        self.failures = 1

    def publish(self, events: Sequence[AlarmEvent]) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("the alarm store is busy")
        super().publish(events)


def test_an_alarm_the_pipeline_refused_is_published_at_the_next_tick(
    engine: Engine, facility: Facility, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    sink = FlakySink()
    service = make_service(engine, facility, clock, sink)
    at(clock, service, local(5, 0))
    morning = patrol(service, 5, 8)
    with caplog.at_level(logging.ERROR, logger="inspections.service"):
        assert at(clock, service, local(5, 9, 30)).reminded == 1
    assert sink.events == []
    assert f"could not publish raise inspection-due:{morning.id}" in caplog.text
    assert at(clock, service, local(5, 9, 31)).reminded == 0  # not decided again...
    assert sink.take() == [due_event(morning)]  # ...but sent, once
    assert at(clock, service, local(5, 9, 32)) == TickResult()
    assert sink.events == []
