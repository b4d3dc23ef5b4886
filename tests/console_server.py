"""A real console for tests: uvicorn on a free port in a thread, real stores in tmp_path,
and the real alarm service (the example alerting file, no notifiers, a fake clock).

Shared by tests/test_console*.py (httpx) and tests/test_console_browser.py (Chromium).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from argon2 import PasswordHasher
from argon2.profiles import CHEAPEST
from fastapi import FastAPI
from pydantic import SecretStr

from alerts.config import load_alerting
from alerts.feed import AlarmFeed
from alerts.listeners.console import ConsoleListener
from alerts.models import AlarmChange
from alerts.routing import Routing
from alerts.service import AlarmService
from alerts.store import AlarmStore, create_state_engine
from collectors.quarantine import Reason, reject
from collectors.sqlite_store import Batch, SqliteReadingStore
from console.app import ConsoleContext, create_app
from console.auth import CSRF_COOKIE, CSRF_HEADER, AuthContext, AuthService, Role
from console.reports.compute import ReportBuilder
from console.sops import SopStore
from inspections.service import InspectionService
from inspections.store import InspectionStore
from inspections.templates import default_templates
from sensors.clock import FakeClock
from sensors.events import AlarmEvent, Category, Severity, Transition
from sensors.facility import Facility, SensorKind
from sensors.payload import ReadingPayload
from sensors.reading import PresenceUpdate, Reading

SITE = "yunxi"
EXAMPLE_ALERTING = Path(__file__).resolve().parents[1] / "alerts" / "example-alerting.yaml"
# Every account the console tests make has this password (long enough for the rules).
DESK_PASSWORD = "correct horse battery staple"  # noqa: S105 - a test account's

# A plausible message per kind of sensor, all quiet.
QUIET_VALUES: Mapping[SensorKind, dict[str, Any]] = {
    SensorKind.CLIMATE: {"temperature": 20.0, "humidity": 50.0},
    SensorKind.SMOKE: {"smoke": False},
    SensorKind.HEAT: {"temperature": 21.0},
    SensorKind.DOOR: {"door": "closed"},
    SensorKind.WATER_LEAK: {"water_leak": False},
    SensorKind.LIGHT: {"lux": 0.0, "uv": 0.0},
    SensorKind.DUST: {"pm25": 8.0},
    SensorKind.GAS: {"voc": 0.1},
}


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Run ``app`` in uvicorn on a free port; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))  # bound here, so no other process can take the port first
    port = sock.getsockname()[1]
    # An open alarm stream never ends by itself: cut it after a second at shutdown.
    config = uvicorn.Config(app, log_level="warning", lifespan="off", timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="console-test", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the console server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


class ChangeRecorder:
    """A listener beside the console's own: keeps every change the service announces."""

    name = "test-recorder"

    def __init__(self) -> None:
        self.changes: list[AlarmChange] = []

    def notify(self, change: AlarmChange) -> None:
        self.changes.append(change)


@dataclass
class Console:
    """The stores and the alarm service behind a running console, and ways to fill them."""

    facility: Facility
    clock: FakeClock
    readings: SqliteReadingStore
    alarms: AlarmStore
    feed: AlarmFeed
    service: AlarmService
    recorder: ChangeRecorder
    auth: AuthService
    inspections: InspectionService
    reports: ReportBuilder
    url: str = ""
    health: dict[str, object] = field(
        default_factory=lambda: {"mqtt_connected": True, "problems": []}
    )
    sops: SopStore | None = None

    @property
    def routing(self) -> Routing:
        return self.service.routing

    def context(self, **options: Any) -> ConsoleContext:
        """A context on these stores and the service; ``options`` override or add fields
        (``actions=None`` serves a read-only console)."""
        options.setdefault("health", lambda: dict(self.health))
        options.setdefault("actions", self.service)
        options.setdefault("routing", self.service.routing)
        options.setdefault("auth", self.auth)
        options.setdefault("inspections", self.inspections)
        options.setdefault("reports", self.reports)
        options.setdefault("history", self.readings)
        options.setdefault("sops", self.sops)
        return ConsoleContext(
            facility=self.facility,
            readings=self.readings,
            alarms=self.alarms,
            feed=self.feed,
            clock=self.clock,
            **options,
        )

    def report(self, values: Mapping[str, Mapping[str, Any]], at: datetime | None = None) -> None:
        """Store one message per sensor (id → payload), received at ``at`` (default now)."""
        when = at or self.clock.now()
        batch = Batch()
        for sensor_id, payload in values.items():
            info = self.facility.sensors[(SITE, sensor_id)]
            raw = json.dumps(payload).encode()
            batch.readings.append(
                Reading(
                    site=SITE,
                    room=info.room,
                    sensor=sensor_id,
                    ts=when,
                    received_at=when,
                    payload=ReadingPayload.model_validate_json(raw),
                    raw=raw,
                )
            )
        self.readings.write(batch)

    def report_quiet(
        self,
        rooms: list[str] | None = None,
        overrides: Mapping[str, dict[str, Any]] | None = None,
    ) -> None:
        """A quiet message from every sensor of ``rooms`` (default: all), with overrides."""
        overrides = overrides or {}
        values = {
            info.id: {**QUIET_VALUES[info.kind], **overrides.get(info.id, {})}
            for info in self.facility.all_sensors()
            if rooms is None or info.room in rooms
        }
        self.report(values)

    def presence(self, sensor_id: str, online: bool) -> None:
        info = self.facility.sensors[(SITE, sensor_id)]
        update = PresenceUpdate(SITE, info.room, sensor_id, online, self.clock.now())
        self.readings.write(Batch(presence=[update]))

    def quarantine(self, topic: str, payload: bytes, reason: Reason, detail: str) -> None:
        self.readings.write(
            Batch(rejected=[reject(self.clock.now(), topic, payload, reason, detail)])
        )

    def raise_alarm(
        self,
        key: str,
        room: str | None,
        *,
        severity: Severity = Severity.CRITICAL,
        category: Category = Category.FIRE,
        message_zh: str = "火警：烟感报警",
        message_en: str = "Fire: smoke detected",
        transition: Transition = Transition.RAISE,
        sensor: str | None = None,
    ) -> AlarmChange:
        """Publish an alarm event to the alarm service, as the rules engine does; the
        service records it and its console listener tells the feed (and the stream).
        Returns the change the event made."""
        event = AlarmEvent(
            key=key,
            transition=transition,
            rule=key.split(":", 1)[0],
            category=category,
            severity=severity,
            site=SITE,
            room=room,
            sensor=sensor,
            at=self.clock.now(),
            message_zh=message_zh,
            message_en=message_en,
        )
        before = len(self.recorder.changes)
        self.service.publish([event])
        made = self.recorder.changes[before:]
        assert len(made) == 1, f"{event.transition} of {key} changed {made}"
        return made[0]


@contextmanager
def console_stores(
    tmp_path: Path, facility: Facility, clock: FakeClock, alerting: Path = EXAMPLE_ALERTING
) -> Iterator[Console]:
    """A readings store and an alarm store on SQLite files in ``tmp_path``, and the alarm
    service on them with the example alerting file's people, rotas and policies (or
    ``alerting``'s). No notifiers: messages wait in the outbox, and nothing delivers them
    (``deliver=False``)."""
    readings = SqliteReadingStore(tmp_path / "readings.db")
    readings.start()
    engine = create_state_engine(f"sqlite:///{tmp_path / 'state.db'}")
    alarms = AlarmStore(engine)
    feed = AlarmFeed()
    recorder = ChangeRecorder()
    service = AlarmService(
        alarms,
        facility,
        clock,
        routing=Routing(load_alerting(alerting, facility), facility),
        notifiers={},
        listeners=[ConsoleListener(feed), recorder],
    )
    service.start(deliver=False)  # creates the tables
    # Accounts (argon2 at its cheapest: tests log in often) and the shipped inspection
    # templates on the same state database, as the service has them.
    auth = AuthService(
        AuthContext(engine=engine, clock=clock, hasher=PasswordHasher.from_parameters(CHEAPEST))
    )
    auth.start()
    store = InspectionStore(engine)
    store.start()
    inspections = InspectionService(
        store, facility, default_templates(facility), clock, service, readings=readings
    )
    reports = ReportBuilder(facility, clock, readings, alarms, inspections)
    sops = SopStore(engine, clock)
    sops.start()
    try:
        yield Console(
            facility,
            clock,
            readings,
            alarms,
            feed,
            service,
            recorder,
            auth,
            inspections,
            reports,
            sops=sops,
        )
    finally:
        service.stop()
        readings.stop()
        engine.dispose()


@contextmanager
def running_console(
    tmp_path: Path, facility: Facility, clock: FakeClock, **options: Any
) -> Iterator[Console]:
    """Real stores and a real server; ``options`` go to the ConsoleContext."""
    with (
        console_stores(tmp_path, facility, clock) as console,
        serve(create_app(console.context(**options))) as url,
    ):
        console.url = url
        yield console


def login(
    console: Console,
    username: str,
    role: Role = Role.OPERATOR,
    sites: tuple[str, ...] = (SITE,),
) -> httpx.Client:
    """An httpx client on the running console, logged in as ``username`` (the account is
    made first if it does not exist), sending the CSRF header with every request as the
    desk's page does."""
    if console.auth.users.get(username) is None:
        console.auth.users.add(username, SecretStr(DESK_PASSWORD), role, sites)
    credentials = {"username": username, "password": DESK_PASSWORD}
    response = httpx.post(f"{console.url}/api/auth/login", json=credentials, timeout=10)
    assert response.status_code == 200, response.text
    # A client not used yet, so that the caller can open it with ``with``.
    return httpx.Client(
        base_url=console.url,
        timeout=10,
        cookies=response.cookies,
        headers={CSRF_HEADER: response.cookies[CSRF_COOKIE]},
    )


def token_client(
    console: Console, name: str, role: Role, sites: tuple[str, ...] = (SITE,)
) -> httpx.Client:
    """An httpx client on the running console with a new API token (another program)."""
    issued = console.auth.tokens.create(name, role, sites, created_by="test")
    return httpx.Client(
        base_url=console.url,
        timeout=10,
        headers={"Authorization": f"Bearer {issued.secret}"},
    )
