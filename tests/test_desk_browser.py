"""The security desk in headless Chromium, as the people at it use it: each role logs in and
is offered what it may do; a fire arrives live and is handled from the queue; the live
feed is cut and comes back; the language follows the account; a room's page draws its
charts with the allowed band; the sensor-health page; a supervisor edits a procedure; the
demo's fire control.

Every test runs the real console (tests/console_server.py) on SQLite files and a fake
clock, in the session's one headless Chromium (the ``browser`` of tests/conftest.py). Set
LANTAI_SCREENSHOTS=1 to refresh docs/screenshots/desk-*.png.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from alerts.models import AlarmState, Via
from collectors.quarantine import Reason
from console.app import create_app
from console.auth import Language, Role
from console.demo_actions import DemoScenario
from console.stream import STREAM_PATH
from sensors.clock import FakeClock
from sensors.events import Category, Severity, Transition
from sensors.facility import Facility, load_facility
from tests.conftest import EXAMPLE_SITE
from tests.console_server import DESK_PASSWORD, SITE, Console, console_stores, serve
from tests.test_console_browser import (
    FIRE_EN,
    FIRE_ZH,
    SCREENSHOTS,
    acknowledge,
    fill_archive,
    log_in,
    open_desk,
)

try:
    from playwright.sync_api import Browser, Locator, Page, expect
except ImportError:  # the dev dependencies were installed without it
    pytest.skip("the playwright package is not installed", allow_module_level=True)

pytestmark = pytest.mark.browser

WANT_SCREENSHOTS = os.environ.get("LANTAI_SCREENSHOTS") == "1"
NIGHT = datetime(2026, 1, 5, 13, 0, tzinfo=UTC)  # 21:00 in Shanghai


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    # A desk monitor: the queue and both floors of tiles on one screen.
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    yield context.new_page()
    context.close()


@contextlib.contextmanager
def desk(
    tmp_path: Path, facility: Facility, clock: FakeClock, **options: object
) -> Iterator[Console]:
    """A running console with a believable night in it; ``options`` go to its context."""
    with console_stores(tmp_path, facility, clock) as console:
        fill_archive(console)
        with serve(create_app(console.context(**options))) as url:
            console.url = url
            yield console


def raise_fire(console: Console, room: str = "B2-03") -> int:
    """Two smoke detectors in ``room``, as the rules report them; the alarm's id."""
    change = console.raise_alarm(
        f"smoke:{SITE}:{room}", room, message_zh=FIRE_ZH, message_en=FIRE_EN, sensor="b203-smoke1"
    )
    return change.alarm.id


def pass_time(console: Console, seconds: int) -> None:
    """Let ``seconds`` pass on the fake clock with every sensor reporting each minute, as
    they do (else the climate sensors, due every minute, would turn stale)."""
    for _ in range(seconds // 60):
        console.clock.advance(60)
        console.report_quiet()
    console.clock.advance(seconds % 60)


def row(page: Page, alarm_id: int) -> Locator:
    return page.locator(f'#alarm-rows tr[data-alarm-id="{alarm_id}"]')


# -- roles ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Offer:
    """What the desk offers a role: its name on the page, the buttons, the shelve spans."""

    role_text: str
    acknowledges: bool
    shelve_choices: int  # 0: no shelve button at all
    longest_shelve: str | None
    edits_procedures: bool
    injects_fires: bool


OFFERS = {
    Role.OPERATOR: Offer("值班员", True, 3, "1 小时", False, True),
    Role.SUPERVISOR: Offer("主管", True, 8, "24 小时", True, False),
    Role.ADMIN: Offer("管理员", True, 8, "24 小时", True, True),
    Role.VIEWER: Offer("只读", False, 0, None, False, False),
}


class RecordingInjector:
    """The simulator's side of demo mode, kept short: a staged fire reaches the alarm
    service as the rules would raise it, without the MQTT round trip."""

    def __init__(self) -> None:
        self.console: Console | None = None
        self.staged: list[tuple[DemoScenario, str, str | None]] = []

    def inject(self, scenario: DemoScenario, site: str, room: str | None) -> None:
        assert self.console is not None, "the test hands the console over first"
        assert room is not None, "a fire is staged in a room"
        self.staged.append((scenario, site, room))
        raise_fire(self.console, room)


@pytest.mark.parametrize("role", list(OFFERS), ids=[r.value for r in OFFERS])
def test_each_role_is_offered_what_it_may_do(
    tmp_path: Path, facility: Facility, clock: FakeClock, page: Page, role: Role
) -> None:
    offer = OFFERS[role]
    clock.set(NIGHT)
    injector = RecordingInjector()
    with desk(tmp_path, facility, clock, demo=injector) as console:
        injector.console = console
        console.health = {**console.health, "demo": True}  # the demo says so in its health
        fire = raise_fire(console)
        log_in(page, console, f"desk-{role.value}", role)
        open_desk(page, console)
        expect(page.locator("#user-role")).to_have_text(offer.role_text)
        expect(page.locator("#logout")).to_be_visible()
        fire_row = row(page, fire)
        expect(fire_row.locator("a.details")).to_have_text("详情")
        expect(fire_row.locator("button.ack")).to_have_count(1 if offer.acknowledges else 0)
        expect(fire_row.locator("button.shelve")).to_have_count(1 if offer.shelve_choices else 0)
        expect(page.locator("#read-only-note")).to_be_visible(visible=not offer.acknowledges)
        if not offer.acknowledges:
            expect(page.locator("#read-only-note")).to_have_text(
                "只读账户：可以查看告警和库房，不能确认或搁置告警。"
            )
        if offer.shelve_choices:
            fire_row.locator("button.shelve").click()
            expect(page.locator("#shelve-for option")).to_have_count(offer.shelve_choices)
            expect(page.locator("#shelve-for option").last).to_have_text(offer.longest_shelve or "")
            page.locator("#dialog-cancel").click()
        expect(page.locator("#demo-fire")).to_be_visible(visible=offer.injects_fires)

        # The alarm's page: the procedure beside it, editable by a supervisor only.
        fire_row.locator("a.details").click()
        expect(page.locator("#sop-title")).to_have_text("火警处置程序")
        expect(page.locator("#sop-edit")).to_have_count(1 if offer.edits_procedures else 0)
        expect(page.locator("#sop-edit-reason")).to_have_count(0 if offer.edits_procedures else 1)
        expect(page.locator("#alarm-ack")).to_have_count(1 if offer.acknowledges else 0)
        # Looking touched nothing.
        found = console.alarms.get(fire)
        assert found is not None
        assert found.state is AlarmState.UNACKED


def test_a_guard_is_sent_to_the_checklist_app(
    tmp_path: Path, facility: Facility, clock: FakeClock, page: Page
) -> None:
    with desk(tmp_path, facility, clock) as console:
        log_in(page, console, "wang", Role.GUARD)
        page.goto(console.url + "/")
        page.wait_for_url(console.url + "/app/**")
        assert page.url.startswith(console.url + "/app/")


def test_an_ended_session_goes_to_the_login_and_back_to_the_same_room(
    tmp_path: Path, facility: Facility, clock: FakeClock, page: Page
) -> None:
    with desk(tmp_path, facility, clock) as console:
        log_in(page, console, "chen")
        page.goto(console.url + "/?lang=zh#/room/yunxi/B2-02")
        expect(page.locator("#room-title")).to_have_text("第二纸质档案库")
        # The session ends under the open page (expired, or ended elsewhere): its next
        # request is a 401, which goes to the login page, and from there back here.
        page.context.clear_cookies()
        page.wait_for_url("**/login?next=*")
        page.fill("#username", "chen")
        page.fill("#password", DESK_PASSWORD)
        page.click("#submit")
        expect(page.locator("#room-title")).to_have_text("第二纸质档案库")
        assert page.url == console.url + "/?lang=zh#/room/yunxi/B2-02"

        # Logging out ends the session: the API answers 401 from then on.
        page.locator("#logout").click()
        page.wait_for_url("**/login**")
        assert page.request.get(console.url + "/api/sites").status == 401


def test_links_lead_to_reports_the_hazard_ledger_checkpoints_and_the_checklist_app(
    tmp_path: Path, facility: Facility, clock: FakeClock, page: Page
) -> None:
    with desk(tmp_path, facility, clock) as console:
        log_in(page, console, "qian", Role.VIEWER)
        open_desk(page, console)
        page.locator("details.links summary").click()
        expected = {
            "#link-weekly": "/api/reports/yunxi/weekly?format=html",
            "#link-monthly-csv": "/api/reports/yunxi/monthly?format=csv",
            "#link-quarterly": "/api/reports/yunxi/quarterly?format=html",
            "#link-hazards": "/api/hazards.csv?site=yunxi",
            "#link-checkpoints": "/checkpoints/yunxi",
            "#link-app": "/app/",
        }
        for selector, href in expected.items():
            link = page.locator(selector)
            expect(link).to_be_visible()
            expect(link).to_have_attribute("href", href)
        expect(page.locator("#link-weekly")).to_have_text("周报")
        # Each one answers the logged-in viewer (the page's own cookie).
        for href in expected.values():
            assert page.request.get(console.url + href).status == 200, href


def test_a_room_in_maintenance_says_so_on_its_tile(
    tmp_path: Path, facility: Facility, clock: FakeClock, page: Page
) -> None:
    clock.set(NIGHT)
    with desk(tmp_path, facility, clock) as console:
        log_in(page, console, "chen")
        open_desk(page, console)
        optical = page.locator('[data-room="B3-04"]')
        expect(optical.locator(".state")).to_have_text("离线")  # its light sensor is off
        console.service.open_window(
            site=SITE,
            room="B3-04",
            sensor=None,
            starts_at=NIGHT,
            ends_at=NIGHT + timedelta(hours=2),
            reason="更换光照传感器",
            by="he",
        )
        expect(optical.locator(".state")).to_have_text("维护中")
        expect(optical).to_have_attribute("data-state", "maintenance")


def two_site_facility(tmp_path: Path) -> Facility:
    """The example archive and a branch in another time zone (UTC+6)."""
    text = EXAMPLE_SITE.read_text(encoding="utf-8") + BRANCH_SITE
    path = tmp_path / "two-sites.yaml"
    path.write_text(text, encoding="utf-8")
    return load_facility(path)


BRANCH_SITE = """
  - id: dongshan
    name: {zh: 东山分馆, en: Dongshan branch}
    timezone: Asia/Urumqi
    buildings:
      - id: annex
        name: {zh: 附楼, en: Annex}
        floors:
          - id: F1
            name: {zh: 一层库区, en: Ground floor stacks}
            rooms:
              - id: D1-01
                name: {zh: 东山第一库, en: Dongshan stack 1}
                class: paper
                sensors:
                  - {id: d101-th, kind: climate}
"""


def test_several_sites_get_a_picker_and_each_shows_in_its_own_time_zone(
    tmp_path: Path, clock: FakeClock, page: Page
) -> None:
    clock.set(NIGHT)
    facility = two_site_facility(tmp_path)
    with (
        console_stores(tmp_path, facility, clock) as console,
        serve(create_app(console.context())) as url,
    ):
        console.url = url
        yunxi = [room for site, room in facility.rooms if site == SITE]
        console.report_quiet(rooms=yunxi)
        raise_fire(console)
        log_in(page, console, "root", Role.ADMIN, sites=())  # no list: every site
        open_desk(page, console)
        picker = page.locator("#site-picker")
        expect(picker.locator("option")).to_have_count(2)
        expect(page.locator("#site-name")).to_have_text("云溪市档案馆")
        expect(page.locator("#clock")).to_contain_text("21:00")  # Shanghai
        expect(page.locator("#alarm-rows tr")).to_have_count(1)  # yunxi's fire

        picker.select_option("dongshan")
        expect(page.locator("#site-name")).to_have_text("东山分馆")
        expect(page.locator("#clock")).to_contain_text("19:00")  # Urumqi
        expect(page.locator('[data-room="D1-01"] .name')).to_have_text("东山第一库")
        expect(page.locator('[data-room="B2-01"]')).to_have_count(0)
        expect(page.locator("#no-alarms")).to_be_visible()
        assert "site=dongshan" in page.url
        page.reload()  # the choice is in the address
        expect(page.locator("#site-name")).to_have_text("东山分馆")

        # A desk operator granted one site gets no picker. Leave the desk first: once its
        # cookie is gone its live stream sends it to the login page, racing our navigation.
        page.goto("about:blank")
        page.context.clear_cookies()
        log_in(page, console, "chen")
        page.goto(console.url + "/")
        expect(page.locator("#site-name")).to_have_text("云溪市档案馆")
        expect(page.locator("#site-picker-wrap")).to_be_hidden()


# -- a fire, handled end to end ------------------------------------------------------------


def test_a_fire_arrives_live_is_acknowledged_with_a_comment_and_the_tile_turns(
    tmp_path: Path, facility: Facility, clock: FakeClock, page: Page
) -> None:
    clock.set(NIGHT)
    with desk(tmp_path, facility, clock) as console:
        log_in(page, console, "chen")
        open_desk(page, console)
        tile = page.locator('[data-room="B2-03"]')
        expect(tile.locator(".state")).to_have_text("正常")
        page.evaluate("window.sameDocument = true")  # gone if the page reloads

        # 21:00:10 the rules raise a fire in Paper stack 3.
        clock.advance(10)
        fire = raise_fire(console)
        fire_row = row(page, fire)
        expect(fire_row).to_contain_text(FIRE_ZH, timeout=1000)
        expect(fire_row).to_contain_text("21:00:10")
        expect(page.locator("#alarm-rows tr").first).to_have_attribute("data-alarm-id", str(fire))
        expect(tile.locator(".state")).to_have_text("告警")
        expect(tile).to_have_class("tile tile-alarm")
        expect(page.locator("#unacked-badge")).to_have_text("2 条未确认告警")
        # Read out to a screen reader too, in words: severity, room, message.
        expect(page.locator("#alarm-announce")).to_have_text(f"紧急 · 第三纸质档案库 · {FIRE_ZH}")
        if WANT_SCREENSHOTS:
            # The page's clock follows the server's after its next health poll.
            expect(page.locator("#clock")).to_contain_text("21:00:1")
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / "desk-queue.png"), full_page=True)
            page.locator("section.rooms").screenshot(path=str(SCREENSHOTS / "desk-board.png"))

        # 21:01:30 chen takes it, with what was done.
        pass_time(console, 80)
        acknowledge(page, fire, "已派李卫东携灭火器前往现场")
        expect(fire_row.locator(".alarm-state .badge")).to_have_text("已确认")
        expect(fire_row).to_contain_text("chen")
        expect(tile).to_contain_text("1 条告警 · 已确认")
        expect(page.locator("#action-status")).to_have_text("已确认 1 条告警")
        entry = next(e for e in console.alarms.timeline(fire) if e.action == "acked")
        assert (entry.by, entry.via, entry.comment) == (
            "chen",
            Via.CONSOLE,
            "已派李卫东携灭火器前往现场",
        )

        # Its timeline: who did what, and the procedure beside it.
        fire_row.locator("a.details").click()
        trail = page.locator("#audit-trail")
        expect(trail).to_contain_text("已派李卫东携灭火器前往现场")
        expect(trail.locator('tr[data-action="acked"]')).to_contain_text("值班台")
        expect(page.locator("#alarm-state")).to_have_text("已确认")
        expect(page.locator("#sop-text")).to_contain_text("119")
        page.locator("a.back").click()

        # 21:06 the smoke clears: acknowledged and normal, the alarm closes.
        pass_time(console, 270)
        console.raise_alarm(f"smoke:{SITE}:B2-03", "B2-03", transition=Transition.CLEAR)
        expect(fire_row).to_have_count(0)
        expect(tile.locator(".state")).to_have_text("正常")
        assert page.evaluate("window.sameDocument") is True


def test_shelving_for_an_hour_shows_the_expiry_and_is_recorded(
    tmp_path: Path, facility: Facility, clock: FakeClock, page: Page
) -> None:
    clock.set(NIGHT)
    with desk(tmp_path, facility, clock) as console:
        humid = console.alarms.list(states=(AlarmState.UNACKED,))[0]
        log_in(page, console, "chen")
        open_desk(page, console)
        row(page, humid.id).locator("button.shelve").click()
        dialog = page.locator("#action-dialog")
        # A reason is required: nothing is sent without one.
        dialog.locator("#shelve-for").select_option("60")
        dialog.locator("#dialog-ok").click()
        expect(page.locator("#dialog-error")).to_have_text("请填写搁置原因")
        unshelved = console.alarms.get(humid.id)
        assert unshelved is not None
        assert unshelved.shelved_until is None

        dialog.locator("#shelve-reason").fill("除湿机已报修，等待维修")
        dialog.locator("#dialog-ok").click()
        expect(dialog).to_be_hidden()
        expect(row(page, humid.id)).to_contain_text("已搁置至 2026/01/05 21:59")
        shelved = console.alarms.get(humid.id)
        assert shelved is not None
        assert shelved.shelved_until is not None
        assert timedelta(minutes=59) <= shelved.shelved_until - NIGHT <= timedelta(hours=1)
        assert (shelved.shelved_by, shelved.shelve_reason) == ("chen", "除湿机已报修，等待维修")

        # Back from the shelf with one click.
        row(page, humid.id).locator("button.unshelve").click()
        expect(page.locator("#action-status")).to_have_text("已取消搁置")
        expect(row(page, humid.id).locator("button.shelve")).to_have_count(1)


# -- the live feed -------------------------------------------------------------------------


class StreamCutter:
    """A fault between the browser and the console, as a middleware: ``cut()`` ends every
    open alarm stream and refuses new ones (503) until ``restore()``, the way a proxy or a
    restarting service would. Everything else passes untouched."""

    def __init__(self) -> None:
        self._cut = threading.Event()

    def cut(self) -> None:
        self._cut.set()

    def restore(self) -> None:
        self._cut.clear()

    def __call__(self, app: ASGIApp) -> ASGIApp:
        cutter = self._cut

        async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http" or scope["path"] != STREAM_PATH:
                await app(scope, receive, send)
                return
            if cutter.is_set():
                await send({"type": "http.response.start", "status": 503, "headers": []})
                await send({"type": "http.response.body", "body": b"cut by the test"})
                return
            started = False

            async def watched(message: Message) -> None:
                nonlocal started
                started = started or message["type"] == "http.response.start"
                await send(message)

            stream = asyncio.ensure_future(app(scope, receive, watched))
            while not stream.done():
                await asyncio.wait({stream}, timeout=0.05)
                if cutter.is_set() and not stream.done():
                    stream.cancel()
                    with contextlib.suppress(asyncio.CancelledError):  # the cancel we asked for
                        await stream
                    if started:  # end the response cleanly: the browser sees the stream end
                        await send({"type": "http.response.body", "body": b"", "more_body": False})
                    return
            stream.result()

        return guarded


class _Cut:
    """Starlette's middleware shape around a StreamCutter."""

    def __init__(self, app: ASGIApp, cutter: StreamCutter) -> None:
        self._app = cutter(app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)


def test_the_desk_says_when_the_live_feed_is_cut_and_reconnects_by_itself(
    tmp_path: Path, facility: Facility, clock: FakeClock, page: Page
) -> None:
    clock.set(NIGHT)
    cutter = StreamCutter()
    with console_stores(tmp_path, facility, clock) as console:
        app = create_app(console.context(keepalive_seconds=0.5))
        app.add_middleware(_Cut, cutter=cutter)
        with serve(app) as url:
            console.url = url
            log_in(page, console, "chen")
            open_desk(page, console)
            banner = page.locator("#live-banner")
            expect(banner).to_be_hidden()

            cutter.cut()
            expect(banner).to_be_visible(timeout=3000)
            expect(banner).to_have_text("实时连接已断开，正在重新连接…")
            expect(page.locator("body")).to_have_attribute("data-live", "lost")
            # Meanwhile the list is polled: a fire raised during the cut still shows.
            fire = raise_fire(console)
            expect(row(page, fire)).to_have_count(1, timeout=5000)
            expect(banner).to_be_visible()

            cutter.restore()
            expect(banner).to_be_hidden(timeout=8000)
            expect(page.locator("body")).to_have_attribute("data-live", "connected")
            # Live again: the next alarm arrives by the stream, within a second.
            water = console.raise_alarm(
                f"leak:{SITE}:B2-01",
                "B2-01",
                category=Category.WATER,
                message_zh="第一纸质档案库漏水",
                message_en="Water in Paper stack 1",
            ).alarm
            expect(row(page, water.id)).to_have_count(1, timeout=1000)


# -- language ------------------------------------------------------------------------------


def test_the_language_switch_is_kept_with_the_account(
    tmp_path: Path, facility: Facility, clock: FakeClock, browser: Browser
) -> None:
    with desk(tmp_path, facility, clock) as console:
        first = browser.new_context(viewport={"width": 1400, "height": 900})
        page = first.new_page()
        log_in(page, console, "chen")
        open_desk(page, console, "")
        expect(page.locator("#rooms-title")).to_have_text("库房状态")
        expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
        page.locator("#lang-toggle").click()
        expect(page.locator("#rooms-title")).to_have_text("Rooms")
        expect(page.locator("#user-role")).to_have_text("Desk operator")
        expect(page.locator("html")).to_have_attribute("lang", "en")
        account = console.auth.users.get("chen")
        assert account is not None
        expect_language(console, "chen", Language.EN)
        first.close()

        # Another browser, nothing remembered in it: the account's choice holds.
        second = browser.new_context(viewport={"width": 1400, "height": 900})
        page = second.new_page()
        log_in(page, console, "chen")
        open_desk(page, console, "")
        expect(page.locator("#rooms-title")).to_have_text("Rooms")
        expect(page.locator('[data-room="B2-01"] .state')).to_have_text("Normal")
        page.locator("#lang-toggle").click()
        expect(page.locator("#rooms-title")).to_have_text("库房状态")
        expect_language(console, "chen", Language.ZH_CN)
        second.close()


def expect_language(console: Console, username: str, language: Language) -> None:
    """The account's language becomes ``language`` (the page saves it in the background)."""
    for _ in range(50):
        account = console.auth.users.get(username)
        if account is not None and account.language is language:
            return
        threading.Event().wait(0.1)
    account = console.auth.users.get(username)
    assert account is not None
    assert account.language is language


# -- the room page -------------------------------------------------------------------------


def a_day_of_readings(console: Console, end: datetime) -> None:
    """Paper stack 2 over the last 24 h, every 10 minutes: warm by day, humid at night,
    its humidity crossing the room's tight 45–55 % band before dawn; the door opened twice."""
    start = end - timedelta(hours=24)
    for step in range(24 * 6 + 1):  # the last at ``end``: the newest, not yet history
        at = start + timedelta(minutes=10 * step)
        hour = (at.hour + 8) % 24  # Shanghai
        warm = 1.0 if 9 <= hour < 18 else 0.0
        humid = 3.0 if hour < 6 else 0.0
        door = "open" if step in (40, 100) else "closed"
        console.report(
            {
                "b202-th1": {"temperature": 19.0 + warm, "humidity": 51.0 + humid},
                "b202-th2": {"temperature": 19.4 + warm, "humidity": 52.5 + humid, "battery": 64},
                "b202-door": {"door": door},
                "b202-smoke": {"smoke": False},
            },
            at=at,
        )


def test_the_room_page_draws_temperature_and_humidity_with_the_allowed_band(
    tmp_path: Path, facility: Facility, clock: FakeClock, page: Page
) -> None:
    clock.set(NIGHT)
    with (
        console_stores(tmp_path, facility, clock) as console,
        serve(create_app(console.context())) as url,
    ):
        console.url = url
        a_day_of_readings(console, NIGHT)
        log_in(page, console, "chen")
        open_desk(page, console)
        page.locator('[data-room="B2-02"]').click()
        expect(page).to_have_url(console.url + "/?lang=zh#/room/yunxi/B2-02")
        expect(page.locator("#room-title")).to_have_text("第二纸质档案库")

        temperature = page.locator("#chart-temperature")
        band = temperature.locator("rect.band")
        expect(band).to_have_attribute("data-min", "14")
        expect(band).to_have_attribute("data-max", "24")
        expect(temperature.locator(".band-label")).to_have_text("允许 14–24 °C")
        expect(temperature.locator("polyline")).to_have_count(2)  # one line per sensor
        # This stack's own band (an outside wall): 45–55 %, and the night's readings above it.
        humidity = page.locator("#chart-humidity")
        expect(humidity.locator("rect.band")).to_have_attribute("data-min", "45")
        expect(humidity.locator("rect.band")).to_have_attribute("data-max", "55")
        expect(humidity.locator("circle.out").first).to_be_visible()
        expect(humidity.locator("svg")).to_have_attribute(
            "aria-label", "相对湿度：最低 51，最高 56 %RH；允许 45–55 %RH"
        )
        expect(page.locator("#chart-dew_point polyline")).to_have_count(2)

        swing = page.locator('#room-swing tr[data-sensor="b202-th2"]')
        expect(swing).to_contain_text("1.0 °C（允许 ≤ 4.0 °C）")
        expect(swing).to_contain_text("在允许范围内")
        doors = page.locator("#room-doors tbody tr")
        expect(doors).to_have_count(5)  # closed at the start, then opened and closed twice
        expect(doors.first).to_contain_text("关门")
        sensor = page.locator('#room-sensors tr[data-sensor="b202-th2"]')
        expect(sensor).to_contain_text("64 %")
        expect(sensor).to_contain_text("正常")

        page.locator("#span-168").click()
        expect(page.locator("#span-168")).to_have_attribute("aria-pressed", "true")
        expect(page.locator("#chart-temperature rect.band")).to_have_count(1)
        page.locator("#span-24").click()
        expect(page.locator("#chart-temperature polyline")).to_have_count(2)
        if WANT_SCREENSHOTS:
            page.screenshot(path=str(SCREENSHOTS / "desk-room.png"), full_page=True)

        # A humidity alarm of one sensor: its page charts that sensor's readings around it,
        # with the room's band and the moment it was raised.
        humid = console.raise_alarm(
            f"climate_rh:{SITE}:b202-th2",
            "B2-02",
            severity=Severity.MEDIUM,
            category=Category.CLIMATE,
            message_zh="第二纸质档案库相对湿度 55.5%，高于上限 55%",
            message_en="Paper stack 2 RH 55.5 %, above the 55 % limit",
            sensor="b202-th2",
        ).alarm
        page.locator(f'#room-alarms tr[data-alarm-id="{humid.id}"] a').click()
        around = page.locator("#around-humidity")
        expect(around.locator("rect.band")).to_have_attribute("data-max", "55")
        expect(around.locator(".mark-label")).to_have_text("发生")
        expect(around.locator("polyline")).to_have_count(1)
        expect(page.locator("#around-temperature")).to_be_visible()
        expect(page.locator("#sop-title")).to_have_text("温湿度超限处置程序")


# -- sensor health -------------------------------------------------------------------------


def test_the_sensor_page_lists_offline_stale_low_battery_and_refused_messages(
    tmp_path: Path, facility: Facility, clock: FakeClock, page: Page
) -> None:
    clock.set(NIGHT)
    with desk(tmp_path, facility, clock) as console:
        # Ten minutes on: the sensors that report every minute (climate, heat) are stale;
        # b201-th2 speaks again, at 12 % battery.
        clock.advance(600)
        console.report({"b201-th2": {"temperature": 20.0, "humidity": 52.0, "battery": 12}})
        for _ in range(3):
            console.quarantine("archive/yunxi/B2-01/b201-th1", b"{oops", Reason.NOT_JSON, "bad")
        console.quarantine("archive/yunxi/B2-01/b299-x", b"{}", Reason.UNKNOWN_SENSOR, "who?")
        log_in(page, console, "chen")
        open_desk(page, console)
        page.locator('a[data-nav="sensors"]').click()
        expect(page.locator("#sensors-title")).to_have_text("传感器健康")

        offline = page.locator('#sensors-offline tr[data-sensor="b304-light"]')
        expect(offline).to_contain_text("离线")
        expect(page.locator('#sensors-stale tr[data-sensor="b203-heat"]')).to_contain_text("滞后")
        expect(page.locator('#sensors-battery tr[data-sensor="b201-th2"]')).to_contain_text("12 %")
        quarantine = page.locator("#sensors-quarantine")
        expect(quarantine.locator('tr[data-reason="not_json"]')).to_contain_text("不是 JSON")
        expect(quarantine.locator('tr[data-reason="not_json"] td.num')).to_have_text("3")
        expect(quarantine.locator('tr[data-reason="unknown_sensor"] td.num')).to_have_text("1")
        expect(quarantine).to_contain_text("共 4 条")

        offline.locator("a").click()
        expect(page.locator("#room-title")).to_have_text("光盘库")


# -- procedures ----------------------------------------------------------------------------


def test_a_supervisor_edits_the_fire_procedure_beside_the_alarm(
    tmp_path: Path, facility: Facility, clock: FakeClock, page: Page
) -> None:
    clock.set(NIGHT)
    with desk(tmp_path, facility, clock) as console:
        fire = raise_fire(console)
        log_in(page, console, "he", Role.SUPERVISOR)
        page.goto(f"{console.url}/?lang=zh#/alarm/{fire}")
        expect(page.locator("#sop-title")).to_have_text("火警处置程序")
        page.locator("#sop-edit").click()
        text = page.locator("#sop-text-zh")
        text.fill("1. 立即拨打 119。\n2. 值班主管电话：0571-0000-0000。")
        page.locator("#sop-note").fill("加上值班主管电话")
        page.locator("#sop-save").click()
        expect(page.locator("#sop-text p")).to_have_count(2)
        expect(page.locator("#sop-text")).to_contain_text("0571-0000-0000")
        expect(page.locator("#sop-edited")).to_contain_text("he 于 2026/01/05 21:00:00 更新")
        assert console.sops is not None
        saved = console.sops.current(Category.FIRE)
        assert (saved.version, saved.edited_by, saved.note) == (1, "he", "加上值班主管电话")
        assert saved.text.text_en.startswith("1. Confirm")  # the English left as it was


# -- demo mode -----------------------------------------------------------------------------


def test_in_demo_mode_an_operator_injects_a_fire_and_handles_it(
    tmp_path: Path, facility: Facility, clock: FakeClock, page: Page
) -> None:
    clock.set(NIGHT)
    injector = RecordingInjector()
    with desk(tmp_path, facility, clock, demo=injector) as console:
        injector.console = console
        console.health = {**console.health, "demo": True}
        log_in(page, console, "chen")
        open_desk(page, console)
        page.locator("#demo-room").select_option("B2-03")
        page.locator("#demo-fire").click()
        expect(page.locator("#action-status")).to_have_text("已在 第三纸质档案库 模拟火警")
        assert injector.staged == [(DemoScenario.FIRE, SITE, "B2-03")]
        fire = console.alarms.list(states=(AlarmState.UNACKED,))[0]
        assert fire.category is Category.FIRE
        expect(row(page, fire.id)).to_contain_text(FIRE_ZH)
        acknowledge(page, fire.id, "演示")
        expect(row(page, fire.id).locator(".alarm-state .badge")).to_have_text("已确认")


def test_without_demo_mode_there_is_no_fire_control(
    tmp_path: Path, facility: Facility, clock: FakeClock, page: Page
) -> None:
    with desk(tmp_path, facility, clock) as console:
        log_in(page, console, "chen")
        open_desk(page, console)
        expect(page.locator("#demo")).to_be_hidden()
        expect(page.locator('[data-room="B2-01"] .state')).to_have_text("正常")
