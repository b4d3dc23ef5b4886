"""A local HTTP server standing in for InfluxDB 2's write API, for the InfluxDB sink.

It speaks ``POST /api/v2/write?org=&bucket=&precision=`` as InfluxDB 2 does: 204 on
success, 401 without the right ``Authorization: Token``, its JSON error shape otherwise.
It keeps every request with its headers and its body gunzipped, and can be scripted to
answer 429 with Retry-After, 503, a refused body, or to hold a request (a hung server).
The real influxdb-client library talks to it over real HTTP, so tests see exactly what
InfluxDB would get.
"""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import SecretStr

from collectors.influx_settings import InfluxSettings
from tests.local_http import LocalHttpServer

ORG = "lantai"
BUCKET = "lantai"
TOKEN = "influx-" + "t0ken" * 6  # distinctive, so a leak is easy to find


@dataclass(frozen=True)
class Recorded:
    """One request as the server received it; ``body`` is the decoded line protocol."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    raw: bytes  # as it came over the wire (gzipped when Content-Encoding says so)
    body: str

    @property
    def lines(self) -> list[str]:
        return self.body.split("\n") if self.body else []


@dataclass
class _Answer:
    status: int
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class _State:
    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: list[Recorded] = field(default_factory=list)
    accepted: list[str] = field(default_factory=list)
    script: list[_Answer] = field(default_factory=list)
    down: _Answer | None = None
    refuse: set[str] = field(default_factory=set)  # substrings that make a point bad


class FakeInflux:
    """The fake's controls and records; ``url`` is its base URL."""

    def __init__(self, token: str | None = TOKEN) -> None:
        self.token = token
        self._state = _State()
        self._release = threading.Event()
        self._http = LocalHttpServer(_handler_for(self), "fake-influx")

    @property
    def url(self) -> str:
        return self._http.url

    def settings(self, **overrides: Any) -> InfluxSettings:
        """Settings that point the sink at this server."""
        values: dict[str, Any] = {
            "url": self.url,
            "org": ORG,
            "bucket": BUCKET,
            "token": SecretStr(self.token) if self.token else None,
            "timeout_s": 2.0,
        }
        return InfluxSettings(**(values | overrides))

    def start(self) -> FakeInflux:
        self._http.start()
        return self

    def stop(self) -> None:
        self._release.set()  # a hung request ends first, or shutdown waits for it
        self._http.stop()

    # -- records -------------------------------------------------------------------------

    @property
    def requests(self) -> list[Recorded]:
        with self._state.lock:
            return list(self._state.requests)

    @property
    def accepted(self) -> list[str]:
        """Every line written with 204, in the order received (a replay appears twice)."""
        with self._state.lock:
            return list(self._state.accepted)

    # -- script --------------------------------------------------------------------------

    def answer_next(
        self, status: int, body: str = "", headers: dict[str, str] | None = None
    ) -> None:
        """Answer the next request so, instead of writing it."""
        with self._state.lock:
            self._state.script.append(_Answer(status, body, headers or {}))

    def outage(self, status: int = 503) -> None:
        """Answer every write with ``status`` until ``restore()``."""
        with self._state.lock:
            self._state.down = _Answer(status, _error("unavailable", "service unavailable"))

    def hang(self) -> None:
        """Hold every request unanswered until ``restore()`` (a hung server)."""
        self._release.clear()
        with self._state.lock:
            self._state.down = _Answer(0)

    def restore(self) -> None:
        with self._state.lock:
            self._state.down = None
        self._release.set()

    def refuse_points_containing(self, text: str) -> None:
        """A body with a line containing ``text`` gets 400 (InfluxDB's parse error)."""
        with self._state.lock:
            self._state.refuse.add(text)

    # -- the server's side ---------------------------------------------------------------

    def _answer(self, request: Recorded) -> _Answer:
        with self._state.lock:
            self._state.requests.append(request)
            if self._state.script:
                return self._state.script.pop(0)
            if self._state.down is not None:
                return self._state.down
            if request.method != "POST" or request.path != "/api/v2/write":
                return _Answer(404, _error("not found", "path not found"))
            if self.token is not None and request.headers.get("Authorization") != (
                f"Token {self.token}"
            ):
                return _Answer(401, _error("unauthorized", "unauthorized access"))
            bad = [line for line in request.lines if any(t in line for t in self._state.refuse)]
            if bad:
                return _Answer(400, _error("invalid", f"unable to parse '{bad[0]}'"))
            self._state.accepted.extend(request.lines)
        return _Answer(204)


def _error(code: str, message: str) -> str:
    return json.dumps({"code": code, "message": message})


def _handler_for(fake: FakeInflux) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as InfluxDB

        def do_POST(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            data = gzip.decompress(raw) if self.headers.get("Content-Encoding") == "gzip" else raw
            request = Recorded(
                method=self.command,
                path=parts.path,
                query=parse_qs(parts.query, keep_blank_values=True),
                headers=dict(self.headers.items()),
                raw=raw,
                body=data.decode("utf-8"),
            )
            answer = fake._answer(request)
            if answer.status == 0:  # hung: hold the line until released
                fake._release.wait(30)
                self.close_connection = True
                return
            payload = answer.body.encode()
            try:
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                if payload:
                    self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:
                pass  # the client gave up waiting (a timeout test)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass  # quiet: the records are the log

    return Handler


@pytest.fixture
def fake_influx() -> Iterator[FakeInflux]:
    server = FakeInflux().start()
    yield server
    server.stop()
