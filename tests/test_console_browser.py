"""The desk's page in headless Chromium: tiles with state words, a live critical alarm in 1 s,
acknowledging from the list, a read-only console, and the alarm tone.

Uses Debian's /usr/bin/chromium (never a downloaded browser build), as the session's one
``browser`` (tests/conftest.py). The helpers here (logging a page in, opening the desk,
acknowledging) are shared with tests/test_desk_browser.py, which also takes the README's
screenshots (LANTAI_SCREENSHOTS=1).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr

from alerts.models import Alarm, AlarmState, Via
from console.app import create_app
from console.auth import Role
from sensors.clock import FakeClock
from sensors.events import Category, Severity, Transition
from sensors.facility import Facility
from tests.console_server import DESK_PASSWORD, SITE, Console, console_stores, serve

try:
    from playwright.sync_api import Browser, Page, expect
except ImportError:  # the dev dependencies were installed without it
    pytest.skip("the playwright package is not installed", allow_module_level=True)

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
# A desktop browser's autoplay policy: an AudioContext starts suspended and resume() works
# only during a user activation (a click, a key). Headless Chromium lets every context run
# whatever --autoplay-policy says, so the test puts the policy back in front of the page.
AUTOPLAY_POLICY = """
(() => {
  const Real = window.AudioContext;
  window.AudioContext = class extends Real {
    constructor(...args) {
      super(...args);
      super.suspend();
    }
    resume() {
      return navigator.userActivation.isActive ? super.resume() : Promise.resolve();
    }
  };
})();
"""

FIRE_ZH = "火警：第三纸质档案库两个烟感同时报警"
FIRE_EN = "Fire: two smoke detectors in Paper stack 3"
# Desk people of the example alerting file: chen may shelve (can_shelve), li may not.
OPERATOR = "chen"
DISPLAY_NAMES = {"chen": "陈主任", "li": "李卫东", "he": "何科长", "qian": "钱馆长"}


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    yield context.new_page()
    context.close()


def log_in(
    page: Page,
    console: Console,
    username: str,
    role: Role = Role.OPERATOR,
    sites: tuple[str, ...] = (SITE,),
) -> None:
    """Log the page's browser in as ``username`` (made first, with ``role`` and ``sites``,
    if new; no sites: every site, for an admin): the session cookie lands in the page's
    cookie jar, as after the login form."""
    if console.auth.users.get(username) is None:
        name = DISPLAY_NAMES.get(username, username)
        console.auth.users.add(username, SecretStr(DESK_PASSWORD), role, sites, display_name=name)
    response = page.request.post(
        f"{console.url}/api/auth/login", data={"username": username, "password": DESK_PASSWORD}
    )
    assert response.status == 200, response.text()


def open_desk(page: Page, console: Console, query: str = "?lang=zh") -> None:
    """The desk's page, once its live stream is connected."""
    page.goto(f"{console.url}/{query}")
    expect(page.locator("body")).to_have_attribute("data-live", "connected")


def acknowledge(page: Page, alarm_id: int, comment: str = "") -> None:
    """The two clicks: the row's acknowledge button, then the dialog's."""
    page.locator(f'#alarm-rows tr[data-alarm-id="{alarm_id}"] button.ack').click()
    dialog = page.locator("#action-dialog")
    expect(dialog).to_be_visible()
    if comment:
        dialog.locator("#ack-comment").fill(comment)
    dialog.locator("#dialog-ok").click()


def fill_archive(console: Console) -> None:
    """A believable night: all rooms reporting, one humid, one sensor gone offline."""
    console.report_quiet(
        overrides={
            "b201-th1": {"temperature": 19.6, "humidity": 51.0},
            "b201-th2": {"temperature": 20.2, "humidity": 52.4},
            "b202-th1": {"temperature": 18.9, "humidity": 49.0},
            "b202-th2": {"temperature": 19.1, "humidity": 50.2},
            "b203-th1": {"temperature": 20.5, "humidity": 53.0},
            "b203-th2": {"temperature": 20.9, "humidity": 53.6},
            "b204-th1": {"temperature": 17.2, "humidity": 50.0},
            "b204-th2": {"temperature": 17.0, "humidity": 50.8},
            "b204-door": {"door": "open"},
            "b301-th1": {"temperature": 19.0, "humidity": 62.8},
            "b301-th2": {"temperature": 19.2, "humidity": 63.4},
            "b302-th": {"temperature": 18.0, "humidity": 45.0},
            "b303-th1": {"temperature": 14.1, "humidity": 40.0},
            "b303-th2": {"temperature": 14.3, "humidity": 40.6},
            "b304-th": {"temperature": 17.5, "humidity": 35.0},
        }
    )
    console.presence("b304-light", online=False)
    console.raise_alarm(
        "climate_rh:yunxi:B3-01",
        "B3-01",
        severity=Severity.MEDIUM,
        category=Category.CLIMATE,
        message_zh="音像磁带库相对湿度 63%，高于上限 60%",
        message_en="Audio-visual tape stack RH 63 %, above the 60 % limit",
    )


def test_page_shows_rooms_and_a_critical_alarm_live_within_1s(
    tmp_path: Path, facility: Facility, clock: FakeClock, page: Page
) -> None:
    clock.set(datetime(2026, 1, 5, 7, 20, tzinfo=UTC))  # 15:20 in Shanghai
    with console_stores(tmp_path, facility, clock) as console:
        fill_archive(console)
        with serve(create_app(console.context())) as url:
            console.url = url
            log_in(page, console, OPERATOR)
            open_desk(page, console)
            tile = page.locator('[data-room="B2-01"]')
            expect(tile.locator(".state")).to_have_text("正常")
            expect(tile).to_contain_text("19.9")  # the mean of 19.6 and 20.2
            expect(page.locator('[data-room="B3-01"] .state')).to_have_text("预警")
            expect(page.locator('[data-room="B3-04"] .state')).to_have_text("离线")
            expect(page.locator("#site-name")).to_have_text("云溪市档案馆")
            # The page tells the server's time, not the desk PC's.
            expect(page.locator("#clock")).to_contain_text("2026/01/05 15:20")
            expect(page.locator("#health-banner")).to_be_hidden()

            console.clock.advance(34)
            console.raise_alarm(
                "smoke:yunxi:B2-03", "B2-03", message_zh=FIRE_ZH, message_en=FIRE_EN
            )
            started = time.monotonic()
            rows = page.locator("#alarm-rows")
            expect(rows).to_contain_text(FIRE_ZH, timeout=1000)
            assert time.monotonic() - started < 1.0
            first = rows.locator("tr").first  # critical goes to the top
            expect(first).to_contain_text("紧急")
            expect(first).to_contain_text("火警")
            expect(first).to_contain_text("第三纸质档案库")
            expect(first).to_contain_text("15:20:34")  # raised time in Asia/Shanghai
            expect(page.locator('[data-room="B2-03"] .state')).to_have_text("告警")

            page.locator("#lang-toggle").click()
            expect(page.locator('[data-room="B2-03"] .state')).to_have_text("Alarm")
            expect(rows).to_contain_text(FIRE_EN)
            page.goto(url + "/")  # no ?lang: the account keeps the choice
            expect(page.locator('[data-room="B2-01"] .state')).to_have_text("Normal")
            expect(page.locator("body")).to_have_attribute("data-live", "connected")
            expect(page.locator("#live-banner")).to_be_hidden()
            console.health = {"mqtt_connected": False, "problems": ["mqtt_disconnected"]}
            expect(page.locator("#health-banner")).to_have_text(
                "Monitoring degraded (mqtt_disconnected)"
            )

        # The server is gone: the page says so in words.
        expect(page.locator("#live-banner")).to_be_visible(timeout=5000)
        expect(page.locator("#live-banner")).to_have_text("Connection lost — reconnecting…")


def test_operator_acknowledges_a_live_alarm_from_the_list(
    tmp_path: Path, facility: Facility, clock: FakeClock, page: Page
) -> None:
    clock.set(datetime(2026, 1, 5, 13, 0, tzinfo=UTC))  # 21:00 in Shanghai: li's night
    with (
        console_stores(tmp_path, facility, clock) as console,
        serve(create_app(console.context())) as url,
    ):
        console.url = url
        log_in(page, console, "li")
        open_desk(page, console)
        expect(page.locator("#no-alarms")).to_be_visible()
        expect(page.locator("#user-name")).to_have_text("李卫东")
        expect(page.locator("#user-role")).to_have_text("值班员")

        fire = console.raise_alarm(
            "smoke:yunxi:B2-03", "B2-03", message_zh=FIRE_ZH, message_en=FIRE_EN
        ).alarm
        row = page.locator(f'#alarm-rows tr[data-alarm-id="{fire.id}"]')
        expect(row.locator(".alarm-state .badge")).to_have_text("未确认", timeout=1000)
        ack = row.locator("button.ack")
        expect(ack).to_have_text("确认")

        # Cancel leaves everything as it was.
        ack.click()
        expect(page.locator("#action-dialog")).to_be_visible()
        expect(page.locator("#dialog-title")).to_have_text("确认告警")
        expect(page.locator("#action-dialog")).to_contain_text(FIRE_ZH)
        page.locator("#dialog-cancel").click()
        expect(page.locator("#action-dialog")).to_be_hidden()
        assert _alarm(console, fire.id).state is AlarmState.UNACKED

        # A climate alarm arrives meanwhile: it is unacknowledged, so it will rank first.
        console.clock.advance(5)
        humid = console.raise_alarm(
            "climate_rh:yunxi:B3-01",
            "B3-01",
            severity=Severity.MEDIUM,
            category=Category.CLIMATE,
            message_zh="音像磁带库相对湿度 63%，高于上限 60%",
            message_en="Audio-visual tape stack RH 63 %, above the 60 % limit",
        ).alarm
        rows = page.locator("#alarm-rows tr")
        expect(rows).to_have_count(2)
        expect(rows.first).to_have_attribute("data-alarm-id", str(fire.id))  # critical first

        acknowledge(page, fire.id, "已派保安前往现场")
        expect(page.locator("#action-dialog")).to_be_hidden()
        expect(row.locator(".alarm-state .badge")).to_have_text("已确认")
        expect(row).to_contain_text("li")
        expect(ack).to_have_count(0)
        expect(page.locator("#action-status")).to_have_text("已确认 1 条告警")
        # Unacknowledged first: the medium alarm now leads the acknowledged fire.
        expect(rows.first).to_have_attribute("data-alarm-id", str(humid.id))
        expect(rows.nth(1)).to_have_attribute("data-alarm-id", str(fire.id))

        acked = _alarm(console, fire.id)
        assert (acked.state, acked.acked_by) == (AlarmState.ACKED, "li")
        entry = next(e for e in console.alarms.timeline(fire.id) if e.action == "acked")
        assert (entry.by, entry.via, entry.comment) == ("li", Via.CONSOLE, "已派保安前往现场")

        # The climate alarm returns to normal unseen: still listed, in words.
        console.raise_alarm("climate_rh:yunxi:B3-01", "B3-01", transition=Transition.CLEAR)
        humid_row = page.locator(f'#alarm-rows tr[data-alarm-id="{humid.id}"]')
        expect(humid_row.locator(".alarm-state .badge")).to_have_text("已恢复未确认")
        page.locator("#lang-toggle").click()
        expect(humid_row.locator(".alarm-state .badge")).to_have_text("Cleared, unacknowledged")
        expect(row.locator(".alarm-state .badge")).to_have_text("Acknowledged")

        # Acknowledging the cleared alarm closes it: it leaves the list.
        page.reload()
        acknowledge(page, humid.id)
        expect(humid_row).to_have_count(0)
        expect(page.locator("#action-status")).to_have_text("Acknowledged 1 alarm")
        assert _alarm(console, humid.id).state is AlarmState.CLOSED


def test_read_only_console_says_so_when_asked_to_acknowledge(
    tmp_path: Path, facility: Facility, clock: FakeClock, page: Page
) -> None:
    with (
        console_stores(tmp_path, facility, clock) as console,
        serve(create_app(console.context(actions=None))) as url,
    ):
        console.url = url
        log_in(page, console, OPERATOR)
        open_desk(page, console, "?lang=en")
        fire = console.raise_alarm("smoke:yunxi:B2-01", "B2-01").alarm
        acknowledge(page, fire.id)
        # The dialog stays open and says why nothing happened.
        expect(page.locator("#dialog-error")).to_have_text(
            "This console is read-only: alarms cannot be handled here"
        )
        assert _alarm(console, fire.id).state is AlarmState.UNACKED


def test_alarm_tone_needs_a_click_repeats_and_mutes_until_the_next_alarm(
    tmp_path: Path, facility: Facility, clock: FakeClock, page: Page
) -> None:
    body = page.locator("body")
    page.add_init_script(AUTOPLAY_POLICY)
    with (
        console_stores(tmp_path, facility, clock) as console,
        serve(create_app(console.context())) as url,
    ):
        console.url = url
        log_in(page, console, OPERATOR)
        open_desk(page, console)
        # The browser allows no sound before a user gesture: the page says how to get it.
        expect(body).to_have_attribute("data-sound", "off")
        enable = page.locator("#sound-enable")
        expect(enable).to_have_text("启用声音")
        console.raise_alarm("intrusion:yunxi:B2-04", "B2-04", severity=Severity.HIGH)
        expect(enable).to_have_text("启用声音（有紧急告警）")
        expect(enable).to_have_class("urgent")
        assert body.get_attribute("data-tones") is None

        enable.click()
        expect(body).to_have_attribute("data-sound", "on")
        expect(enable).to_be_hidden()
        # Heard at once, and again every few seconds while the intrusion is unacknowledged.
        first = _tones_above(page, 0, within_ms=1000)
        _tones_above(page, first, within_ms=6000)

        mute = page.locator("#sound-mute")
        mute.click()
        expect(body).to_have_attribute("data-sound", "muted")
        expect(mute).to_have_attribute("aria-pressed", "true")
        expect(mute).to_have_text("取消静音")
        # A medium alarm does not sound; a new fire ends the mute and sounds at once.
        console.raise_alarm("climate:yunxi:B3-01", "B3-01", severity=Severity.MEDIUM)
        expect(page.locator("#alarm-rows tr")).to_have_count(2)
        assert body.get_attribute("data-sound") == "muted"
        muted_at = _tones(page)
        console.raise_alarm("smoke:yunxi:B2-01", "B2-01")
        expect(body).to_have_attribute("data-sound", "on")
        _tones_above(page, muted_at, within_ms=1000)

        # Once nobody waits for acknowledgement of a critical or high alarm, it stays quiet.
        for alarm in console.alarms.list(states=(AlarmState.UNACKED,)):
            if alarm.severity in (Severity.CRITICAL, Severity.HIGH):
                acknowledge(page, alarm.id)
                expect(page.locator("#action-dialog")).to_be_hidden()
        expect(page.locator("#alarm-rows button.ack")).to_have_count(1)  # the medium one
        page.wait_for_timeout(500)  # a tone scheduled just before the last click
        quiet_from = _tones(page)
        page.wait_for_timeout(4500)  # longer than the tone's repeat
        assert _tones(page) == quiet_from


def _alarm(console: Console, alarm_id: int) -> Alarm:
    found = console.alarms.get(alarm_id)
    assert found is not None
    return found


def _tones(page: Page) -> int:
    """How many alarm tones the page has played (it counts them in body's data-tones)."""
    return int(page.locator("body").get_attribute("data-tones") or 0)


def _tones_above(page: Page, count: int, *, within_ms: float) -> int:
    """Wait for a tone after the first ``count``; returns the new count."""
    page.wait_for_function(f"Number(document.body.dataset.tones || 0) > {count}", timeout=within_ms)
    return _tones(page)
