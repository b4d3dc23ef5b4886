"""Attacks on the console and its webhooks, each test named for the attack it shows refused.

What other files already prove is not repeated here (README "Security checks" lists all):
a login must be JSON (tests/test_auth_http.py), throttling, the role of every route
(tests/test_role_matrix.py), the shipped Mosquitto config (tests/test_deploy_mosquitto.py).
This file adds Twilio's webhooks under forgery and replay, CSRF on every unsafe route of
the OpenAPI document, session fixation and logout, the cookies' flags, and a whole
service run with every secret set, through failures, checked for leaks.
"""

from __future__ import annotations

import base64
import contextlib
import io
import logging
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote, urlencode

import httpx
import pytest
import sqlalchemy as sa
import yaml
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from pydantic import SecretStr
from twilio.request_validator import RequestValidator

from alerts.models import AlarmState
from alerts.notifiers.webhook import sign
from alerts.tables import create_state_engine
from console.app import create_app
from console.auth import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE, Role
from console.auth.csrf import SAFE_METHODS
from console.auth.dependencies import BAD_CSRF
from lantai.broker import MosquittoBroker
from lantai.cli import main
from lantai.database import upgrade_to_head
from lantai.service import LantaiService
from lantai.settings import load_settings
from sensors.clock import FakeClock
from sensors.facility import Facility
from tests import test_role_matrix, test_scenarios_alarms
from tests.alarm_desk import Desk, _Mailbox, smtp_fixture  # noqa: F401 - a fixture
from tests.conftest import EXAMPLE_SITE
from tests.console_server import DESK_PASSWORD, console_stores, login, serve
from tests.fake_influx import FakeInflux
from tests.fake_twilio import (  # noqa: F401 - fake_twilio_fixture: a fixture
    ACCOUNT_SID,
    AUTH_TOKEN,
    PUBLIC_URL,
    FakeTwilio,
    fake_twilio_fixture,
)
from tests.local_http import LocalHttpServer
from tests.mqtt_helpers import publish_all, wait_for
from tests.test_auth_http import T0, set_cookie_headers
from tests.test_auth_support import PASSWORD, AuthServer, auth_server, csrf_headers
from tests.test_role_matrix import (
    ADMIN,
    NOT_REFUSED_IS_ENOUGH,
    SUPERVISOR,
    Served,
    calls,
    client_for,
    send,
)
from tests.test_scenarios_alarms import FIRE, LI, console

# The fixtures of those files, under their names: the desk with its Twilio stand-in, and
# the console as tests/test_role_matrix.py serves it (every route, real ids to act on).
desk = test_scenarios_alarms.desk
served = test_role_matrix.served

# --- Twilio's webhooks ----------------------------------------------------------------------


def signed(path: str, params: dict[str, str], *, token: str = AUTH_TOKEN, url: str = "") -> str:
    """The X-Twilio-Signature Twilio would send for ``params`` POSTed to ``url`` (default:
    the public URL of ``path``), made with ``token``."""
    validator = RequestValidator(token)
    return str(validator.compute_signature(url or PUBLIC_URL + path, params))


def post_form(
    base: str, path: str, params: dict[str, str], signature: str | None
) -> httpx.Response:
    """POST as Twilio does (form-encoded), with ``signature`` as its signature header."""
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if signature is not None:
        headers["X-Twilio-Signature"] = signature
    return httpx.post(base + path, content=urlencode(params), headers=headers, timeout=10)


def twilio_post(base: str, path: str, params: dict[str, str]) -> httpx.Response:
    """A genuine, correctly signed webhook."""
    return post_form(base, path, params, signed(path, params))


def call_to(desk: Desk, who: str, incident: int = 1) -> tuple[int, str]:
    """(outbox id, CallSid) of the newest call placed to ``who`` for ``incident``."""
    row = [
        r for r in desk.service_store().messages(incident) if r.who == who and r.channel == "voice"
    ][-1]
    assert row.provider_id
    return row.id, row.provider_id


def sms_to(desk: Desk, who: str, incident: int = 1) -> tuple[int, str]:
    """(outbox id, MessageSid) of the newest SMS sent to ``who`` for ``incident``."""
    row = [
        r for r in desk.service_store().messages(incident) if r.who == who and r.channel == "sms"
    ][-1]
    assert row.provider_id
    return row.id, row.provider_id


def forgeries(desk: Desk) -> list[tuple[str, str, dict[str, str]]]:
    """(name, path, form) for each webhook, each of which would act if it were believed:
    acknowledge by SMS, acknowledge by keypress, report the SMS undelivered (a fallback)."""
    sms_id, message_sid = sms_to(desk, "li")
    call_id, call_sid = call_to(desk, "li")
    return [
        ("sms", "/api/twilio/sms", {"From": LI, "Body": "1", "MessageSid": "SMforged0001"}),
        (
            "keypress",
            f"/api/twilio/voice/{call_id}/keypress",
            {"CallSid": call_sid, "Digits": "1", "From": "+15005550006"},
        ),
        (
            "status",
            f"/api/twilio/status/{sms_id}",
            {"MessageSid": message_sid, "MessageStatus": "undelivered", "ErrorCode": "30003"},
        ),
    ]


def test_forged_twilio_webhooks_are_refused_and_change_nothing(desk: Desk, tmp_path: Path) -> None:
    """Unsigned, signed with another account's token, signed for another of our URLs, and
    signed but altered on the way: 403 on all three webhooks, and the alarm, its trail and
    its messages are as before."""
    desk.fire()
    desk.wait(minutes=2)  # the guard's phone rings: there is a call to press a key in
    log_before = desk.log()
    fire = desk.alarm(FIRE)
    trail_before = desk.service_store().timeline(fire.id)
    attempts = forgeries(desk)
    with console(desk, tmp_path) as url:
        for name, path, form in attempts:
            other_path = next(p for n, p, _ in attempts if n != name)
            altered = form | {k: v + "0" for k, v in form.items() if k in {"Body", "Digits"}}
            if altered == form:  # the status report: another status than was signed
                altered = form | {"MessageStatus": "failed"}
            cases = {
                "unsigned": (form, None),
                "another token": (form, signed(path, form, token="tok-" + "0ther" * 6)),
                "another URL": (form, signed(other_path, form)),
                "another host": (form, signed(path, form, url="https://evil.example" + path)),
                "altered body": (altered, signed(path, form)),
                "garbage": (form, "x" * 28),
            }
            for case, (sent, signature) in cases.items():
                answer = post_form(url, path, sent, signature)
                assert answer.status_code == 403, (name, case, answer.text)
                assert answer.json() == {"detail": "missing or invalid Twilio signature"}
    assert desk.alarm(FIRE).state is AlarmState.UNACKED
    assert desk.log() == log_before
    assert desk.service_store().timeline(fire.id) == trail_before


def test_a_replayed_sms_reply_does_not_acknowledge_the_next_alarm(
    desk: Desk, tmp_path: Path
) -> None:
    """ "1" acknowledges the newest alarm the sender was told about: replayed after a new
    fire, a captured reply would acknowledge that one. It gets its first answer instead."""
    desk.fire()
    captured = {"From": LI, "Body": "1", "MessageSid": "SMreplay0001"}
    with console(desk, tmp_path) as url:
        first = twilio_post(url, "/api/twilio/sms", captured)
        assert first.status_code == 200
        assert "已确认 #1" in first.text
        desk.fire(room="B2-02", sensor="b202-smoke")  # a second incident, told to li too
        assert sms_to(desk, "li", incident=2)
        replayed = twilio_post(url, "/api/twilio/sms", captured)
    assert replayed.status_code == 200
    assert replayed.text == first.text  # the first answer, word for word
    assert desk.alarm(FIRE).state is AlarmState.ACKED
    assert desk.alarm("fire:yunxi:B2-02").state is AlarmState.UNACKED


def test_a_replayed_keypress_escalates_once(desk: Desk, tmp_path: Path) -> None:
    """Key 2 calls the next level now; the same signed request again must not skip
    another level (the supervisor, then the safety officer)."""
    desk.fire()
    desk.wait(minutes=2)
    call_id, call_sid = call_to(desk, "li")
    path = f"/api/twilio/voice/{call_id}/keypress"
    captured = {"CallSid": call_sid, "Digits": "2", "From": LI}
    with console(desk, tmp_path) as url:
        first = twilio_post(url, path, captured)
        assert first.status_code == 200
        desk.service.outbox.deliver_due()
        after_first = desk.log()
        replayed = twilio_post(url, path, captured)
        desk.service.outbox.deliver_due()
    assert replayed.text == first.text
    assert "已立即上报" in first.text
    assert desk.log() == after_first
    assert {who for _, _, who, _ in after_first} == {"li", "chen"}  # nobody past chen
    fire = desk.alarm(FIRE)
    escalations = [e for e in desk.service_store().timeline(fire.id) if e.action == "escalated"]
    assert len(escalations) == 1


def test_a_replayed_delivery_report_falls_back_once(desk: Desk, tmp_path: Path) -> None:
    """ "undelivered" moves the message to the person's next channel; the same report
    again finds it failed already and places no second call."""
    desk.fire()
    sms_id, message_sid = sms_to(desk, "li")
    path = f"/api/twilio/status/{sms_id}"
    report = {"MessageSid": message_sid, "MessageStatus": "undelivered", "ErrorCode": "30003"}
    with console(desk, tmp_path) as url:
        assert twilio_post(url, path, report).status_code == 204
        desk.service.outbox.deliver_due()
        after_first = desk.log()
        assert twilio_post(url, path, report).status_code == 204
        desk.service.outbox.deliver_due()
    assert after_first[0] == ("02:05:00", "sms", "li", "failed")
    assert ("02:05:00", "voice", "li", "sent") in after_first  # the fallback
    assert desk.log() == after_first


# --- CSRF on every unsafe route -------------------------------------------------------------

# Unsafe routes that take no session, so there is no cookie for a forged request to ride:
# the login (it must be JSON, which no form on another site can send; tests/test_auth_http)
# and Twilio's webhooks (judged by Twilio's signature alone, above).
NO_SESSION = frozenset(
    {
        ("POST", "/api/auth/login"),
        ("POST", "/api/twilio/sms"),
        ("POST", "/api/twilio/voice/{outbox_id}/keypress"),
        ("POST", "/api/twilio/status/{outbox_id}"),
    }
)


def unsafe_operations(served: Served) -> list[tuple[str, str]]:
    """Every operation of the OpenAPI document that changes something and takes a session;
    logout last (it ends the session)."""
    found = [
        op for op in served.app_operations if op[0] not in SAFE_METHODS and op not in NO_SESSION
    ]
    return sorted(found, key=lambda op: (op == ("POST", "/api/auth/logout"), op))


def test_every_unsafe_route_refuses_a_session_without_its_csrf_token(served: Served) -> None:
    """A page on another site can make the browser send the cookie, never the header: no
    header, an empty one, another session's token, or a token planted as the CSRF cookie
    (and echoed) are all 403; the same request with the session's own token gets through."""
    operations = unsafe_operations(served)
    assert len(operations) >= 15  # the walk covers the document, not a handful
    ways = calls(served.archive)
    with (
        client_for(served.console, ADMIN) as admin,
        client_for(served.console, SUPERVISOR) as other,
    ):
        own = admin.headers.pop(CSRF_HEADER)
        foreign = other.headers[CSRF_HEADER]
        assert own != foreign
        for method, path in operations:
            for case, header in (("none", None), ("empty", ""), ("another session's", foreign)):
                headers = {} if header is None else {CSRF_HEADER: header}
                admin.headers.update(headers)
                answer = send(admin, method, ways[(method, path)]())
                admin.headers.pop(CSRF_HEADER, None)
                assert answer.status_code == 403, (method, path, case, answer.text)
                assert answer.json() == {"detail": BAD_CSRF}, (method, path, case)
            admin.cookies.set(CSRF_COOKIE, "planted")
            admin.headers[CSRF_HEADER] = "planted"
            answer = send(admin, method, ways[(method, path)]())
            assert answer.status_code == 403, (method, path, "planted")
            # The control: the session's own token, and the route acts (or, for a hazard's
            # step that depends on its state, answers past the gate, as in the role matrix).
            admin.headers[CSRF_HEADER] = own
            answer = send(admin, method, ways[(method, path)]())
            admin.headers.pop(CSRF_HEADER)
            passed = answer.status_code not in {401, 403} and answer.status_code < 500
            if (method, path) not in NOT_REFUSED_IS_ENOUGH:
                passed = answer.status_code < 400
            assert passed, (method, path, "own token", answer.status_code, answer.text)
    # Only the controls acted: one injection, made with the token.
    assert [i[2] for i in served.injector.injected] == ["B2-03"]


# --- session fixation, logout, cookies -------------------------------------------------------


@pytest.fixture
def server(tmp_path: Path) -> Iterator[AuthServer]:
    with auth_server(tmp_path, FakeClock(T0)) as running:
        running.add("zhao", Role.OPERATOR)
        yield running


def test_a_session_id_planted_before_login_is_not_the_session_after(server: AuthServer) -> None:
    """The console issues no session before login, so an attacker can only plant a value
    of their choosing: the login replaces it, and it never authenticates."""
    planted = "attacker-chosen-" + "A" * 27
    victim = server.client()
    victim.cookies.set(SESSION_COOKIE, planted, domain="127.0.0.1")
    assert victim.get("/api/auth/me").status_code == 401
    answer = victim.post("/api/auth/login", json={"username": "zhao", "password": PASSWORD})
    assert answer.status_code == 200
    assert SESSION_COOKIE in set_cookie_headers(answer)  # the server set a new one
    session = victim.cookies[SESSION_COOKIE]
    assert session != planted
    assert victim.get("/api/auth/me").json()["user"]["username"] == "zhao"
    with server.client() as attacker:
        attacker.cookies.set(SESSION_COOKIE, planted, domain="127.0.0.1")
        assert attacker.get("/api/auth/me").status_code == 401
        assert attacker.post("/api/probe/ack", headers={CSRF_HEADER: "x"}).status_code == 401


def test_a_planted_live_session_ends_when_the_victim_logs_in(server: AuthServer) -> None:
    """The attacker's own live session planted in the victim's browser (so that the victim
    works as the attacker, or the attacker later reads as the victim): the victim's login
    gets a new session, and the planted one is ended, not left for the attacker."""
    server.add("mallory", Role.VIEWER)
    attacker = server.login("mallory")
    planted = attacker.cookies[SESSION_COOKIE]
    victim = server.client()
    victim.cookies.set(SESSION_COOKIE, planted, domain="127.0.0.1")
    answer = victim.post("/api/auth/login", json={"username": "zhao", "password": PASSWORD})
    assert answer.status_code == 200
    assert victim.cookies[SESSION_COOKIE] != planted
    assert victim.get("/api/auth/me").json()["user"]["username"] == "zhao"
    assert attacker.get("/api/auth/me").status_code == 401


def test_logout_ends_the_session_on_the_server_not_only_in_the_browser(
    server: AuthServer,
) -> None:
    """A copy of the cookie taken before logout (a shared desk PC, a proxy log) is dead after."""
    client = server.login("zhao")
    stolen_session, stolen_csrf = client.cookies[SESSION_COOKIE], client.cookies[CSRF_COOKIE]
    assert client.post("/api/auth/logout", headers=csrf_headers(client)).status_code == 204
    with server.client() as thief:
        thief.cookies.set(SESSION_COOKIE, stolen_session)
        assert thief.get("/api/auth/me").status_code == 401
        refused = thief.post("/api/probe/ack", headers={CSRF_HEADER: stolen_csrf})
        assert refused.status_code == 401


@pytest.mark.parametrize(
    ("public_url", "secure"),
    [("https://lantai.archive.example", True), ("http://127.0.0.1:8080", False)],
    ids=["https", "http"],
)
def test_the_cookies_are_httponly_strict_and_secure_when_the_console_is_published_over_https(
    tmp_path: Path, facility: Facility, public_url: str, secure: bool
) -> None:
    """Behind a TLS proxy that does not say X-Forwarded-Proto (or that uvicorn does not
    trust: another container), the console sees plain http; its public address is https,
    so a browser must never send the session over plain http (Secure). The demo on
    http://127.0.0.1 keeps working without it."""
    with console_stores(tmp_path, facility, FakeClock(T0)) as stores:
        stores.auth.users.add("zhao", SecretStr(DESK_PASSWORD), Role.OPERATOR, ("yunxi",))
        with serve(create_app(stores.context(public_url=public_url))) as url:
            answer = httpx.post(
                f"{url}/api/auth/login",
                json={"username": "zhao", "password": DESK_PASSWORD},
                timeout=10,
            )
    assert answer.status_code == 200, answer.text
    lines = {name: line.lower() for name, line in set_cookie_headers(answer).items()}
    assert set(lines) == {SESSION_COOKIE, CSRF_COOKIE}
    assert "httponly" in lines[SESSION_COOKIE]
    assert "httponly" not in lines[CSRF_COOKIE]  # the page's script copies it into the header
    for line in lines.values():
        assert "samesite=strict" in line
        assert ("; secure" in line) is secure


# --- secrets: never in a log, an answer, a header, a repr or check-config's output ----------

TWILIO_SECRET = "twilio-" + "S3cr3tT0k" * 3
MQTT_SECRET = "mqtt-" + "Br0kerPw" * 3
SMTP_SECRET = "smtp-" + "Ma1lPw" * 4
INFLUX_SECRET = "influx-" + "T5dbT0k" * 4
WEBHOOK_SECRET = "hook-" + "Hm4cK3y" * 4
PG_SECRET = "pg-" + "Pa55w0rd" * 3
ADMIN_PASSWORD = "admin-" + "L0g1nPw" * 3
SMTP_USER = "lantai"


def leaked(text: str, secrets: list[str]) -> list[str]:
    """The secrets found in ``text``, as themselves or in the encodings they travel in (URL,
    HTTP Basic with the account SID, SMTP AUTH PLAIN and LOGIN)."""

    def b64(raw: str) -> str:
        return base64.b64encode(raw.encode()).decode()

    found = []
    for secret in secrets:
        forms = {secret, quote(secret, safe=""), b64(secret)}
        forms |= {b64(f"{ACCOUNT_SID}:{secret}"), b64(f"\0{SMTP_USER}\0{secret}")}
        if any(form in text for form in forms):
            found.append(secret)
    return found


class _Hook(BaseHTTPRequestHandler):
    """A webhook receiver that is down: records the request, answers 500."""

    received: ClassVar[list[tuple[dict[str, str], bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).received.append((dict(self.headers.items()), body))
        self.send_response(500)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@dataclass
class _RefusingRelay:
    """A mail relay that asks for a login and refuses every one, recording the passwords."""

    passwords: list[bytes] = field(default_factory=list)

    def __call__(
        self, server: object, session: object, envelope: object, mechanism: str, data: object
    ) -> AuthResult:
        del server, session, envelope, mechanism
        if isinstance(data, LoginPassword):
            self.passwords.append(data.password)
        return AuthResult(success=False, handled=False)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _write_settings(
    tmp_path: Path, broker: MosquittoBroker, providers: _Providers, console_port: int
) -> Path:
    """A settings file with no secret but the webhook's (a list item: the environment
    cannot fill it); the others come from LANTAI_* variables, as the README says."""
    alerting = tmp_path / "alerting.yaml"
    alerting.write_text(
        """
people:
  - {id: li, name: 李卫东, phone: "+8613800000002", email: li@archive.example}
policies:
  - id: critical
    severities: [critical]
    steps:
      - after: 0s
        notify: [{person: li}, {webhook: ops}]
        channels: [sms, email]
delivery: {attempts: 3, backoff: 10s, max_backoff: 5m, fallback: [sms, email]}
""",
        encoding="utf-8",
    )
    settings = {
        "facility": str(EXAMPLE_SITE),
        "alerting": str(alerting),
        "twilio": {
            "account_sid": ACCOUNT_SID,
            "from_number": "+15005550006",
            "public_url": "https://lantai.archive.example",
            "api_base_url": providers.twilio.url,
            "timeout_s": 5,
        },
        "smtp": {
            "host": "127.0.0.1",
            "port": providers.smtp_port,
            "security": "none",
            "username": SMTP_USER,
            "from_address": "lantai@archive.example",
            "timeout_s": 5,
        },
        "webhooks": [
            {"id": "ops", "url": providers.hook_url, "secret": WEBHOOK_SECRET, "timeout_s": 5}
        ],
        "mqtt": {"host": broker.host, "port": broker.port, "username": "lantai"},
        "influx": {
            "url": providers.influx.url,
            "org": "lantai",
            "bucket": "lantai",
            "timeout_s": 2.0,
            "flush_interval_s": 0.05,
            "retry_initial_s": 0.05,
            "retry_max_s": 0.2,
        },
        "store": {"readings_path": str(tmp_path / "readings.db")},
        "state": {"url": f"sqlite:///{tmp_path / 'state.db'}"},
        "console": {"host": "127.0.0.1", "port": console_port},
        "auth": {"argon2": {"time_cost": 1, "memory_kib": 8192, "parallelism": 1}},
    }
    path = tmp_path / "settings.yaml"
    path.write_text(yaml.safe_dump(settings, allow_unicode=True), encoding="utf-8")
    return path


def _answers_as_every_role(console: str, service: LantaiService) -> list[httpx.Response]:
    """A bad login, then each role's requests, including refusals and errors."""
    answers = [
        httpx.post(
            f"{console}/api/auth/login",
            json={"username": "admin", "password": "wrong " + ADMIN_PASSWORD},
            timeout=10,
        ),
        httpx.get(f"{console}/api/health", timeout=10),  # a stranger
        httpx.post(f"{console}/api/twilio/sms", data={"Body": "1"}, timeout=10),  # unsigned
    ]
    for role in Role:
        name = f"sec-{role.value}"
        service.auth.users.add(name, SecretStr(ADMIN_PASSWORD), role, ("yunxi",))
        login = httpx.post(
            f"{console}/api/auth/login",
            json={"username": name, "password": ADMIN_PASSWORD},
            timeout=10,
        )
        assert login.status_code == 200, login.text
        answers.append(login)
        headers = {CSRF_HEADER: login.cookies[CSRF_COOKIE]}
        with httpx.Client(
            base_url=console, cookies=login.cookies, headers=headers, timeout=10
        ) as c:
            answers += [
                c.get("/api/health"),
                c.get("/metrics"),
                c.get("/api/alarms"),
                c.get("/api/no-such-route"),  # 404
                c.post("/api/alarms/999999/ack", json={}),  # 404 or 403
                c.put("/api/auth/me/language", json={"language": 42}),  # 422
                c.post("/api/maintenance-windows", json={"site": "yunxi"}),  # 422 or 403
            ]
    return answers


@dataclass
class _Providers:
    """Every outside service Lantai talks to, each failing in its own way."""

    twilio: FakeTwilio
    influx: FakeInflux
    relay: _RefusingRelay
    smtp_port: int
    hook_url: str


@contextlib.contextmanager
def failing_providers() -> Iterator[_Providers]:
    """Twilio answering 500, InfluxDB refusing Lantai's token (401), a mail relay refusing
    the login, a webhook receiver answering 500."""
    twilio = FakeTwilio(auth_token=TWILIO_SECRET).start()
    twilio.outage("Messages", status=500, code=20500)
    influx = FakeInflux(token="influx-the-right-token").start()  # noqa: S106 - not ours
    relay = _RefusingRelay()
    smtp_port = _free_port()
    mail = Controller(
        _Mailbox(), hostname="127.0.0.1", port=smtp_port, authenticator=relay,
        auth_require_tls=False,
    )  # fmt: skip
    mail.start()
    _Hook.received = []
    hook = LocalHttpServer(_Hook, "security-hook")
    hook.start()
    try:
        yield _Providers(twilio, influx, relay, smtp_port, f"{hook.url}/lantai")
    finally:
        hook.stop()
        mail.stop()
        influx.stop()
        twilio.stop()


@contextlib.contextmanager
def every_log_record(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """caplog at DEBUG on every logger, those that do not propagate (uvicorn's) included."""
    caplog.set_level(logging.DEBUG)
    loggers = [
        logger
        for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger) and not logger.propagate
    ]
    for logger in loggers:
        logger.addHandler(caplog.handler)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeHandler(caplog.handler)


def _each_secret_was_used(providers: _Providers) -> None:
    """The requests the real services would have got carry the secrets, so their absence
    everywhere else means something."""
    sms = next(r for r in providers.twilio.requests if r.path.endswith("/Messages.json"))
    assert sms.basic_auth() == (ACCOUNT_SID, TWILIO_SECRET)
    assert providers.relay.passwords[0] == SMTP_SECRET.encode()
    headers, body = _Hook.received[0]
    assert headers["X-Lantai-Signature"] == sign(SecretStr(WEBHOOK_SECRET), body)
    assert providers.influx.requests[0].headers["Authorization"] == f"Token {INFLUX_SECRET}"


@pytest.mark.integration
def test_no_secret_reaches_a_log_an_answer_or_check_config(
    tmp_path: Path,
    broker: MosquittoBroker,
    facility: Facility,
    unique_id: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """The whole service with every secret set, through failures: Twilio answering 500,
    the mail relay refusing the login, the webhook receiver down, InfluxDB refusing the
    token, a bad console login, 404s and 422s, /api/health and /metrics as each role."""
    monkeypatch.setenv("LANTAI_TWILIO__AUTH_TOKEN", TWILIO_SECRET)
    monkeypatch.setenv("LANTAI_MQTT__PASSWORD", MQTT_SECRET)
    monkeypatch.setenv("LANTAI_SMTP__PASSWORD", SMTP_SECRET)
    monkeypatch.setenv("LANTAI_INFLUX__TOKEN", INFLUX_SECRET)
    monkeypatch.setenv("LANTAI_MQTT__CLIENT_ID", unique_id)
    secrets = [TWILIO_SECRET, MQTT_SECRET, SMTP_SECRET, INFLUX_SECRET, WEBHOOK_SECRET]
    secrets.append(ADMIN_PASSWORD)
    console_port = _free_port()
    with failing_providers() as providers:
        path = _write_settings(tmp_path, broker, providers, console_port)
        settings = load_settings(path)
        shown = [repr(settings), str(settings), settings.model_dump_json()]
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            assert main(["check-config", str(path)]) == 0
        shown.append(printed.getvalue())
        assert "settings OK" in printed.getvalue()

        service = LantaiService(settings, facility, FakeClock(T0))
        service.start()  # first: it sets uvicorn's loggers up, which every_log_record needs
        try:
            with every_log_record(caplog):
                answers = _exercise(service, broker, providers, unique_id, console_port)
        finally:
            service.stop()
    _each_secret_was_used(providers)
    assert {200, 401, 403, 404, 422} <= {a.status_code for a in answers}

    logs = caplog.text + "\n".join(repr(r.args) for r in caplog.records)
    # The failures were logged, so the log was worth reading.
    assert "refused the login" in logs
    assert "InfluxDB write failed (401" in logs
    assert "Twilio answered HTTP 500" in logs
    streams = capfd.readouterr()
    where = {
        "log": logs,
        "stdout/stderr": streams.out + streams.err,
        "settings and check-config": "\n".join(shown),
        "answers": "\n".join(
            f"{a.status_code} {a.headers.multi_items()} {a.text}" for a in answers
        ),
    }
    for place, text in where.items():
        assert leaked(text, secrets) == [], place


def _exercise(
    service: LantaiService,
    broker: MosquittoBroker,
    providers: _Providers,
    unique_id: str,
    console_port: int,
) -> list[httpx.Response]:
    """A fire (every channel fails), then the console as everybody; the answers."""
    assert service.source.wait_connected(10)
    wait_for(service.console_started, 10, "the console")
    smoke = ("archive/yunxi/B2-01/b201-smoke1", b'{"smoke": true}')
    publish_all(broker.host, broker.port, [smoke], f"{unique_id}-pub")
    twilio, influx = providers.twilio, providers.influx
    wait_for(lambda: any(r.path.endswith("/Messages.json") for r in twilio.requests), 20, "SMS")
    wait_for(lambda: bool(providers.relay.passwords), 20, "the mail relay's login")
    wait_for(lambda: bool(_Hook.received), 20, "the webhook")
    wait_for(lambda: bool(influx.requests), 20, "a write to InfluxDB")
    forwarder = service.influx
    assert forwarder is not None
    wait_for(lambda: forwarder.state().last_error is not None, 20, "InfluxDB's refusal")
    return _answers_as_every_role(f"http://127.0.0.1:{console_port}", service)


def test_a_database_password_stays_out_of_reprs_errors_and_check_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """state.url carries PostgreSQL's password: check-config and the settings' repr show
    none of it, and a server that cannot be reached does not print it in the error."""
    caplog.set_level(logging.DEBUG)
    url = f"postgresql+psycopg://lantai:{PG_SECRET}@127.0.0.1:{_free_port()}/lantai"
    path = tmp_path / "settings.yaml"
    path.write_text(f"facility: {EXAMPLE_SITE}\n", encoding="utf-8")
    monkeypatch.setenv("LANTAI_STATE__URL", url)
    settings = load_settings(path)
    assert settings.state.url == url
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["check-config", str(path)]) == 0
    engine = create_state_engine(settings.state.url)
    try:
        with pytest.raises(sa.exc.OperationalError) as failure:
            upgrade_to_head(engine)
    finally:
        engine.dispose()
    shown = "\n".join(
        [printed.getvalue(), str(failure.value), repr(failure.value), str(engine.url), caplog.text]
    )
    assert leaked(shown, [PG_SECRET]) == []
    assert leaked(repr(settings), [PG_SECRET]) == []


def test_a_console_error_page_does_not_echo_the_exception(
    tmp_path: Path, facility: Facility
) -> None:
    """An unexpected failure answers a bare 500: the exception's text (which may carry a
    connection string or a token) stays in the server's log."""

    def broken() -> list[Any]:
        raise RuntimeError(f"cannot reach postgresql://lantai:{PG_SECRET}@db/lantai")

    with (
        console_stores(tmp_path, facility, FakeClock(T0)) as stores,
        serve(create_app(stores.context(metrics=broken))) as url,
    ):
        stores.url = url
        with login(stores, "zhao", Role.VIEWER) as viewer:
            answer = viewer.get("/metrics")
    assert answer.status_code == 500
    assert answer.text == "Internal Server Error"
    assert leaked(answer.text + str(answer.headers.multi_items()), [PG_SECRET]) == []
