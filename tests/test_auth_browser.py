"""The login page in headless Chromium (Debian's /usr/bin/chromium), on the real console
app with the auth routes added as the service will add them: both languages, a wrong
password, throttling, going on to ?next= and never to another site.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from console.app import create_app
from console.auth import Language, Role, build_auth_router
from sensors.clock import FakeClock
from sensors.facility import Facility
from tests.console_server import console_stores, serve
from tests.test_auth_support import PASSWORD, AuthServer, auth_service

try:
    from playwright.sync_api import Browser, Page, expect
except ImportError:  # the dev dependencies were installed without it
    pytest.skip("the playwright package is not installed", allow_module_level=True)

pytestmark = pytest.mark.browser


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    # A phone's viewport: guards log in on their phones.
    context = browser.new_context(viewport={"width": 390, "height": 844})
    yield context.new_page()
    context.close()


@pytest.fixture
def console(tmp_path: Path, facility: Facility, clock: FakeClock) -> Iterator[AuthServer]:
    """The desk's own app with accounts on its state database."""
    with console_stores(tmp_path, facility, clock) as stores:
        auth = auth_service(stores.alarms.engine, clock)
        app = create_app(stores.context())
        app.include_router(build_auth_router(auth))
        with serve(app) as url:
            yield AuthServer(auth, clock, url)


def log_in(page: Page, username: str, password: str = PASSWORD) -> None:
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#submit")


def test_login_in_chinese_then_english_and_on_to_next(console: AuthServer, page: Page) -> None:
    console.add("zhao", Role.OPERATOR, ["yunxi"])
    refused: list[str] = []  # what the page's Content-Security-Policy blocked
    page.on("console", lambda m: refused.append(m.text) if "Content Security" in m.text else None)
    page.goto(console.url + "/login?next=/api/auth/me")
    expect(page.locator("h1")).to_have_text("登录")
    expect(page.locator('label[for="username"]')).to_have_text("用户名")
    expect(page.locator("#message")).to_be_hidden()

    page.click("#lang-toggle")
    expect(page.locator("h1")).to_have_text("Log in")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    log_in(page, "zhao", "not the password")
    expect(page.locator("#message")).to_have_text("Wrong user name or password")
    expect(page.locator("#password")).to_have_value("")
    expect(page).to_have_url(console.url + "/login?next=/api/auth/me")

    page.click("#lang-toggle")
    expect(page.locator("#message")).to_have_text("用户名或密码错误")
    log_in(page, "zhao")
    page.wait_for_url(console.url + "/api/auth/me")
    me = json.loads(page.locator("body").inner_text())
    assert me["user"]["username"] == "zhao"
    assert me["csrf_token"]
    assert refused == []


def test_next_never_leaves_the_console(console: AuthServer, page: Page) -> None:
    console.add("zhao", Role.OPERATOR, ["yunxi"])
    # Each looks like, or turns into, a link to another site: the desk instead.
    hostile = ["//evil.example/x", "https://evil.example/", "/\\evil.example", "/\t/evil.example"]
    for target in hostile:
        page.context.clear_cookies()
        page.goto(console.url + "/login?next=" + quote(target, safe=""))
        log_in(page, "zhao")
        page.wait_for_url(console.url + "/")
        assert page.url == console.url + "/", target


def test_a_logged_in_visit_to_the_login_page_goes_straight_on(
    console: AuthServer, page: Page
) -> None:
    console.add("zhao", Role.OPERATOR, ["yunxi"])
    page.goto(console.url + "/login")
    log_in(page, "zhao")
    page.wait_for_url(console.url + "/")  # the desk
    page.goto(console.url + "/login?next=/api/auth/me")
    page.wait_for_url(console.url + "/api/auth/me")


def test_the_accounts_language_is_handed_to_the_desk(console: AuthServer, page: Page) -> None:
    console.add("qian", Role.VIEWER, ["yunxi"])
    console.auth.users.set_language("qian", Language.EN)
    page.goto(console.url + "/login?next=/api/auth/me")
    expect(page.locator("h1")).to_have_text("登录")
    log_in(page, "qian")
    page.wait_for_url(console.url + "/api/auth/me")
    assert page.evaluate("window.localStorage.getItem('lantai.lang')") == "en"


def test_throttled_logins_are_told_how_long_to_wait(console: AuthServer, page: Page) -> None:
    console.add("zhao", Role.OPERATOR, ["yunxi"])
    page.goto(console.url + "/login?lang=zh")
    for attempt in range(5):
        log_in(page, "zhao", f"guess number {attempt}")
        expect(page.locator("#message")).to_have_text("用户名或密码错误")
        expect(page.locator("#submit")).to_be_enabled()
    log_in(page, "zhao")  # even the right password, for the next 15 minutes
    expect(page.locator("#message")).to_have_text("登录失败次数过多，请 15 分钟后再试")
    expect(page).to_have_url(console.url + "/login?lang=zh")
