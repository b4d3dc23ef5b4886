"""A local HTTP server standing in for Grafana's HTTP API, for ``lantai dashboards publish``.

It speaks the part of the API publishing uses, with Grafana's answers: GET a folder by uid
(404 and ``{"message": "folder not found"}`` when there is none), POST /api/folders, and
POST /api/dashboards/db (create or overwrite by uid; a version that grows). Bearer tokens
are checked (401 otherwise, as Grafana answers). grafana-client talks to it over real HTTP,
so the tests see exactly what a Grafana would receive.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.local_http import LocalHttpServer

TOKEN = "glsa_" + "Fake5ecret" * 3  # distinctive, so a leak is easy to find


@dataclass(frozen=True)
class Recorded:
    """One request as the server received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any  # the decoded JSON body, None when there was none


@dataclass
class _State:
    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: list[Recorded] = field(default_factory=list)
    folders: dict[str, str] = field(default_factory=dict)  # uid → title
    dashboards: dict[str, dict[str, Any]] = field(default_factory=dict)  # uid → stored
    refuse_dashboards: tuple[int, str] | None = None  # (status, message) for every save


class FakeGrafana:
    """The fake's controls and records; ``url`` is its base URL."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.state = _State()
        self._http = LocalHttpServer(_handler(self), "fake-grafana")

    @property
    def url(self) -> str:
        return self._http.url

    @property
    def requests(self) -> list[Recorded]:
        with self.state.lock:
            return list(self.state.requests)

    def start(self) -> None:
        self._http.start()

    def stop(self) -> None:
        self._http.stop()

    def refuse_saves(self, status: int, message: str) -> None:
        with self.state.lock:
            self.state.refuse_dashboards = (status, message)

    # --- the API ------------------------------------------------------------------------

    def answer(self, rec: Recorded) -> tuple[int, Any]:
        if rec.headers.get("Authorization") != f"Bearer {self.token}":
            return HTTPStatus.UNAUTHORIZED, {"message": "Unauthorized"}
        with self.state.lock:
            self.state.requests.append(rec)
            if rec.method == "GET" and rec.path.startswith("/api/folders/"):
                return self._folder(rec.path.removeprefix("/api/folders/"))
            if rec.method == "POST" and rec.path == "/api/folders":
                return self._create_folder(rec.body)
            if rec.method == "POST" and rec.path == "/api/dashboards/db":
                return self._save(rec.body)
        return HTTPStatus.NOT_FOUND, {"message": "Not found"}

    def _folder(self, uid: str) -> tuple[int, Any]:
        if uid not in self.state.folders:
            return HTTPStatus.NOT_FOUND, {"message": "folder not found", "status": 404}
        return HTTPStatus.OK, {"uid": uid, "title": self.state.folders[uid]}

    def _create_folder(self, body: dict[str, Any]) -> tuple[int, Any]:
        uid, title = body["uid"], body["title"]
        if uid in self.state.folders:
            return HTTPStatus.CONFLICT, {"message": "a folder with that uid exists"}
        self.state.folders[uid] = title
        return HTTPStatus.OK, {"uid": uid, "title": title, "url": f"/dashboards/f/{uid}/"}

    def _save(self, body: dict[str, Any]) -> tuple[int, Any]:
        if self.state.refuse_dashboards is not None:
            status, message = self.state.refuse_dashboards
            return status, {"message": message}
        board = body["dashboard"]
        folder = body.get("folderUid")
        if folder not in self.state.folders:
            return HTTPStatus.BAD_REQUEST, {"message": "folder not found"}
        uid = board["uid"]
        old = self.state.dashboards.get(uid)
        if old is not None and not body.get("overwrite"):
            return HTTPStatus.PRECONDITION_FAILED, {
                "message": "A dashboard with the same uid already exists",
                "status": "name-exists",
            }
        version = 1 if old is None else int(old["version"]) + 1
        self.state.dashboards[uid] = {"dashboard": board, "folderUid": folder, "version": version}
        return HTTPStatus.OK, {
            "id": len(self.state.dashboards),
            "uid": uid,
            "url": f"/d/{uid}/{uid}",
            "status": "success",
            "version": version,
            "slug": uid,
        }


def _handler(fake: FakeGrafana) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
            del format, args  # quiet: the test output is the record

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            rec = Recorded(
                method=self.command,
                path=parts.path,
                query=parse_qs(parts.query),
                headers=dict(self.headers.items()),
                body=json.loads(raw) if raw else None,
            )
            status, payload = fake.answer(rec)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = _serve  # noqa: N815 - BaseHTTPRequestHandler's naming
        do_POST = _serve  # noqa: N815

    return Handler


@pytest.fixture
def fake_grafana() -> Iterator[FakeGrafana]:
    fake = FakeGrafana()
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()
