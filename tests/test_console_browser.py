"""The desk's page in headless Chromium: tiles with state words, a live critical alarm in 1 s.

Uses Debian's /usr/bin/chromium (never a downloaded browser build). Set
LANTAI_SCREENSHOTS=1 to refresh docs/screenshots/console.png.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from console.app import create_app
from sensors.clock import FakeClock
from sensors.events import Category, Severity
from sensors.facility import Facility
from tests.console_server import Console, console_stores, serve

try:
    from playwright.sync_api import Browser, Page, expect, sync_playwright
except ImportError:  # the dev dependencies were installed without it
    pytest.skip("the playwright package is not installed", allow_module_level=True)

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT = Path(__file__).resolve().parent.parent / "docs" / "screenshots" / "console.png"
# Quiet switches: no update checks, no first-run pages, nothing else on the network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]

FIRE_ZH = "火警：第三纸质档案库两个烟感同时报警"
FIRE_EN = "Fire: two smoke detectors in Paper stack 3"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    yield context.new_page()
    context.close()


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
            page.goto(url + "/?lang=zh")
            tile = page.locator('[data-room="B2-01"]')
            expect(tile.locator(".state")).to_have_text("正常")
            expect(tile).to_contain_text("19.9")  # the mean of 19.6 and 20.2
            expect(page.locator('[data-room="B3-01"] .state')).to_have_text("预警")
            expect(page.locator('[data-room="B3-04"] .state')).to_have_text("离线")
            expect(page.locator("#site-name")).to_have_text("云溪市档案馆")
            expect(page.locator("body")).to_have_attribute("data-live", "connected")
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
            if os.environ.get("LANTAI_SCREENSHOTS") == "1":
                # The page's clock follows the server's after its next health poll.
                expect(page.locator("#clock")).to_contain_text("15:20:3")
                SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(SCREENSHOT), full_page=True)

            page.locator("#lang-toggle").click()
            expect(page.locator('[data-room="B2-03"] .state')).to_have_text("Alarm")
            expect(rows).to_contain_text(FIRE_EN)
            page.goto(url + "/")  # no ?lang: the choice is remembered
            expect(page.locator('[data-room="B2-01"] .state')).to_have_text("Normal")
            expect(page.locator("body")).to_have_attribute("data-live", "connected")
            expect(page.locator("#live-banner")).to_be_hidden()
            console.health = {"mqtt_connected": False, "problems": ["mqtt_disconnected"]}
            expect(page.locator("#health-banner")).to_have_text(
                "Monitoring degraded (mqtt_disconnected)"
            )

        # The server is gone: the page says so in words.
        expect(page.locator("#live-banner")).to_be_visible(timeout=5000)
        expect(page.locator("#live-banner")).to_have_text("Live connection lost")
