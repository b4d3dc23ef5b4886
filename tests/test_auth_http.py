"""Accounts over real HTTP (uvicorn on a free port, httpx): login and logout, refusals,
throttling on the fake clock, session expiry, CSRF, Bearer tokens, roles and sites, and
what reaches the log.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from console.auth import (
    CSRF_COOKIE,
    CSRF_HEADER,
    SESSION_COOKIE,
    AuthSettings,
    CookieSecurity,
    Language,
    Role,
)
from sensors.clock import FakeClock
from tests.test_alerts import pg_schema  # noqa: F401 - a fixture
from tests.test_auth_support import PASSWORD, AuthServer, auth_server, csrf_headers, state_url

T0 = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)
WRONG = "用户名或密码错误 / wrong user name or password"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def server(tmp_path: Path, clock: FakeClock) -> Iterator[AuthServer]:
    with auth_server(tmp_path, clock) as running:
        yield running


def set_cookie_headers(response: httpx.Response) -> dict[str, str]:
    """Cookie name → its whole Set-Cookie line."""
    lines = response.headers.get_list("set-cookie")
    return {line.split("=", 1)[0]: line for line in lines}


# --- login, me, logout ----------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def any_server(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> Iterator[AuthServer]:
    with auth_server(tmp_path, clock, url=state_url(request, tmp_path)) as running:
        yield running


def test_login_me_and_logout_on_sqlite_and_postgresql(any_server: AuthServer) -> None:
    server = any_server
    server.add("zhao", Role.OPERATOR, ["yunxi"])
    client = server.client()
    assert client.get("/api/auth/me").status_code == 401

    response = client.post("/api/auth/login", json={"username": "zhao", "password": PASSWORD})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["user"] == {
        "username": "zhao",
        "display_name": "zhao",
        "role": "operator",
        "sites": ["yunxi"],
        "all_sites": False,
        "language": "zh-CN",
        "permissions": ["ack", "read", "shelve_short"],
        "credential": "session",
    }
    assert body["expires_at"] == "2026-01-05T13:00:00Z"
    assert body["csrf_token"] == client.cookies[CSRF_COOKIE]

    me = client.get("/api/auth/me")
    assert me.status_code == 200
    assert me.json()["user"]["username"] == "zhao"
    assert me.json()["csrf_token"] == body["csrf_token"]
    assert client.get("/api/probe/rooms/yunxi").json() == {"site": "yunxi", "by": "zhao"}

    out = client.post("/api/auth/logout", headers=csrf_headers(client))
    assert out.status_code == 204
    assert SESSION_COOKIE not in client.cookies
    assert client.get("/api/auth/me").status_code == 401
    assert client.get("/api/probe/rooms/yunxi").status_code == 401


def test_the_cookies_are_httponly_samesite_strict_and_secure_when_asked(
    server: AuthServer,
) -> None:
    server.add("zhao", Role.OPERATOR)
    response = server.client().post(
        "/api/auth/login", json={"username": "zhao", "password": PASSWORD}
    )
    cookies = set_cookie_headers(response)
    session = cookies[SESSION_COOKIE].lower()
    assert "httponly" in session
    assert "samesite=strict" in session
    assert "path=/" in session
    assert f"max-age={13 * 3600}" in session
    # Plain http on 127.0.0.1 (the demo): not Secure, or the browser would drop it.
    assert "secure" not in session
    csrf = cookies[CSRF_COOKIE].lower()
    assert "httponly" not in csrf  # the page's script reads it
    assert "samesite=strict" in csrf

    # Behind a TLS proxy on this machine (uvicorn trusts 127.0.0.1's X-Forwarded-Proto).
    server.add("qian", Role.OPERATOR)
    behind_tls = server.client().post(
        "/api/auth/login",
        json={"username": "qian", "password": PASSWORD},
        headers={"X-Forwarded-Proto": "https"},
    )
    for line in set_cookie_headers(behind_tls).values():
        assert "; secure" in line.lower()


def test_cookie_security_always_marks_them_secure_on_plain_http(
    tmp_path: Path, clock: FakeClock
) -> None:
    settings = AuthSettings(cookie_security=CookieSecurity.ALWAYS)
    with auth_server(tmp_path, clock, settings) as server:
        server.add("zhao", Role.OPERATOR)
        response = server.client().post(
            "/api/auth/login", json={"username": "zhao", "password": PASSWORD}
        )
        assert response.status_code == 200
        lines = set_cookie_headers(response)
        assert set(lines) == {SESSION_COOKIE, CSRF_COOKIE}
        for line in lines.values():
            assert "; secure" in line.lower()


def test_wrong_password_and_unknown_user_get_the_same_answer(server: AuthServer) -> None:
    server.add("zhao", Role.OPERATOR)
    client = server.client()
    wrong = client.post("/api/auth/login", json={"username": "zhao", "password": "nope" * 4})
    unknown = client.post("/api/auth/login", json={"username": "nobody", "password": PASSWORD})
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert response.json() == {"detail": WRONG}
        assert SESSION_COOKIE not in client.cookies


def test_a_login_must_be_json_so_no_other_site_can_post_one(server: AuthServer) -> None:
    # A cross-site form can send text/plain or form data without a CORS preflight; JSON
    # it cannot. So a login from another site's form is refused before it is looked at.
    server.add("zhao", Role.OPERATOR)
    client = server.client()
    body = '{"username": "zhao", "password": "' + PASSWORD + '"}'
    as_text = client.post("/api/auth/login", content=body, headers={"Content-Type": "text/plain"})
    as_form = client.post("/api/auth/login", data={"username": "zhao", "password": PASSWORD})
    for response in (as_text, as_form):
        assert response.status_code == 415
        assert PASSWORD not in response.text  # the refusal does not echo the password
    # JSON with a charset is JSON.
    json_utf8 = client.post(
        "/api/auth/login",
        content=body.encode(),
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert json_utf8.status_code == 200
    assert SESSION_COOKIE in client.cookies
    client.cookies.clear()


def test_a_login_replaces_the_session_it_came_with(server: AuthServer) -> None:
    server.add("zhao", Role.OPERATOR)
    client = server.login("zhao")
    first = client.cookies[SESSION_COOKIE]
    again = client.post("/api/auth/login", json={"username": "zhao", "password": PASSWORD})
    assert again.status_code == 200
    second = client.cookies[SESSION_COOKIE]
    assert second != first
    assert server.auth.sessions.resolve(first) is None  # fixation: the old one is gone
    assert server.auth.sessions.resolve(second) is not None


def test_logout_needs_the_csrf_header_and_without_a_session_only_clears(
    server: AuthServer,
) -> None:
    server.add("zhao", Role.OPERATOR)
    client = server.login("zhao")
    token = client.cookies[SESSION_COOKIE]
    refused = client.post("/api/auth/logout")
    assert refused.status_code == 403
    assert server.auth.sessions.resolve(token) is not None
    assert client.post("/api/auth/logout", headers=csrf_headers(client)).status_code == 204
    assert server.auth.sessions.resolve(token) is None
    assert server.client().post("/api/auth/logout").status_code == 204


def test_the_language_is_kept_with_the_account(server: AuthServer) -> None:
    server.add("zhao", Role.OPERATOR)
    client = server.login("zhao")
    put = client.put("/api/auth/me/language", json={"language": "en"}, headers=csrf_headers(client))
    assert put.status_code == 200
    assert put.json()["user"]["language"] == "en"
    assert client.get("/api/auth/me").json()["user"]["language"] == "en"
    account = server.auth.users.get("zhao")
    assert account is not None
    assert account.language is Language.EN
    bad = client.put("/api/auth/me/language", json={"language": "fr"}, headers=csrf_headers(client))
    assert bad.status_code == 422
    no_csrf = client.put("/api/auth/me/language", json={"language": "zh-CN"})
    assert no_csrf.status_code == 403
    assert client.get("/api/auth/me").json()["user"]["language"] == "en"


# --- throttling -----------------------------------------------------------------------------


def test_five_failures_for_a_name_lock_it_for_fifteen_minutes(server: AuthServer) -> None:
    server.add("zhao", Role.OPERATOR)
    client = server.client()

    def attempt(password: str) -> httpx.Response:
        return client.post("/api/auth/login", json={"username": "zhao", "password": password})

    # 00:00–00:04, one wrong guess a minute.
    for _ in range(5):
        assert attempt("guess " * 3).status_code == 401
        server.clock.advance(60)
    # 00:05: the sixth try is refused before the password is looked at, even the right one.
    locked = attempt(PASSWORD)
    assert locked.status_code == 429
    # The first failure (00:00) leaves the window at 00:15: ten minutes from now.
    assert locked.headers["Retry-After"] == "600"
    assert "600" in locked.json()["detail"]
    assert SESSION_COOKIE not in client.cookies
    # 00:14:59: still locked, one second to go.
    server.clock.advance(timedelta(minutes=9, seconds=59))
    assert attempt(PASSWORD).headers["Retry-After"] == "1"
    # 00:15: one failure has aged out, so one try is allowed, and the right password works.
    server.clock.advance(1)
    assert attempt(PASSWORD).status_code == 200
    # A success clears the name's count: five more failures are needed to lock it again.
    for _ in range(4):
        assert attempt("guess " * 3).status_code == 401
    assert attempt(PASSWORD).status_code == 200


def test_unknown_names_are_counted_the_same_way(server: AuthServer) -> None:
    client = server.client()
    codes = [
        client.post("/api/auth/login", json={"username": "ghost", "password": PASSWORD}).status_code
        for _ in range(6)
    ]
    assert codes == [401] * 5 + [429]


def test_one_address_trying_many_names_is_locked_too(server: AuthServer) -> None:
    server.add("zhao", Role.OPERATOR)
    client = server.client()
    # Twenty names, one guess each (under each name's limit), from one address...
    for n in range(20):
        response = client.post(
            "/api/auth/login", json={"username": f"user{n}", "password": PASSWORD}
        )
        assert response.status_code == 401
    # ...and the address is refused, even for a real account with its right password.
    locked = client.post("/api/auth/login", json={"username": "zhao", "password": PASSWORD})
    assert locked.status_code == 429
    assert locked.headers["Retry-After"] == str(15 * 60)
    server.clock.advance(timedelta(minutes=15))
    assert server.login("zhao").get("/api/auth/me").status_code == 200


# --- session expiry -------------------------------------------------------------------------


def test_an_idle_session_ends_and_the_page_is_told_to_log_in(server: AuthServer) -> None:
    server.add("zhao", Role.OPERATOR)
    client = server.login("zhao")
    # The desk polls through the night: 12 h of requests, 10 minutes apart, keep it.
    for _ in range(72):
        server.clock.advance(timedelta(minutes=10))
        assert client.get("/api/probe/rooms/yunxi").status_code == 200
    # 13 h after login, however busy: the next shift logs in as itself.
    server.clock.advance(timedelta(hours=1))
    ended = client.get("/api/probe/rooms/yunxi")
    assert ended.status_code == 401
    assert ended.headers["WWW-Authenticate"] == 'Bearer realm="lantai"'
    assert "log in again" in ended.json()["detail"]
    # And an hour without a request ends a fresh one.
    client = server.login("zhao")
    server.clock.advance(timedelta(minutes=61))
    assert client.get("/api/auth/me").status_code == 401


# --- CSRF -----------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_a_change_with_the_cookie_needs_the_csrf_header(server: AuthServer, method: str) -> None:
    server.add("zhao", Role.OPERATOR)
    client = server.login("zhao")
    missing = client.request(method, "/api/probe/ack")
    assert missing.status_code == 403
    assert "CSRF" in missing.json()["detail"]
    wrong = client.request(method, "/api/probe/ack", headers={CSRF_HEADER: "x" * 43})
    assert wrong.status_code == 403
    right = client.request(method, "/api/probe/ack", headers=csrf_headers(client))
    assert right.status_code == 200
    assert right.json()["by"] == "zhao"


def test_another_sessions_csrf_token_does_not_fit(server: AuthServer) -> None:
    server.add("zhao", Role.OPERATOR)
    server.add("qian", Role.OPERATOR)
    zhao, qian = server.login("zhao"), server.login("qian")
    response = zhao.post("/api/probe/ack", headers=csrf_headers(qian))
    assert response.status_code == 403
    # A planted CSRF cookie matching the header does not help: the server derives the
    # token from the session, not from the cookie.
    zhao.cookies.set(CSRF_COOKIE, "planted")
    assert zhao.post("/api/probe/ack", headers={CSRF_HEADER: "planted"}).status_code == 403


def test_reads_need_no_csrf_header(server: AuthServer) -> None:
    server.add("zhao", Role.VIEWER)
    client = server.login("zhao")
    assert client.get("/api/probe/rooms/yunxi").status_code == 200
    assert client.get("/api/auth/me").status_code == 200


# --- roles and sites ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "may_read", "may_ack"),
    [
        (Role.GUARD, False, False),
        (Role.VIEWER, True, False),
        (Role.OPERATOR, True, True),
        (Role.SUPERVISOR, True, True),
        (Role.ADMIN, True, True),
    ],
)
def test_each_role_is_let_through_or_refused(
    server: AuthServer, role: Role, may_read: bool, may_ack: bool
) -> None:
    server.add("someone", role)
    client = server.login("someone")
    read = client.get("/api/probe/rooms/yunxi")
    ack = client.post("/api/probe/ack", headers=csrf_headers(client))
    assert read.status_code == (200 if may_read else 403)
    assert ack.status_code == (200 if may_ack else 403)
    if not may_ack:
        assert f"a {role.value} may not do this (ack)" in ack.json()["detail"]


def test_a_user_sees_only_the_sites_granted(server: AuthServer) -> None:
    server.add("zhao", Role.OPERATOR, ["yunxi"])
    server.add("root", Role.ADMIN, [])
    server.add("boss", Role.ADMIN, ["qingshan"])
    zhao, root, boss = server.login("zhao"), server.login("root"), server.login("boss")
    assert zhao.get("/api/probe/rooms/yunxi").status_code == 200
    refused = zhao.get("/api/probe/rooms/qingshan")
    assert refused.status_code == 403
    assert "site qingshan is not granted to you" in refused.json()["detail"]
    for site in ("yunxi", "qingshan"):
        assert root.get(f"/api/probe/rooms/{site}").status_code == 200
    assert boss.get("/api/probe/rooms/qingshan").status_code == 200
    assert boss.get("/api/probe/rooms/yunxi").status_code == 403
    assert root.get("/api/auth/me").json()["user"]["all_sites"] is True


def test_a_role_change_counts_at_the_next_request(server: AuthServer) -> None:
    server.add("zhao", Role.OPERATOR)
    client = server.login("zhao")
    assert client.post("/api/probe/ack", headers=csrf_headers(client)).status_code == 200
    server.auth.users.set_active("zhao", False)
    assert client.post("/api/probe/ack", headers=csrf_headers(client)).status_code == 401


# --- API tokens -----------------------------------------------------------------------------


def test_a_bearer_token_works_without_cookies_or_csrf_until_revoked(server: AuthServer) -> None:
    issued = server.auth.tokens.create("bms", Role.OPERATOR, ["yunxi"], created_by="root")
    machine = server.client()
    auth = {"Authorization": f"Bearer {issued.secret}"}
    ack = machine.post("/api/probe/ack", headers=auth)
    assert ack.status_code == 200
    assert ack.json() == {"by": "token:bms", "credential": "token"}
    assert machine.get("/api/probe/rooms/yunxi", headers=auth).status_code == 200
    assert machine.get("/api/probe/rooms/qingshan", headers=auth).status_code == 403
    me = machine.get("/api/auth/me", headers=auth).json()
    assert me["csrf_token"] is None
    assert me["user"]["credential"] == "token"
    language = machine.put("/api/auth/me/language", json={"language": "en"}, headers=auth)
    assert language.status_code == 400
    assert not machine.cookies  # nothing was set

    server.auth.tokens.revoke("bms")
    revoked = machine.post("/api/probe/ack", headers=auth)
    assert revoked.status_code == 401
    assert "revoked" in revoked.json()["detail"]


def test_a_bearer_request_is_judged_by_its_token_alone(server: AuthServer) -> None:
    server.add("root", Role.ADMIN, [])
    browser = server.login("root")
    viewer = server.auth.tokens.create("board", Role.VIEWER, ["yunxi"], created_by="root")
    # A wrong or read-only token does not borrow the admin session riding along.
    bad = browser.post("/api/probe/ack", headers={"Authorization": "Bearer lantai_nope"})
    assert bad.status_code == 401
    weak = browser.post(
        "/api/probe/ack",
        headers={"Authorization": f"Bearer {viewer.secret}", **csrf_headers(browser)},
    )
    assert weak.status_code == 403
    basic = browser.get("/api/auth/me", headers={"Authorization": "Basic cm9vdDpyb290"})
    assert basic.status_code == 401


# --- the login page -------------------------------------------------------------------------


def test_the_login_page_is_served_with_a_strict_policy(server: AuthServer) -> None:
    client = server.client()
    page = client.get("/login?next=/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY"
    assert 'src="/static/login.js"' in page.text
    # No external resources: every src and href is a path on this console.
    for attribute in ("src=", "href="):
        for part in page.text.split(attribute)[1:]:
            assert part.startswith('"/'), part[:40]
    for asset in ("/static/login.js", "/static/login.css"):
        assert client.get(asset).status_code == 200


def test_a_page_sends_a_stranger_to_the_login_page_and_back(server: AuthServer) -> None:
    server.add("zhao", Role.VIEWER)
    stranger = server.client()
    response = stranger.get("/probe-page?room=B2-01&lang=en")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fprobe-page%3Froom%3DB2-01%26lang%3Den"
    client = server.login("zhao")
    assert client.get("/probe-page").json() == {"page for": "zhao"}
    server.clock.advance(timedelta(hours=2))  # idle: the session is over
    assert client.get("/probe-page").status_code == 303


# --- logs -----------------------------------------------------------------------------------


def test_no_secret_reaches_the_log(server: AuthServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    server.add("zhao", Role.OPERATOR)
    client = server.client()
    client.post("/api/auth/login", json={"username": "zhao", "password": "wrong " + PASSWORD})
    # A password typed into the name field is not logged either.
    client.post("/api/auth/login", json={"username": "my secret pw!", "password": PASSWORD})
    client.post("/api/auth/login", json={"username": "zhao", "password": PASSWORD})
    session, csrf = client.cookies[SESSION_COOKIE], client.cookies[CSRF_COOKIE]
    client.post("/api/probe/ack", headers=csrf_headers(client))
    client.post("/api/auth/logout", headers={CSRF_HEADER: csrf})
    issued = server.auth.tokens.create("bms", Role.VIEWER, ["yunxi"], created_by="zhao")
    server.client().get("/api/auth/me", headers={"Authorization": f"Bearer {issued.secret}"})
    server.auth.tokens.revoke("bms")

    # Lantai's own records and the server's; not those of this test's HTTP client
    # (httpcore logs the headers it receives, Set-Cookie included).
    text = "\n".join(
        r.getMessage() for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))
    )
    assert "login: zhao (operator) from 127.0.0.1" in text
    assert "login refused: zhao from 127.0.0.1" in text
    assert "login refused: (not a user name) from 127.0.0.1" in text
    assert "logout: zhao" in text
    assert "API token made: bms (viewer) by zhao" in text
    stored = server.auth.users.credentials("zhao")
    assert stored is not None
    for secret in (PASSWORD, "my secret pw", session, csrf, issued.secret, stored[1]):
        assert secret not in text
