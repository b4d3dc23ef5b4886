"""A week at 云溪市档案馆, on a fake clock: 日巡查、周检查、月排查 as the archive lives it.

Monday 5 to Sunday 11 January 2026, Shanghai time, with the shipped inspection templates
and the example alerting file, through the console as the service builds it (accounts,
the checklist app, the inspection and hazard API, the reports):

- Sunday 23:30 Lantai starts; Monday's tasks appear at midnight, none before.
- Monday 08:40 the guard 王 patrols B2-01 on his phone and finds the dehumidifier's tank
  full: a failed item, so a hazard. He then patrols B2-02 in the basement without signal;
  the phone keeps everything and sends it once, at 09:05, upstairs.
- Nobody patrols B3-03 that morning: at 10:00 it is overdue, the alarm pipeline texts the
  guard on duty at 10:05 and e-mails the supervisor and the conservator at 11:00; the desk
  acknowledges at 11:10.
- Tuesday the supervisor 陈 assigns the hazard to the safety officer 何, who rectifies it
  on Wednesday; 陈 re-inspects and accepts it, and files it on Thursday.
- Every other task of the week is done on time by whoever it is for.
- Monday 12 January the weekly report shows it all.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, expect
from pydantic import SecretStr

from alerts.models import Via
from console.auth import Role
from inspections.models import (
    ChecklistItem,
    HazardState,
    ItemKind,
    PhotoRule,
    Result,
    Task,
    TaskStatus,
)
from sensors.clock import FakeClock
from sensors.facility import Facility
from tests.console_server import Console, running_console
from tests.test_auth_support import PASSWORD
from tests.test_checklist_app import (
    answer_all_passing_with_a_photo_of_the_wall,
    answer_item,
    log_in,
    phone,
    record_reading,
    set_phone_time,
    step,
    wait_until_kept_for_offline,
)
from tests.test_inspection_common import JPEG, local

__all__ = ["phone"]  # the phone fixture, shared with the checklist app's tests

pytestmark = pytest.mark.browser

SITE = "yunxi"
STEP = timedelta(minutes=5)
# Who does the work the templates give to each role (the example alerting file's people).
DOER = {"guard": "wang", "stack_manager": "chen", "safety_officer": "he"}
NIGHT_GUARD = "li"
ACCOUNTS = {
    "wang": Role.GUARD,
    "li": Role.GUARD,
    "chen": Role.SUPERVISOR,
    "he": Role.SUPERVISOR,
    "desk": Role.OPERATOR,
}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(local(4, 23, 30))


@pytest.fixture
def archive(tmp_path: Path, facility: Facility, clock: FakeClock) -> Iterator[Console]:
    with running_console(tmp_path, facility, clock) as console:
        for name, role in ACCOUNTS.items():
            console.auth.users.add(name, SecretStr(PASSWORD), role, [SITE])
        yield console


def login(console: Console, name: str) -> httpx.Client:
    """A browser session of ``name`` (a fresh one: the week outlasts any session)."""
    client = httpx.Client(base_url=console.url, timeout=10)
    response = client.post("/api/auth/login", json={"username": name, "password": PASSWORD})
    assert response.status_code == 200, response.text
    client.headers["X-CSRF-Token"] = response.json()["csrf_token"]
    return client


def tick(console: Console) -> None:
    """What the service's timers do: the inspection wake-up and the alarm timers."""
    console.inspections.tick()
    console.service.tick()


def do(console: Console, task: Task, by: str) -> None:
    """Answer every item passing (readings in limits, required photos taken), sign off."""
    now = console.clock.now()
    for item in task.items:
        value = None
        if item.kind is ItemKind.READING:
            value = in_limits(console, task, item)
        tag = f"{task.id}-{item.key}"
        console.inspections.answer(task.id, item.key, Result.PASS, value, "", by, now, tag)
        if item.photo is PhotoRule.REQUIRED:
            console.inspections.add_photo(
                task.id, item.key, JPEG, "image/jpeg", by, now, f"{tag}-photo"
            )
    console.inspections.sign_off(task.id, by, now, None, f"{task.id}-sign")


def in_limits(console: Console, task: Task, item: ChecklistItem) -> float:
    """The middle of the item's band (the room class's, unless the template sets one)."""
    assert task.room is not None
    assert item.field is not None
    band = getattr(console.facility.rooms[(SITE, task.room)].limits, item.field)
    low = band.min if item.minimum is None else item.minimum
    high = band.max if item.maximum is None else item.maximum
    return float((low + high) / 2)


def doer(task: Task) -> str:
    if task.role == "guard" and task.window_start.astimezone(local(5, 0).tzinfo).hour >= 20:
        return NIGHT_GUARD
    return DOER[task.role]


def do_what_is_due(console: Console, skip: set[int]) -> None:
    """Everybody does the tasks whose window opened a quarter of an hour ago."""
    now = console.clock.now()
    for task in console.inspections.open_tasks(SITE):
        if task.id not in skip and task.window_start + timedelta(minutes=15) <= now:
            do(console, task, doer(task))


def patrol(console: Console, room: str, day: int, hour: int) -> Task:
    [found] = [
        t
        for t in console.inspections.tasks_for_day(SITE, date(2026, 1, day), "guard")
        if t.room == room and t.window_start == local(day, hour, 30)
    ]
    return found


def run_until(console: Console, until: datetime, skip: set[int]) -> None:
    """The week goes by in five-minute steps: timers fire, people do their rounds."""
    while console.clock.now() + STEP <= until:
        console.clock.set(console.clock.now() + STEP)
        do_what_is_due(console, skip)
        tick(console)


def test_a_week_of_an_archive(  # noqa: PLR0915 - one timeline, told in order
    archive: Console, clock: FakeClock, phone: BrowserContext
) -> None:
    console = archive
    inspections = console.inspections

    # Sunday 23:30: Lantai starts. Monday's tasks do not exist yet.
    tick(console)
    monday = date(2026, 1, 5)
    assert inspections.tasks_for_day(SITE, monday, None) == []
    # Midnight: they appear, each with its window in Shanghai time.
    clock.set(local(5, 0))
    tick(console)
    created = inspections.tasks_for_day(SITE, monday, None)
    patrols = [t for t in created if t.template == "daily-patrol"]
    rooms = sorted({r for (s, r) in console.facility.rooms if s == SITE})
    assert sorted((t.room, t.window_start, t.window_end) for t in patrols) == sorted(
        [(room, local(5, 8, 30), local(5, 10)) for room in rooms]
        + [(room, local(5, 16, 30), local(5, 17, 30)) for room in rooms]
    )
    assert {t.template for t in created} >= {"daily-patrol", "weekly-check", "monthly-sweep"}
    assert not any(t.created_late for t in created)
    missed_patrol = patrol(console, "B3-03", 5, 8)

    # 08:40 the sensors report a quiet stack; 王 scans B2-01's checkpoint and patrols it.
    clock.set(local(5, 8, 40))
    console.report_quiet()
    tick(console)
    set_phone_time(phone, clock)
    page = phone.new_page()
    first = patrol(console, "B2-01", 5, 8)
    log_in(page, console.url, "wang", "/app/#/checkpoint/yunxi/B2-01")
    expect(page).to_have_url(f"{console.url}/app/#/task/{first.id}/1")
    patrol_b2_01_with_a_full_tank(page)
    assert inspections.task(first.id).status is TaskStatus.DONE  # type: ignore[union-attr]
    [hazard] = inspections.task_hazards(first.id)
    assert (hazard.item_key, hazard.state) == ("dehumidifier", HazardState.FOUND)

    # 08:45 down to B2-02 in the basement: no signal. Everything stays on the phone.
    second = patrol(console, "B2-02", 5, 8)
    page.locator(".back").tap()
    wait_until_kept_for_offline(page, second.id)
    phone.set_offline(True)
    page.locator(f'a.task-card[data-task-id="{second.id}"]').tap()
    answer_all_passing_with_a_photo_of_the_wall(page)
    page.locator("#sign").tap()
    expect(page.locator("#signed")).to_have_text("已在手机上签字，待同步")
    assert inspections.task(second.id).status is TaskStatus.OPEN  # type: ignore[union-attr]
    # 09:05 upstairs again: the phone sends what it kept, once.
    clock.set(local(5, 9, 5))
    phone.set_offline(False)
    expect(page.locator("body")).to_have_attribute("data-waiting", "0", timeout=15_000)
    synced = inspections.task(second.id)
    assert synced is not None
    assert (synced.status, synced.signed_by, synced.synced_at) == (
        TaskStatus.DONE,
        "wang",
        local(5, 9, 5),
    )
    assert len(synced.answers) == len(synced.items)
    page.close()

    # Nobody goes to B3-03. The others are patrolled; at 10:00 B3-03 is overdue.
    skip = {missed_patrol.id}
    run_until(console, local(5, 10), skip)
    [overdue] = [
        a for a in console.alarms.list(states=None, site=SITE) if a.rule == "inspection_overdue"
    ]
    assert (overdue.room, overdue.severity.value, overdue.raised_at) == (
        "B3-03",
        "medium",
        local(5, 10),
    )
    # The routine policy: the guard on duty by SMS after 2 minutes (the 10:05 timer), the
    # supervisor and the conservator by e-mail after an hour. The desk acknowledges at 11:10.
    run_until(console, local(5, 11, 10), skip)
    console.service.ack(overdue.id, "desk", Via.CONSOLE, "已电话通知王保安补巡")
    assert overdue.incident_id is not None
    told = [
        (m.channel, m.who, m.created_at)
        for m in console.alarms.messages(overdue.incident_id)
        if m.kind == "alarm"
    ]
    assert told == [
        ("sms", "wang", local(5, 10, 5)),
        ("email", "chen", local(5, 11)),
        ("email", "morgan", local(5, 11)),
    ]

    # Tuesday 09:00 陈 assigns the hazard to 何, to be rectified by Wednesday 17:00.
    run_until(console, local(6, 9), skip)
    chen = login(console, "chen")
    path = f"/api/hazards/{hazard.id}"
    deadline = {"owner": "he", "deadline": local(7, 17).isoformat(), "note": "更换除湿机排水管"}
    assert chen.post(f"{path}/assign", json=deadline).json()["state"] == "assigned"
    # Wednesday 10:00 何 reports it rectified; at 15:00 陈 re-inspects and accepts.
    run_until(console, local(7, 10), skip)
    he = login(console, "he")
    rectified = he.post(f"{path}/rectify", json={"note": "已加装自动排水管"})
    assert rectified.json()["state"] == "rectified"
    run_until(console, local(7, 15), skip)
    chen = login(console, "chen")
    accepted = chen.post(f"{path}/reinspect", json={"accepted": True, "note": "复查合格"})
    assert accepted.json()["state"] == "accepted"
    # Thursday 09:00 it is filed.
    run_until(console, local(8, 9), skip)
    chen = login(console, "chen")
    filed = chen.post(f"{path}/file", json={"note": "归档"}).json()
    assert [entry["state"] for entry in filed["log"]] == [
        "found",
        "assigned",
        "rectified",
        "accepted",
        "filed",
    ]

    # The rest of the week goes by; Monday 12 January 00:30 the weekly report.
    run_until(console, local(12, 0, 30), skip)
    chen = login(console, "chen")
    weekly = chen.get(f"/api/reports/{SITE}/weekly", params={"date": "2026-01-05"})
    assert weekly.status_code == 200, weekly.text
    report = weekly.json()
    counts = {
        c["cadence"]: (c["total"], c["on_time"], c["late"], c["missed"], c["open"])
        for c in report["inspections"]["by_cadence"]
    }
    # Sixteen patrols a day for seven days, one of them missed.
    assert counts["daily"] == (16 * 7, 16 * 7 - 1, 0, 1, 0)
    assert counts["weekly"] == (8, 8, 0, 0, 0)
    assert [t["window_start"] for t in report["inspections"]["missed"]] == ["2026-01-05T00:30:00Z"]
    total = report["hazards"]["total"]
    assert (total["opened"], total["closed"], total["still_open"]) == (1, 1, 0)
    [inspection] = [g for g in report["alarms"]["groups"] if g["category"] == "inspection"]
    assert (inspection["count"], inspection["acknowledged"], inspection["max_ack_s"]) == (
        1,
        1,
        70 * 60,
    )
    page_html = chen.get(
        f"/api/reports/{SITE}/weekly", params={"date": "2026-01-05", "format": "html"}
    )
    assert page_html.status_code == 200
    assert "B3-03" in page_html.text
    # A guard may not read reports: they are the desk's and the leadership's.
    wang = login(console, "wang")
    assert wang.get(f"/api/reports/{SITE}/weekly").status_code == 403


def patrol_b2_01_with_a_full_tank(page: Page) -> None:
    """Readings from the sensors confirmed, the dehumidifier failed with a note, signed."""
    record_reading(page, "20")
    step(page, 2)
    record_reading(page, "50")
    for number in range(3, 10):
        step(page, number)
        if number == 5:  # 空调、除湿机运行正常，水箱已清空
            page.locator("#note-input").fill("除湿机水箱已满，排水管堵塞")
            answer_item(page, "fail")
            page.locator("#next").tap()
            continue
        answer_item(page, "pass")
    step(page, "sign")
    page.locator("#sign").tap()
    expect(page.locator("#signed")).to_have_text("已签字")
