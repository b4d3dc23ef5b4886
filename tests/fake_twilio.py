"""A local HTTP server standing in for api.twilio.com, for the SMS and voice notifiers.

It speaks the small part of Twilio's 2010-04-01 REST API the notifiers use: create a
Message or a Call (201 and the resource's JSON), list them with the To, From and
date filters, Basic auth with the account SID, and Twilio's JSON error shape. The real
twilio library talks to it over real HTTP, so tests see exactly what Twilio would get.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.utils import format_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import SecretStr

from alerts.notifiers.twilio_account import TwilioSettings
from tests.local_http import LocalHttpServer

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "tok-" + "5ecret" * 5  # distinctive, so a leak is easy to find
FROM_NUMBER = "+15005550006"
PUBLIC_URL = "https://lantai.example.org"
_API = "/2010-04-01/Accounts/"


@dataclass(frozen=True)
class Recorded:
    """One request as the server received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    form: dict[str, str]  # the urlencoded body; Twilio's fields are single-valued

    def basic_auth(self) -> tuple[str, str] | None:
        """The (user, password) of the Authorization header, if it is Basic."""
        scheme, _, value = self.headers.get("Authorization", "").partition(" ")
        if scheme != "Basic":
            return None
        user, _, password = base64.b64decode(value).decode().partition(":")
        return user, password


@dataclass
class _Canned:
    status: int
    body: str
    content_type: str = "application/json"


@dataclass
class _State:
    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: list[Recorded] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)
    canned: list[_Canned] = field(default_factory=list)
    down: dict[str, _Canned] = field(default_factory=dict)  # resource → its outage answer
    delays: list[float] = field(default_factory=list)


class FakeTwilio:
    """The fake's controls and records; ``url`` is its base URL."""

    def __init__(self, account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        # Twilio's clock, for date_created and date filters; tests may set a fixed one.
        self.now: Callable[[], datetime] = lambda: datetime.now(UTC)
        self._state = _State()
        self._http = LocalHttpServer(_handler_for(self), "fake-twilio")

    @property
    def url(self) -> str:
        return self._http.url

    def start(self) -> FakeTwilio:
        """Serve in a background thread."""
        self._http.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        self._http.stop()

    @property
    def requests(self) -> list[Recorded]:
        """Every request so far, oldest first."""
        with self._state.lock:
            return list(self._state.requests)

    def fail_next(
        self,
        n: int = 1,
        *,
        status: int = 500,
        code: int = 20500,
        message: str | None = None,
        problem: bool = False,
    ) -> None:
        """Answer the next ``n`` requests with Twilio's JSON error instead."""
        # problem: the RFC 9457 shape newer Twilio APIs answer with, not the classic one.
        text = message or HTTPStatus(status).phrase
        error = _problem(status, code, text) if problem else _error(status, code, text)
        with self._state.lock:
            self._state.canned.extend(_Canned(status, json.dumps(error)) for _ in range(n))

    def outage(self, resource: str, *, status: int = 503, code: int = 20503) -> None:
        """Fail every POST to ``resource`` ("Messages" or "Calls") until ``restore()``."""
        with self._state.lock:
            self._state.down[f"{resource}.json"] = _Canned(
                status, json.dumps(_error(status, code, HTTPStatus(status).phrase))
            )

    def restore(self) -> None:
        """End every outage."""
        with self._state.lock:
            self._state.down.clear()

    def answer_next(self, status: int, body: str, content_type: str = "text/html") -> None:
        """Answer the next request with this, as a proxy in the way might."""
        with self._state.lock:
            self._state.canned.append(_Canned(status, body, content_type))

    def delay_next(self, seconds: float) -> None:
        """Hold the next request this long before answering it."""
        with self._state.lock:
            self._state.delays.append(seconds)

    def add_message(
        self, *, to: str, body: str, created: datetime, from_: str = FROM_NUMBER
    ) -> str:
        """A message sent earlier (by somebody), delivered; returns its SID."""
        record = _message(self.account_sid, to, from_, body, created)
        _deliver(record)
        with self._state.lock:
            self._state.messages.append(record)
        return str(record["sid"])

    def add_call(self, *, to: str, created: datetime, from_: str = FROM_NUMBER) -> str:
        """A call placed earlier (by somebody), completed; returns its SID."""
        record = _call(self.account_sid, to, from_, created)
        _deliver(record)
        with self._state.lock:
            self._state.calls.append(record)
        return str(record["sid"])

    # -- the server's side ---------------------------------------------------------------

    def _answer(self, request: Recorded) -> _Canned:
        with self._state.lock:
            self._state.requests.append(request)
            canned = self._state.canned.pop(0) if self._state.canned else None
            if canned is None and request.method == "POST":
                canned = self._state.down.get(request.path.rsplit("/", 1)[-1])
        if canned is not None:
            return canned
        status, payload = self._route(request)
        return _Canned(status, json.dumps(payload))

    def _route(self, request: Recorded) -> tuple[int, dict[str, Any]]:
        if request.basic_auth() != (self.account_sid, self.auth_token):
            return 401, _error(401, 20003, "Authenticate")
        routes = {
            ("POST", "Messages.json"): self._create_message,
            ("POST", "Calls.json"): self._create_call,
            ("GET", "Messages.json"): self._list_messages,
            ("GET", "Calls.json"): self._list_calls,
        }
        prefix = f"{_API}{self.account_sid}/"
        route = routes.get((request.method, request.path.removeprefix(prefix)))
        if not request.path.startswith(prefix) or route is None:
            return 404, _error(404, 20404, "The requested resource was not found")
        with self._state.lock:
            return route(request)

    def _create_message(self, request: Recorded) -> tuple[int, dict[str, Any]]:
        form = request.form
        record = _message(self.account_sid, form["To"], form["From"], form["Body"], self.now())
        self._state.messages.append(record)
        answer = _public(record)
        _deliver(record)  # as if it left at once; the answer still says "queued"
        return 201, answer

    def _create_call(self, request: Recorded) -> tuple[int, dict[str, Any]]:
        record = _call(self.account_sid, request.form["To"], request.form["From"], self.now())
        self._state.calls.append(record)
        answer = _public(record)
        _deliver(record)
        return 201, answer

    def _list_messages(self, request: Recorded) -> tuple[int, dict[str, Any]]:
        found = _filtered(self._state.messages, request.query, "DateSent", "date_sent")
        return 200, _page(request.path, "messages", found)

    def _list_calls(self, request: Recorded) -> tuple[int, dict[str, Any]]:
        found = _filtered(self._state.calls, request.query, "StartTime", "start_time")
        return 200, _page(request.path, "calls", found)

    def _delay(self) -> float:
        with self._state.lock:
            return self._state.delays.pop(0) if self._state.delays else 0


def _handler_for(fake: FakeTwilio) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            form = {k: v[-1] for k, v in parse_qs(body, keep_blank_values=True).items()}
            request = Recorded(
                method=self.command,
                path=parts.path,
                query=parse_qs(parts.query, keep_blank_values=True),
                headers=dict(self.headers.items()),
                form=form,
            )
            delay = fake._delay()
            if delay:
                threading.Event().wait(delay)
            answer = fake._answer(request)
            data = answer.body.encode()
            try:
                self.send_response(answer.status)
                self.send_header("Content-Type", answer.content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                pass  # the client gave up waiting (a timeout test)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass  # quiet: the records are the log

    return Handler


def _sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def _rfc2822(moment: datetime | None) -> str | None:
    return None if moment is None else format_datetime(moment.astimezone(UTC), usegmt=True)


def _message(account: str, to: str, from_: str, body: str, created: datetime) -> dict[str, Any]:
    sid = _sid("SM")
    return {
        "sid": sid,
        "account_sid": account,
        "api_version": "2010-04-01",
        "body": body,
        "date_created": _rfc2822(created),
        "date_updated": _rfc2822(created),
        "date_sent": None,
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": from_,
        "messaging_service_sid": None,
        "num_media": "0",
        "num_segments": "1",
        "price": None,
        "price_unit": "USD",
        "status": "queued",
        "subresource_uris": {"media": f"{_API}{account}/Messages/{sid}/Media.json"},
        "to": to,
        "uri": f"{_API}{account}/Messages/{sid}.json",
        "_created": created,  # for filtering; dropped from answers
    }


def _call(account: str, to: str, from_: str, created: datetime) -> dict[str, Any]:
    sid = _sid("CA")
    return {
        "sid": sid,
        "account_sid": account,
        "api_version": "2010-04-01",
        "answered_by": None,
        "caller_name": None,
        "date_created": _rfc2822(created),
        "date_updated": _rfc2822(created),
        "direction": "outbound-api",
        "duration": None,
        "end_time": None,
        "forwarded_from": None,
        "from": from_,
        "from_formatted": from_,
        "parent_call_sid": None,
        "phone_number_sid": "PN" + "0" * 32,
        "price": None,
        "price_unit": "USD",
        "queue_time": "0",
        "start_time": None,
        "status": "queued",
        "to": to,
        "to_formatted": to,
        "uri": f"{_API}{account}/Calls/{sid}.json",
        "_created": created,
    }


def _deliver(record: dict[str, Any]) -> None:
    """What Twilio's records show once the message left or the call was answered."""
    stamp = _rfc2822(record["_created"])
    if record["sid"].startswith("SM"):
        record.update(status="delivered", date_sent=stamp)
    else:
        record.update(status="completed", start_time=stamp, end_time=stamp, duration="21")


def _filtered(
    records: list[dict[str, Any]], query: dict[str, list[str]], name: str, key: str
) -> list[dict[str, Any]]:
    """Twilio's list filters: To and From exact; ``name>``/``name<`` by GMT date."""

    def day(record: dict[str, Any]) -> date | None:
        value = record.get(key)
        return None if value is None else record["_created"].astimezone(UTC).date()

    found = list(records)
    if "To" in query:
        found = [r for r in found if r["to"] == query["To"][0]]
    if "From" in query:
        found = [r for r in found if r["from"] == query["From"][0]]
    if f"{name}>" in query:
        after = date.fromisoformat(query[f"{name}>"][0][:10])
        found = [r for r in found if (d := day(r)) is not None and d >= after]
    if f"{name}<" in query:
        before = date.fromisoformat(query[f"{name}<"][0][:10])
        found = [r for r in found if (d := day(r)) is not None and d <= before]
    return sorted(found, key=lambda r: r["_created"], reverse=True)  # newest first, as Twilio


def _page(path: str, key: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        key: [_public(r) for r in records],
        "end": max(len(records) - 1, 0),
        "first_page_uri": f"{path}?Page=0",
        "next_page_uri": None,
        "page": 0,
        "page_size": max(len(records), 50),
        "previous_page_uri": None,
        "start": 0,
        "uri": path,
    }


def _public(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if not k.startswith("_")}


def _problem(status: int, code: int, message: str) -> dict[str, Any]:
    return {
        "type": f"https://www.twilio.com/docs/errors/{code}",
        "title": message,
        "status": status,
        "code": code,
        "detail": None,
        "instance": None,
    }


def _error(status: int, code: int, message: str) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def settings_for(fake: FakeTwilio, **overrides: Any) -> TwilioSettings:
    """Settings that point the notifiers at ``fake``."""
    values: dict[str, Any] = {
        "account_sid": fake.account_sid,
        "auth_token": SecretStr(fake.auth_token),
        "from_number": FROM_NUMBER,
        "public_url": PUBLIC_URL,
        "api_base_url": fake.url,
        "timeout_s": 5,
    }
    return TwilioSettings(**(values | overrides))


# Named apart from the fixture, so that a test module importing it can take a
# `fake_twilio` argument without ruff's F811 (redefinition of an imported name).
@pytest.fixture(name="fake_twilio")
def fake_twilio_fixture() -> Iterator[FakeTwilio]:
    """A running fake Twilio of the test's own."""
    fake = FakeTwilio().start()
    yield fake
    fake.stop()


fake_twilio = fake_twilio_fixture  # the same fixture, for `from … import fake_twilio`
