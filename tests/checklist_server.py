"""A real console for the checklist app's tests: the accounts, inspections and checkpoint
routers and the app's static files, on real SQLite stores in tmp_path and a fake clock.

Wired as the console will wire them: the inspection routes check the login themselves
(``inspect`` to do the work, a guard sees guards' tasks only) and list a room's alarms
from the alarm store on its task pages. The shipped inspection templates run against the
example site, and the real alarm service receives their reminders and overdue alarms.

    with running_checklist(tmp_path, facility, clock) as server:
        server.add_user("wang", Role.GUARD, "王保安")
        server.inspections.tick()          # today's patrols
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from pydantic import SecretStr

from console.auth import AuthService, Gate, Role, build_auth_router
from console.checkpoints import build_checkpoints_router
from console.inspections_api import build_inspections_router
from inspections.models import Task
from inspections.photos import MAX_PHOTO_BYTES
from inspections.service import InspectionService
from inspections.store import InspectionStore
from inspections.tables import photos
from inspections.templates import default_templates
from sensors.clock import FakeClock
from sensors.facility import Facility
from tests.console_server import SITE, Console, console_stores, serve
from tests.test_auth_support import PASSWORD, auth_service

ROOT = Path(__file__).resolve().parent.parent
STATIC_DIR = ROOT / "console" / "static"
APP_DIR = STATIC_DIR / "app"
# What the printed QR codes point at: the console's address as the phones reach it.
PUBLIC_URL = "https://lantai.example.org"


def checklist_app(
    console: Console, auth: AuthService, inspections: InspectionService, public_url: str
) -> FastAPI:
    """The console's parts the checklist app talks to, behind real logins."""
    app = FastAPI()
    gate = Gate(auth)
    app.include_router(build_auth_router(auth, gate))
    app.include_router(build_inspections_router(inspections, gate, console.alarms))
    app.include_router(build_checkpoints_router(console.facility, public_url))

    @app.get("/app", include_in_schema=False)
    def app_root() -> RedirectResponse:
        return RedirectResponse("/app/")

    app.mount("/app", StaticFiles(directory=APP_DIR, html=True), name="checklist-app")
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


@dataclass
class ChecklistServer:
    """The running server, the stores behind it, and ways to set up and read back."""

    console: Console
    auth: AuthService
    inspections: InspectionService
    url: str

    @property
    def clock(self) -> FakeClock:
        return self.console.clock

    def add_user(self, username: str, role: Role, display_name: str | None = None) -> None:
        self.auth.users.add(username, SecretStr(PASSWORD), role, [SITE], display_name=display_name)

    def today(self) -> date:
        return self.inspections.local_today(SITE)

    def tasks(self, role: str | None = "guard") -> list[Task]:
        """Today's tasks, as the store has them now."""
        return self.inspections.tasks_for_day(SITE, self.today(), role)

    def task(self, task_id: int) -> Task:
        found = self.inspections.task(task_id)
        assert found is not None, task_id
        return found

    def patrol(self, room: str, window_start_hour: int) -> Task:
        """Today's guard patrol of ``room`` whose window opens at that site-local hour."""
        zone = self.console.facility.sites[SITE].timezone
        for task in self.tasks():
            if task.room == room and task.window_start.astimezone(zone).hour == window_start_hour:
                return task
        raise LookupError(f"no patrol of {room} at {window_start_hour}:00 today")

    def photo_rows(self, task_id: int) -> list[tuple[int, str, str, int, str]]:
        """Every stored photo of a task: (id, item, content type, size, sha256)."""
        with self.inspections.store.engine.connect() as conn:
            rows = conn.execute(
                photos.select().where(photos.c.task_id == task_id).order_by(photos.c.id)
            ).all()
        return [(r.id, r.item_key, r.content_type, r.size, r.sha256) for r in rows]

    def photo_bytes(self, photo_id: int) -> bytes:
        found = self.inspections.photo(photo_id)
        assert found is not None, photo_id
        return found[1]


@contextmanager
def running_checklist(
    tmp_path: Path,
    facility: Facility,
    clock: FakeClock,
    public_url: str = PUBLIC_URL,
    photo_limit: int = MAX_PHOTO_BYTES,
) -> Iterator[ChecklistServer]:
    """Stores on SQLite files in ``tmp_path`` (one state database for alarms, accounts
    and inspections, as in the service), and the server on a free port."""
    with console_stores(tmp_path, facility, clock) as console:
        engine = console.alarms.engine
        auth = auth_service(engine, clock)
        store = InspectionStore(engine)
        store.start()
        inspections = InspectionService(
            store,
            facility,
            default_templates(facility),
            clock,
            console.service,
            readings=console.readings,
            photo_limit=photo_limit,
        )
        app = checklist_app(console, auth, inspections, public_url)
        with serve(app) as url:
            yield ChecklistServer(console, auth, inspections, url)


def jpeg_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a JPEG's start-of-frame segment."""
    at = 2
    while at < len(data):
        if data[at] != 0xFF:
            raise ValueError("not a JPEG segment")
        marker = data[at + 1]
        length = int.from_bytes(data[at + 2 : at + 4], "big")
        # SOF0–SOF15 carry the size, except DHT (C4), JPG (C8) and DAC (CC).
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height = int.from_bytes(data[at + 5 : at + 7], "big")
            width = int.from_bytes(data[at + 7 : at + 9], "big")
            return width, height
        at += 2 + length
    raise ValueError("no start-of-frame segment")


def png(width: int, height: int) -> bytes:
    """A grey PNG with diagonal stripes, standing in for a phone camera's picture (made
    without an imaging library: each row is a slice of one long ramp)."""
    ramp = bytes(i % 256 for i in range(width + 256))
    raw = b"".join(b"\x00" + ramp[y % 256 : y % 256 + width] for y in range(height))

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )


def checkpoint_path(url: str) -> str:
    """The path and fragment of a checkpoint URL, to open it on the test server."""
    found = re.match(r"^https?://[^/]+(/.*)$", url)
    assert found is not None, url
    return found.group(1)
