"""The guards' checklist app on a phone (headless Chromium at 360×640, touch, Shanghai time):
log in, today's tasks, a patrol answered item by item from a QR scan, one done in a
basement without signal and synced once, the language switch, and an expired login.

Every test reads as a timeline on the fake clock. The phone's own clock is set to the
same time (Playwright's clock), since the server takes a phone's answer time as given.
Set LANTAI_SCREENSHOTS=1 to refresh docs/screenshots/checklist-*.png.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from console.auth import Role
from inspections.models import HazardState, Result, TaskStatus
from inspections.tables import client_requests
from sensors.clock import FakeClock
from sensors.events import Category, Severity, Transition
from sensors.facility import Facility
from tests.checklist_server import (
    ChecklistServer,
    checkpoint_path,
    jpeg_size,
    png,
    running_checklist,
)
from tests.test_auth_support import PASSWORD
from tests.test_inspection_common import local

try:
    from playwright.sync_api import (
        Browser,
        BrowserContext,
        FilePayload,
        Page,
        Route,
        expect,
    )
except ImportError:  # the dev dependencies were installed without it
    pytest.skip("the playwright package is not installed", allow_module_level=True)

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
# The shipped daily patrol (inspections/example-inspections.yaml), in order.
PATROL_ITEMS = [
    "temperature",
    "humidity",
    "clean",
    "no-leaks",
    "dehumidifier",
    "fire-equipment",
    "wiring",
    "lights-power-off",
    "doors-windows",
]
ROOMS_PATROLLED = 8  # every stack room of the example site
APP_CACHE = "lantai-checklist-v1-data"


@pytest.fixture
def phone(browser: Browser) -> Iterator[BrowserContext]:
    """A phone in Shanghai with Chinese set (its clock is set by ``set_phone_time``)."""
    context = browser.new_context(
        viewport={"width": 360, "height": 640},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
    )
    yield context
    context.close()


def set_phone_time(context: BrowserContext, clock: FakeClock) -> None:
    """The phone's clock shows the server's time from here on (and keeps running)."""
    context.clock.install(time=clock.now())


def screenshot(page: Page, name: str, *, full_page: bool = False) -> None:
    if os.environ.get("LANTAI_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        if full_page:
            page.evaluate("window.scrollTo(0, 0)")  # the sticky header at the top
        page.screenshot(path=str(SCREENSHOTS / f"checklist-{name}.png"), full_page=full_page)


def log_in(page: Page, url: str, username: str, path: str = "/app/") -> None:
    """Open ``path``; the app sends the guard to the login page and back."""
    page.goto(url + path)
    expect(page).to_have_url(f"{url}/static/login.html?next=" + _quoted(path))
    fill_login(page, username)
    expect(page.locator("body")).to_have_attribute("data-ready", "true")


def fill_login(page: Page, username: str) -> None:
    # The login page focuses the name field once its script runs: wait for that, or the
    # script could take the focus away while the password is being typed.
    expect(page.locator("#username")).to_be_focused()
    page.locator("#username").fill(username)
    page.locator("#password").fill(PASSWORD)
    page.locator("#submit").tap()


def _quoted(path: str) -> str:
    return path.replace("/", "%2F").replace("#", "%23")


def morning(server: ChecklistServer) -> None:
    """Monday 5 January 2026: at 07:00 the day's patrols are created; at 08:40 every
    sensor reports a quiet room."""
    create_patrols(server)
    sensors_report(server)


def create_patrols(server: ChecklistServer) -> None:
    server.clock.set(local(5, 7, 0))
    server.inspections.tick()


def sensors_report(server: ChecklistServer) -> None:
    server.clock.set(local(5, 8, 40))
    server.console.report_quiet(
        overrides={
            "b201-th1": {"temperature": 19.6, "humidity": 51.0},
            "b201-th2": {"temperature": 20.2, "humidity": 52.4},
        }
    )


def door_left_open(server: ChecklistServer) -> None:
    """08:05 B2-01's door is left open (and still is when the guard comes by)."""
    server.clock.set(local(5, 8, 5))
    server.console.raise_alarm(
        "door_open:yunxi:B2-01",
        "B2-01",
        severity=Severity.MEDIUM,
        category=Category.INTRUSION,
        message_zh="第一纸质档案库库门开启超过 10 分钟",
        message_en="Paper stack 1 door open for over 10 minutes",
    )


def take_photo(page: Page, name: str, width: int, height: int) -> None:
    """The camera's picture, as the phone's file picker hands it to the page."""
    photo: FilePayload = {"name": name, "mimeType": "image/png", "buffer": png(width, height)}
    page.locator("#photo-input").set_input_files(files=[photo])


def answer_item(page: Page, result: str) -> None:
    page.locator(f'#item button[data-answer="{result}"]').tap()


def record_reading(page: Page, expected: str) -> None:
    expect(page.locator("#reading-input")).to_have_value(expected)
    page.locator("#record-reading").tap()


def step(page: Page, number: int | str) -> None:
    expect(page).to_have_url(f"{page.url.split('#')[0]}#/task/{_task_id(page)}/{number}")


def _task_id(page: Page) -> str:
    return page.url.split("#/task/")[1].split("/")[0]


def requests_of(server: ChecklistServer, task_id: int) -> list[tuple[str, str | None]]:
    """Every phone request the server took for a task, by kind and item."""
    with server.inspections.store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(client_requests.c.kind, client_requests.c.item_key)
            .where(client_requests.c.task_id == task_id)
            .order_by(client_requests.c.received_at, client_requests.c.kind)
        ).all()
    return [(row.kind, row.item_key) for row in rows]


def task_page_shows_the_round_and_the_room(page: Page) -> None:
    """B2-01's morning round at 08:40: where and when, the scan, the room's sensors
    against the paper stack's limits, and the door alarm since the last patrol."""
    expect(page.locator("#task-title")).to_have_text("日巡查")
    expect(page.locator(".task-head .place")).to_have_text("B2-01 第一纸质档案库")
    expect(page.locator(".task-head .window")).to_have_text("时段 08:30–10:00")
    expect(page.locator("#checkpoint")).to_have_text("已扫描巡查点：B2-01")
    expect(page.locator("#user")).to_have_text("王保安")
    expect(page.locator('#room-now li[data-item="humidity"]')).to_contain_text(
        "51.7 %RH · 限值 45–60 %RH"
    )
    expect(page.locator("#room-alarms li")).to_have_text(
        "中 第一纸质档案库库门开启超过 10 分钟01/05 08:05 · 仍在告警"
    )


def refused_sign_off_lists_what_is_missing(page: Page) -> None:
    """Signing with six items open is refused on the phone, which says what is missing
    and leads back to the first of them."""
    page.locator('#chips button:has-text("签字")').tap()
    page.locator("#sign").tap()
    missing = page.locator("#missing")
    expect(missing).to_be_focused()
    expect(missing).to_contain_text("还有 6 项未完成，不能签字")
    expect(missing.locator("li")).to_have_count(6)
    expect(missing.locator("li").first).to_have_text("4. 无漏水、渗水，屋顶及管道无滴漏 (未作答)")
    missing.locator("a").first.tap()


def assert_recorded_with_a_failed_tank(server: ChecklistServer, task_id: int) -> None:
    signed = server.task(task_id)
    assert (signed.status, signed.signed_by, signed.checkpoint) == (
        TaskStatus.DONE,
        "wang",
        "B2-01",
    )
    answers = {a.item_key: a for a in signed.answers}
    assert list(answers) == PATROL_ITEMS
    assert (answers["temperature"].value, answers["humidity"].value) == (19.9, 51.7)
    tank = answers["dehumidifier"]
    assert (tank.result, tank.note, tank.answered_by) == (
        Result.FAIL,
        "除湿机水箱已满，已倒空",
        "wang",
    )
    [(photo_id, item, kind, _, _)] = server.photo_rows(task_id)
    assert (item, kind) == ("dehumidifier", "image/jpeg")
    # Made small on the phone: 1600 px on the long side, the proportions kept.
    assert jpeg_size(server.photo_bytes(photo_id)) == (1600, 1200)
    # The failed item opened a hazard (隐患).
    [hazard] = server.inspections.task_hazards(task_id)
    assert (hazard.item_key, hazard.state) == ("dehumidifier", HazardState.FOUND)


def wait_until_kept_for_offline(page: Page, task_id: int) -> None:
    """The app reads the open tasks' pages ahead; wait until the service worker keeps the
    day's list and this task's page."""
    page.wait_for_function(
        f"""id => caches.open('{APP_CACHE}').then(c => c.keys()).then(keys => {{
            const paths = keys.map(k => new URL(k.url)).map(u => u.pathname + u.search);
            return paths.some(p => p.startsWith('/api/inspections/tasks?'))
                && paths.includes(`/api/inspections/tasks/${{id}}`);
        }})""",
        arg=task_id,
    )


def answer_all_passing_with_a_photo_of_the_wall(page: Page) -> None:
    record_reading(page, "20")  # the quiet room's sensors, as read upstairs
    record_reading(page, "50")
    for number, item in enumerate(PATROL_ITEMS[2:], start=3):
        step(page, number)
        if item == "no-leaks":
            page.locator("#note-input").fill("墙角有水渍，已拍照")
            take_photo(page, "wall.png", 1200, 2000)
            expect(page.locator("#photo-count")).to_have_text("1 张照片")
        answer_item(page, "pass")


def assert_recorded_once_as_signed_in_the_basement(server: ChecklistServer, task_id: int) -> None:
    signed = server.task(task_id)
    assert (signed.status, signed.signed_by) == (TaskStatus.DONE, "wang")
    # Signed when the guard signed, in the basement; synced at 09:05.
    assert signed.signed_at is not None
    assert local(5, 8, 40) <= signed.signed_at < local(5, 8, 42)
    assert signed.synced_at == local(5, 9, 5)
    answers = {a.item_key: a for a in signed.answers}
    assert list(answers) == PATROL_ITEMS
    assert answers["no-leaks"].note == "墙角有水渍，已拍照"
    assert all(a.answered_at < local(5, 8, 42) for a in signed.answers)
    # Exactly one copy of each: nine answers, one photo, one sign-off.
    taken = requests_of(server, task_id)
    assert sorted(taken, key=str) == sorted(
        [("answer", item) for item in PATROL_ITEMS] + [("photo", "no-leaks"), ("sign_off", None)],
        key=str,
    )
    [(photo_id, _, _, _, _)] = server.photo_rows(task_id)
    assert jpeg_size(server.photo_bytes(photo_id)) == (960, 1600)


def test_guard_scans_a_room_and_signs_off_its_patrol_item_by_item(
    tmp_path: Path, facility: Facility, clock: FakeClock, phone: BrowserContext
) -> None:
    with running_checklist(tmp_path, facility, clock) as server:
        server.add_user("wang", Role.GUARD, "王保安")
        create_patrols(server)
        door_left_open(server)  # 08:05, B2-01
        sensors_report(server)
        task = server.patrol("B2-01", 8)
        set_phone_time(phone, clock)
        page = phone.new_page()

        # 08:40 wang scans the QR code beside B2-01's door, and logs in first.
        log_in(page, server.url, "wang", "/app/#/checkpoint/yunxi/B2-01")
        expect(page).to_have_url(f"{server.url}/app/#/task/{task.id}/1")
        task_page_shows_the_round_and_the_room(page)

        # Readings are filled in from the sensors; the guard confirms them.
        expect(page.locator("#item-label")).to_contain_text("库内温度")
        expect(page.locator("#reading-source")).to_have_text("已填入传感器读数（01/05 08:40）")
        record_reading(page, "19.9")
        step(page, 2)
        record_reading(page, "51.7")
        step(page, 3)
        answer_item(page, "pass")
        step(page, 4)

        refused_sign_off_lists_what_is_missing(page)
        step(page, 4)
        answer_item(page, "pass")

        # The dehumidifier's tank is full: a fail stays on the item for a note and a photo.
        step(page, 5)
        page.locator("#note-input").fill("除湿机水箱已满，已倒空")
        answer_item(page, "fail")
        expect(page.locator('#item button[data-answer="fail"]')).to_have_attribute(
            "aria-pressed", "true"
        )
        take_photo(page, "tank.png", 2400, 1800)
        expect(page.locator("#photo-count")).to_have_text("1 张照片")
        expect(page.locator("#sync")).to_have_text("已同步")
        expect(page.locator("body")).to_have_attribute("data-waiting", "0")
        screenshot(page, "item", full_page=True)
        page.locator("#next").tap()
        for number in range(6, 10):
            step(page, number)
            answer_item(page, "pass")
        step(page, "sign")

        expect(page.locator("#where")).to_have_text("地点：已扫描巡查点 B2-01")
        expect(page.locator("#missing")).to_have_count(0)
        page.locator("#sign").tap()
        expect(page.locator("#signed")).to_have_text("已签字")
        expect(page.locator("#task-badges")).to_contain_text("已完成")

        assert_recorded_with_a_failed_tank(server, task.id)

        # Back on the list: the round is done, the afternoon's still to do.
        page.locator(".back").tap()
        done = page.locator(f'#group-done a[data-task-id="{task.id}"]')
        expect(done).to_contain_text("已完成")
        expect(page.locator("#group-toDo h2")).to_have_text(f"待办 ({2 * ROOMS_PATROLLED - 1})")


def test_a_patrol_done_without_signal_is_kept_on_the_phone_and_sent_once(
    tmp_path: Path, facility: Facility, clock: FakeClock, phone: BrowserContext
) -> None:
    with running_checklist(tmp_path, facility, clock) as server:
        server.add_user("wang", Role.GUARD, "王保安")
        morning(server)
        task = server.patrol("B2-02", 8)
        set_phone_time(phone, clock)
        page = phone.new_page()

        # 08:40 upstairs, with signal: today's list, and the task pages read ahead.
        log_in(page, server.url, "wang")
        expect(page.locator("#group-toDo h2")).to_have_text(f"待办 ({2 * ROOMS_PATROLLED})")
        card = page.locator(f'a.task-card[data-task-id="{task.id}"]')
        expect(card).to_contain_text("B2-02 第二纸质档案库")
        expect(card).to_contain_text("时段 08:30–10:00")
        expect(card).to_contain_text("待办")
        screenshot(page, "tasks")
        wait_until_kept_for_offline(page, task.id)

        # Down in the basement: no signal at all.
        phone.set_offline(True)
        banner = page.locator("#net-text")
        expect(banner).to_have_text("离线：联网后自动同步")
        card.tap()
        # Under load the service worker may take a while to answer from its copy.
        expect(page.locator("#stale")).to_contain_text("离线副本", timeout=20_000)
        expect(page.locator("#task-title")).to_have_text("日巡查")
        answer_all_passing_with_a_photo_of_the_wall(page)
        # Each answer shows as kept on the phone, not sent.
        expect(page.locator('#chips button[data-sync="waiting"]')).to_have_count(9)
        expect(banner).to_have_text("离线：10 项记录保存在手机上，待同步")
        page.locator("#sign").tap()
        expect(page.locator("#signed")).to_have_text("已在手机上签字，待同步")
        # Nine answers, a photo and the sign-off wait on the phone.
        expect(banner).to_have_text("离线：11 项记录保存在手机上，待同步")
        assert requests_of(server, task.id) == []

        # The phone restarts in the basement: the app and what it holds are still there.
        page.reload()
        page.locator(".back").tap()
        expect(banner).to_have_text("离线：11 项记录保存在手机上，待同步")
        signed_on_phone = page.locator(f'#group-done a[data-task-id="{task.id}"]')
        expect(signed_on_phone).to_contain_text("已在手机上签字，待同步")
        signed_on_phone.scroll_into_view_if_needed()
        screenshot(page, "offline")

        # 09:05 back upstairs. The first answer reaches the server but its reply is lost
        # on the way back: the phone sends it again, and the server keeps one copy.
        server.clock.set(local(5, 9, 5))
        lost: list[int] = []

        def lose_the_reply(route: Route) -> None:
            if lost:
                route.continue_()
                return
            lost.append(route.fetch().status)
            route.abort("connectionreset")

        page.route("**/api/inspections/tasks/*/answers/*", lose_the_reply)
        phone.set_offline(False)
        expect(banner).to_be_hidden(timeout=15_000)
        expect(page.locator("body")).to_have_attribute("data-waiting", "0")
        expect(page.locator(f'#group-done a[data-task-id="{task.id}"]')).to_contain_text("已完成")
        assert lost == [200]

        assert_recorded_once_as_signed_in_the_basement(server, task.id)


def test_language_switch_is_remembered_on_the_phone(
    tmp_path: Path, facility: Facility, clock: FakeClock, phone: BrowserContext
) -> None:
    with running_checklist(tmp_path, facility, clock) as server:
        server.add_user("wang", Role.GUARD, "王保安")
        morning(server)
        task = server.patrol("B3-01", 8)
        set_phone_time(phone, clock)
        page = phone.new_page()
        log_in(page, server.url, "wang")
        toggle = page.locator("#lang-toggle")
        expect(toggle).to_have_text("English")
        toggle.tap()
        expect(page.locator("html")).to_have_attribute("lang", "en")
        expect(page.locator("#group-toDo h2")).to_have_text(f"To do ({2 * ROOMS_PATROLLED})")
        card = page.locator(f'a.task-card[data-task-id="{task.id}"]')
        expect(card).to_contain_text("B3-01 Audio-visual tape stack")
        expect(card).to_contain_text("Window 08:30–10:00")
        expect(card).to_contain_text("0/9 answered")
        expect(toggle).to_have_text("中文")

        page.reload()
        expect(page.locator("#group-toDo h2")).to_have_text(f"To do ({2 * ROOMS_PATROLLED})")
        card.tap()
        expect(page.locator("#item-label")).to_contain_text("Stack temperature")
        expect(page.locator("#item-label .label-other")).to_have_text("库内温度")
        expect(page.locator("#record-reading")).to_have_text("Record reading")
        toggle.tap()
        expect(page.locator("#record-reading")).to_have_text("记录读数")


def test_an_expired_login_keeps_the_phone_s_records_until_the_guard_logs_in_again(
    tmp_path: Path, facility: Facility, clock: FakeClock, phone: BrowserContext
) -> None:
    with running_checklist(tmp_path, facility, clock) as server:
        server.add_user("wang", Role.GUARD, "王保安")
        morning(server)
        task = server.patrol("B2-03", 8)
        set_phone_time(phone, clock)
        page = phone.new_page()
        log_in(page, server.url, "wang")
        page.locator(f'a.task-card[data-task-id="{task.id}"]').tap()
        expect(page.locator("#task-title")).to_have_text("日巡查")

        phone.set_offline(True)
        record_reading(page, "20")
        record_reading(page, "50")
        expect(page.locator("#net-text")).to_have_text("离线：2 项记录保存在手机上，待同步")

        # Two hours in the stacks: the session ended after an hour without a request.
        server.clock.advance(timedelta(hours=2))
        phone.set_offline(False)
        login_banner = page.locator("#login-banner")
        expect(login_banner).to_contain_text("登录已过期，请重新登录。手机上的记录会保留。")
        expect(page.locator("body")).to_have_attribute("data-waiting", "2")
        assert requests_of(server, task.id) == []

        page.locator("#login-link").tap()
        fill_login(page, "wang")
        expect(page).to_have_url(f"{server.url}/app/#/task/{task.id}/3")
        expect(page.locator("body")).to_have_attribute("data-waiting", "0")
        expect(login_banner).to_be_hidden()
        assert [a.item_key for a in server.task(task.id).answers] == ["temperature", "humidity"]


def test_a_refused_answer_stays_visible_with_the_server_s_reason(
    tmp_path: Path, facility: Facility, clock: FakeClock, phone: BrowserContext
) -> None:
    with running_checklist(tmp_path, facility, clock) as server:
        server.add_user("wang", Role.GUARD, "王保安")
        server.add_user("li", Role.GUARD, "李保安")
        morning(server)
        task = server.patrol("B2-04", 8)
        set_phone_time(phone, clock)
        page = phone.new_page()
        log_in(page, server.url, "wang")
        page.locator(f'a.task-card[data-task-id="{task.id}"]').tap()
        expect(page.locator("#task-title")).to_have_text("日巡查")
        phone.set_offline(True)
        page.locator("#reading-input").fill("17.5")  # read off the wall thermometer
        page.locator("#record-reading").tap()

        # Meanwhile li does the same round on another phone and signs it off.
        at = server.clock.now()
        for n, item in enumerate(PATROL_ITEMS):
            value = {"temperature": 17.0, "humidity": 50.0}.get(item)
            server.inspections.answer(task.id, item, Result.PASS, value, "", "li", at, f"li-{n}")
        server.inspections.sign_off(task.id, "li", at, None, "li-sign")

        phone.set_offline(False)
        page.locator('#chips button[data-item="temperature"]').tap()
        sync = page.locator("#sync")
        expect(sync).to_contain_text("服务器拒绝：")
        expect(sync).to_contain_text("已签到，不能再修改")
        expect(page.locator("#net-text")).to_have_text("1 项记录发送失败，请查看")
        page.locator("#net-link").tap()
        expect(page.locator('.outbox-list li[data-state="refused"]')).to_contain_text("答案")
        assert [a.answered_by for a in server.task(task.id).answers] == ["li"] * 9


def test_the_room_s_alarms_since_its_last_patrol_are_on_the_task_page(
    tmp_path: Path, facility: Facility, clock: FakeClock, phone: BrowserContext
) -> None:
    with running_checklist(tmp_path, facility, clock) as server:
        server.add_user("wang", Role.GUARD, "王保安")
        create_patrols(server)
        # 07:10 B3-01's humidity rose; it was back within limits by 07:50.
        server.clock.set(local(5, 7, 10))
        server.console.raise_alarm(
            "climate_rh:yunxi:B3-01",
            "B3-01",
            severity=Severity.MEDIUM,
            category=Category.CLIMATE,
            message_zh="音像磁带库相对湿度 63%，高于上限 60%",
            message_en="Audio-visual tape stack RH 63 %, above the 60 % limit",
        )
        server.clock.set(local(5, 7, 50))
        server.console.raise_alarm("climate_rh:yunxi:B3-01", "B3-01", transition=Transition.CLEAR)
        server.clock.set(local(5, 8, 40))
        task = server.patrol("B3-01", 8)
        set_phone_time(phone, clock)
        page = phone.new_page()
        log_in(page, server.url, "wang", f"/app/#/task/{task.id}/1")
        alarms = page.locator("#room-alarms li")
        expect(alarms).to_have_count(1)
        expect(alarms.first).to_contain_text("中 音像磁带库相对湿度 63%，高于上限 60%")
        expect(alarms.first).to_contain_text("01/05 07:10 · 01/05 07:50 已恢复")
        page.locator("#lang-toggle").tap()
        expect(alarms.first).to_contain_text("Medium Audio-visual tape stack RH 63 %")
        expect(alarms.first).to_contain_text("5 Jan, 07:10 · cleared 5 Jan, 07:50")
        other = server.patrol("B2-01", 8)
        page.goto(f"{server.url}/app/#/task/{other.id}/1")
        expect(page.locator("#no-alarms")).to_have_text("No alarms since the last patrol")


def test_the_checkpoint_sheet_has_a_code_per_room_and_a_scan_between_rounds_says_so(
    tmp_path: Path, facility: Facility, clock: FakeClock, phone: BrowserContext
) -> None:
    with running_checklist(tmp_path, facility, clock) as server:
        server.add_user("wang", Role.GUARD, "王保安")
        morning(server)
        # B2-03's morning round was done on another phone at 08:35.
        done = server.patrol("B2-03", 8)
        at = local(5, 8, 35)
        for n, item in enumerate(PATROL_ITEMS):
            value = {"temperature": 20.0, "humidity": 50.0}.get(item)
            server.inspections.answer(done.id, item, Result.PASS, value, "", "li", at, f"li-{n}")
        server.inspections.sign_off(done.id, "li", at, "B2-03", "li-sign")
        set_phone_time(phone, clock)
        page = phone.new_page()
        log_in(page, server.url, "wang")

        page.goto(f"{server.url}/checkpoints/yunxi")
        cards = page.locator("article.card")
        expect(cards).to_have_count(ROOMS_PATROLLED)
        for index in range(ROOMS_PATROLLED):
            expect(cards.nth(index).locator(".qr svg")).to_be_visible()
        card = page.locator('article.card[data-room="B2-03"]')
        expect(card.locator(".name-zh")).to_have_text("第三纸质档案库")
        url = card.get_attribute("data-url")
        assert url == "https://lantai.example.org/app/#/checkpoint/yunxi/B2-03"

        # 08:40 wang scans B2-03: its morning round is signed, the next opens at 16:30.
        page.goto(server.url + checkpoint_path(url))
        expect(page.locator("#checkpoint-none")).to_have_text(
            "B2-03 现在没有进行中的任务。今天稍后的任务："
        )
        later = page.locator("a.task-card")
        expect(later).to_have_count(1)
        expect(later).to_contain_text("16:30–17:30")


def test_a_shared_phone_sends_each_guard_s_records_only_in_their_own_session(
    tmp_path: Path, facility: Facility, clock: FakeClock, phone: BrowserContext
) -> None:
    with running_checklist(tmp_path, facility, clock) as server:
        server.add_user("wang", Role.GUARD, "王保安")
        server.add_user("li", Role.GUARD, "李保安")
        morning(server)
        task = server.patrol("B3-02", 8)
        set_phone_time(phone, clock)
        page = phone.new_page()
        log_in(page, server.url, "wang")
        page.locator(f'a.task-card[data-task-id="{task.id}"]').tap()
        expect(page.locator("#reading-input")).to_have_value("20")
        phone.set_offline(True)
        record_reading(page, "20")
        expect(page.locator("#net-text")).to_have_text("离线：1 项记录保存在手机上，待同步")

        # wang's session ends while he is in the stacks; li takes the phone and logs in.
        server.clock.advance(timedelta(hours=2))
        phone.set_offline(False)
        expect(page.locator("#login-banner")).to_be_visible()
        page.locator("#login-link").tap()
        fill_login(page, "li")
        expect(page.locator("#user")).to_have_text("李保安")
        expect(page.locator("#net-text")).to_have_text("1 项记录由其他用户填写，待其登录后发送")
        page.locator("#net-link").tap()
        expect(page.locator(".outbox-list li")).to_contain_text("待 wang 登录后发送")
        assert requests_of(server, task.id) == []

        # li hands the phone back: logging out keeps wang's record, which goes with his login.
        page.locator(".back").tap()
        page.locator("#logout").tap()
        fill_login(page, "wang")
        expect(page.locator("#user")).to_have_text("王保安")
        expect(page.locator("body")).to_have_attribute("data-waiting", "0")
        [answer] = server.task(task.id).answers
        assert (answer.item_key, answer.answered_by, answer.value) == ("temperature", "wang", 20.0)


def test_a_photo_the_server_will_not_take_stays_on_the_phone_with_the_reason(
    tmp_path: Path, facility: Facility, clock: FakeClock, phone: BrowserContext
) -> None:
    # A console configured to take photos of at most 10 kB: the phone's are larger.
    with running_checklist(tmp_path, facility, clock, photo_limit=10_000) as server:
        server.add_user("wang", Role.GUARD, "王保安")
        morning(server)
        task = server.patrol("B3-03", 8)
        set_phone_time(phone, clock)
        page = phone.new_page()
        log_in(page, server.url, "wang", f"/app/#/task/{task.id}/4")
        expect(page.locator("#item-label")).to_contain_text("无漏水")
        take_photo(page, "leak.png", 1600, 1200)
        answer_item(page, "pass")
        expect(page.locator("#net-text")).to_have_text("1 项记录发送失败，请查看")
        page.locator("#net-link").tap()
        failed = page.locator('.outbox-list li[data-state="failed"]')
        expect(failed).to_contain_text("发送失败")
        expect(failed).to_contain_text("照片")
        expect(failed.locator(".message")).to_contain_text("照片过大")
        assert server.photo_rows(task.id) == []
        # The answer itself went through; the photo waits for the guard's decision.
        assert [a.item_key for a in server.task(task.id).answers] == ["no-leaks"]
        expect(failed.get_by_role("button", name="重试")).to_be_visible()


def test_the_page_reads_the_same_cache_the_service_worker_keeps() -> None:
    # api.js falls back to the service worker's copy itself when a slow phone times out
    # first; both must name the one cache, and the tests' wait names it too.
    app = Path(__file__).resolve().parent.parent / "console" / "static" / "app"
    sw = (app / "sw.js").read_text(encoding="utf-8")
    api = (app / "api.js").read_text(encoding="utf-8")
    version = re.search(r'const VERSION = "([^"]+)";', sw)
    assert version is not None
    assert "const DATA_CACHE = `${VERSION}-data`;" in sw
    assert f'const DATA_CACHE = "{version.group(1)}-data";' in api
    assert f"{version.group(1)}-data" == APP_CACHE
