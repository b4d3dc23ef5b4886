"""Every route of the console, as every kind of caller: what is allowed and what refused.

The console is built as the service builds it (tests/console_server.py's real stores, the
real alarm and inspection services, a demo injector). Each of the five roles logs in,
plus a supervisor of another site and a stranger, and each walks every operation of the
app's OpenAPI document, with the path filled by real ids made just before (a fresh alarm
for each acknowledgement, a fresh window for each one ended). The expected outcome is
the table below: a route missing from it fails the test, so a new route must be
classified here before it can ship.

Allowed means the request got through the gate: for the desk's own routes it must also
have succeeded (2xx); for the inspection, report and Twilio routes (tested in their own
files) any answer but 401 and 403. Refused means 401 for the stranger and 403 for
everybody else.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fastapi.routing import APIRoute, iter_route_contexts

from alerts.models import Via
from console.app import create_app
from console.auth import Role
from console.demo_actions import DemoScenario
from inspections.models import Result, Task
from sensors.clock import FakeClock
from sensors.events import Category
from sensors.facility import Facility
from tests.checklist_server import png
from tests.console_server import (
    DESK_PASSWORD,
    EXAMPLE_ALERTING,
    SITE,
    Console,
    console_stores,
    login,
    serve,
)

GUARD, OPERATOR, SUPERVISOR, ADMIN, VIEWER = "guard", "operator", "supervisor", "admin", "viewer"
OTHER_SITE = "elsewhere"  # a supervisor of another site only
STRANGER = "stranger"  # no login
CALLERS = (GUARD, OPERATOR, SUPERVISOR, ADMIN, VIEWER, OTHER_SITE, STRANGER)
ACCOUNTS: Mapping[str, tuple[Role, tuple[str, ...]]] = {
    GUARD: (Role.GUARD, (SITE,)),
    OPERATOR: (Role.OPERATOR, (SITE,)),
    SUPERVISOR: (Role.SUPERVISOR, (SITE,)),
    ADMIN: (Role.ADMIN, ()),  # every site
    VIEWER: (Role.VIEWER, (SITE,)),
    OTHER_SITE: (Role.SUPERVISOR, ("beishan",)),
}

EVERYONE = frozenset(CALLERS)
LOGGED_IN = EVERYONE - {STRANGER}
READERS = frozenset({OPERATOR, SUPERVISOR, ADMIN, VIEWER})
DESK = frozenset({OPERATOR, SUPERVISOR, ADMIN})  # ack, shelve (briefly), unshelve
SUPERVISORS = frozenset({SUPERVISOR, ADMIN})
INSPECTORS = frozenset({GUARD, SUPERVISOR, ADMIN})
# Lists without a site in the request: another site's user is let in, and sees nothing
# of this site (test_lists_show_another_sites_user_nothing_of_this_one).
LISTS = READERS | {OTHER_SITE}

# (method, OpenAPI path) -> who gets through.
EXPECTED: Mapping[tuple[str, str], frozenset[str]] = {
    # Open to all: the load balancer's health check, and the login itself.
    ("GET", "/api/health"): EVERYONE,
    ("POST", "/api/auth/login"): EVERYONE,
    ("POST", "/api/auth/logout"): EVERYONE,
    # Twilio's webhooks carry Twilio's signature instead of a login (404 here: no Twilio).
    ("POST", "/api/twilio/sms"): EVERYONE,
    ("POST", "/api/twilio/voice/{outbox_id}/keypress"): EVERYONE,
    ("POST", "/api/twilio/status/{outbox_id}"): EVERYONE,
    ("GET", "/api/auth/me"): LOGGED_IN,
    ("PUT", "/api/auth/me/language"): LOGGED_IN,
    # The desk.
    ("GET", "/api/sites"): LISTS,
    ("GET", "/api/rooms"): LISTS,
    ("GET", "/api/rooms/{site}/{room}"): READERS,
    ("GET", "/api/rooms/{site}/{room}/history"): READERS,
    ("GET", "/api/rooms/{site}/{room}/preservation"): READERS,
    ("GET", "/api/alarms"): LISTS,
    ("GET", "/api/alarms/stream"): LISTS,
    ("GET", "/api/alarms/{alarm_id}"): READERS,
    ("POST", "/api/alarms/{alarm_id}/ack"): DESK,
    ("POST", "/api/alarms/{alarm_id}/shelve"): DESK,  # 30 minutes: short enough for all
    ("POST", "/api/alarms/{alarm_id}/unshelve"): DESK,
    ("GET", "/api/maintenance-windows"): LISTS,
    ("POST", "/api/maintenance-windows"): SUPERVISORS,
    ("DELETE", "/api/maintenance-windows/{window_id}"): SUPERVISORS,
    ("GET", "/api/rotas"): LISTS,
    ("GET", "/api/quarantine"): LISTS,
    ("GET", "/api/sensors/health"): LISTS,
    # Procedures are the archive's, not a site's; a guard reads them at the door.
    ("GET", "/api/sops"): LISTS | {GUARD},
    ("GET", "/api/sops/{category}"): LISTS | {GUARD},
    ("PUT", "/api/sops/{category}"): SUPERVISORS | {OTHER_SITE},
    ("POST", "/api/demo/inject"): frozenset({OPERATOR, ADMIN}),
    # Inspections and hazards (console/inspections_api.py), reports.
    ("GET", "/api/inspections/tasks"): READERS | {GUARD},
    ("GET", "/api/inspections/tasks/{task_id}"): READERS | {GUARD},
    ("PUT", "/api/inspections/tasks/{task_id}/answers/{item_key}"): INSPECTORS,
    ("POST", "/api/inspections/tasks/{task_id}/sign-off"): INSPECTORS,
    ("POST", "/api/inspections/tasks/{task_id}/photos"): INSPECTORS,
    ("GET", "/api/inspections/photos/{photo_id}"): READERS | {GUARD},
    ("GET", "/api/hazards"): READERS | {GUARD},
    ("GET", "/api/hazards.csv"): READERS | {GUARD},
    ("GET", "/api/hazards/{hazard_id}"): READERS | {GUARD},
    ("POST", "/api/hazards/{hazard_id}/photos"): INSPECTORS,
    ("POST", "/api/hazards/{hazard_id}/assign"): SUPERVISORS,
    ("POST", "/api/hazards/{hazard_id}/rectify"): INSPECTORS,
    ("POST", "/api/hazards/{hazard_id}/reinspect"): SUPERVISORS,
    ("POST", "/api/hazards/{hazard_id}/file"): SUPERVISORS,
    ("GET", "/api/reports/{site}/{period}"): READERS,
}
# Routes whose allowed answers the role matrix only checks for "not refused": their
# success depends on state another test file sets up (Twilio's signature, a hazard's step).
NOT_REFUSED_IS_ENOUGH = frozenset(
    key
    for key in EXPECTED
    if key[1].startswith(("/api/twilio/", "/api/inspections/", "/api/hazards"))
)

# Pages (not in the OpenAPI document): who sees them, and where the others are sent.
LOGIN = "login"  # a redirect to the login page
PAGES: Mapping[str, Mapping[str, int | str]] = {
    "/": {
        **dict.fromkeys(LISTS, 200),
        GUARD: 303,  # to the checklist app
        STRANGER: LOGIN,
    },
    "/login": dict.fromkeys(CALLERS, 200),
    "/app": dict.fromkeys(CALLERS, 307),  # the checklist app's shell is public
    "/checkpoints/{site}": {
        **dict.fromkeys(READERS, 200),
        GUARD: 403,
        OTHER_SITE: 403,
        STRANGER: 401,
    },
    # Prometheus' scrape: any reader (another site's sees none of this site's series).
    "/metrics": {**dict.fromkeys(LISTS, 200), GUARD: 403, STRANGER: 401},
}


class RecordingInjector:
    """The demo's injector as lantai/demo.py provides it, minus the simulator."""

    def __init__(self) -> None:
        self.injected: list[tuple[DemoScenario, str, str | None]] = []

    def inject(self, scenario: DemoScenario, site: str, room: str | None) -> None:
        self.injected.append((scenario, site, room))


@dataclass
class Call:
    path: str
    params: dict[str, Any] | None = None
    json: Any = None
    files: dict[str, Any] | None = None
    data: dict[str, Any] | None = None


def matrix_alerting(tmp_path: Path) -> Path:
    """The example alerting file with a person for every test account, all allowed to
    shelve: the alerting file's own check must not hide the role's."""
    config = yaml.safe_load(EXAMPLE_ALERTING.read_text(encoding="utf-8"))
    for n, name in enumerate(sorted(ACCOUNTS)):
        config["people"].append(
            {"id": name, "name": name, "phone": f"+86139000000{n:02d}", "can_shelve": True}
        )
    path = tmp_path / "alerting.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


class Archive:
    """Real things for the paths to name, made fresh where a call uses one up."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._serial = itertools.count(1)
        console.report_quiet()
        console.inspections.tick()  # today's patrols
        self.task = self._guard_task()
        # Answers go to another item than the hazard's: a pass there would withdraw it.
        self.check_item = "dehumidifier"
        self.hazard_id = self._hazard()
        photo = console.inspections.add_photo(
            self.task.id, "no-leaks", png(8, 8), "image/png", GUARD, self.now, "matrix-photo"
        )
        self.photo_id = photo.id

    @property
    def now(self) -> datetime:
        return self.console.clock.now()

    def serial(self) -> int:
        return next(self._serial)

    def alarm(self, *, shelved: bool = False) -> int:
        n = self.serial()
        alarm = self.console.raise_alarm(f"matrix:{SITE}:{n}", "B2-01").alarm.id
        if shelved:
            until = self.now + timedelta(minutes=30)
            self.console.service.shelve(alarm, SUPERVISOR, "matrix", until, Via.API)
        return alarm

    def window(self) -> int:
        window = self.console.service.open_window(
            site=SITE,
            room="B2-02",
            sensor=None,
            starts_at=self.now,
            ends_at=self.now + timedelta(hours=1),
            reason="matrix",
            by=SUPERVISOR,
        )
        return window.id

    def sop_version(self) -> int:
        sops = self.console.sops
        assert sops is not None
        return sops.current(Category.FIRE).version

    def _guard_task(self) -> Task:
        today = self.console.inspections.local_today(SITE)
        tasks = self.console.inspections.tasks_for_day(SITE, today, "guard")
        return next(t for t in tasks if t.room == "B2-01")

    def _hazard(self) -> int:
        done = self.console.inspections.answer(
            self.task.id, "clean", Result.FAIL, None, "dust", GUARD, self.now, "matrix-hazard"
        )
        assert done.hazard_id is not None
        return done.hazard_id


def iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def calls(archive: Archive) -> Mapping[tuple[str, str], Callable[[], Call]]:
    """How to call each operation: a fresh request (and fresh things it uses up) per call."""
    task, hazard = archive.task.id, archive.hazard_id
    room = f"/api/rooms/{SITE}/B2-01"

    def answer() -> Call:
        body = {
            "result": "pass",
            "client_id": f"m-{archive.serial()}",
            "answered_at": iso(archive.now),
        }
        return Call(f"/api/inspections/tasks/{task}/answers/{archive.check_item}", json=body)

    def photo(path: str, **form: str) -> Callable[[], Call]:
        def make() -> Call:
            files = {"file": ("p.png", png(8, 8), "image/png")}
            return Call(path, files=files, data={"client_id": f"m-{archive.serial()}", **form})

        return make

    def sop() -> Call:
        body = {
            "version": archive.sop_version(),
            "title": {"zh": "火警处置程序", "en": "Fire alarm procedure"},
            "text": {"zh": "1. 拨打 119。", "en": "1. Call 119."},
        }
        return Call("/api/sops/fire", json=body)

    def shelve() -> Call:
        until = iso(archive.now + timedelta(minutes=30))
        return Call(f"/api/alarms/{archive.alarm()}/shelve", json={"reason": "m", "until": until})

    def window() -> Call:
        body = {
            "site": SITE,
            "room": "B2-03",
            "starts_at": iso(archive.now),
            "ends_at": iso(archive.now + timedelta(hours=1)),
            "reason": "matrix",
        }
        return Call("/api/maintenance-windows", json=body)

    def login_call() -> Call:
        return Call("/api/auth/login", json={"username": "probe", "password": DESK_PASSWORD})

    return {
        ("GET", "/api/health"): lambda: Call("/api/health"),
        ("POST", "/api/auth/login"): login_call,
        ("POST", "/api/auth/logout"): lambda: Call("/api/auth/logout"),
        ("POST", "/api/twilio/sms"): lambda: Call("/api/twilio/sms", data={"Body": "1"}),
        ("POST", "/api/twilio/voice/{outbox_id}/keypress"): lambda: Call(
            "/api/twilio/voice/1/keypress", data={"Digits": "1"}
        ),
        ("POST", "/api/twilio/status/{outbox_id}"): lambda: Call(
            "/api/twilio/status/1", data={"MessageStatus": "sent"}
        ),
        ("GET", "/api/auth/me"): lambda: Call("/api/auth/me"),
        ("PUT", "/api/auth/me/language"): lambda: Call(
            "/api/auth/me/language", json={"language": "zh-CN"}
        ),
        ("GET", "/api/sites"): lambda: Call("/api/sites"),
        ("GET", "/api/rooms"): lambda: Call("/api/rooms"),
        ("GET", "/api/rooms/{site}/{room}"): lambda: Call(room),
        ("GET", "/api/rooms/{site}/{room}/history"): lambda: Call(f"{room}/history"),
        ("GET", "/api/rooms/{site}/{room}/preservation"): lambda: Call(f"{room}/preservation"),
        ("GET", "/api/alarms"): lambda: Call("/api/alarms"),
        ("GET", "/api/alarms/stream"): lambda: Call("/api/alarms/stream"),
        ("GET", "/api/alarms/{alarm_id}"): lambda: Call(f"/api/alarms/{archive.alarm()}"),
        ("POST", "/api/alarms/{alarm_id}/ack"): lambda: Call(
            f"/api/alarms/{archive.alarm()}/ack", json={"comment": "matrix"}
        ),
        ("POST", "/api/alarms/{alarm_id}/shelve"): shelve,
        ("POST", "/api/alarms/{alarm_id}/unshelve"): lambda: Call(
            f"/api/alarms/{archive.alarm(shelved=True)}/unshelve"
        ),
        ("GET", "/api/maintenance-windows"): lambda: Call("/api/maintenance-windows"),
        ("POST", "/api/maintenance-windows"): window,
        ("DELETE", "/api/maintenance-windows/{window_id}"): lambda: Call(
            f"/api/maintenance-windows/{archive.window()}"
        ),
        ("GET", "/api/rotas"): lambda: Call("/api/rotas"),
        ("GET", "/api/quarantine"): lambda: Call("/api/quarantine"),
        ("GET", "/api/sensors/health"): lambda: Call("/api/sensors/health"),
        ("GET", "/api/sops"): lambda: Call("/api/sops"),
        ("GET", "/api/sops/{category}"): lambda: Call("/api/sops/water"),
        ("PUT", "/api/sops/{category}"): sop,
        ("POST", "/api/demo/inject"): lambda: Call(
            "/api/demo/inject", json={"scenario": "fire", "room": "B2-03", "site": SITE}
        ),
        ("GET", "/api/inspections/tasks"): lambda: Call(
            "/api/inspections/tasks", params={"site": SITE}
        ),
        ("GET", "/api/inspections/tasks/{task_id}"): lambda: Call(f"/api/inspections/tasks/{task}"),
        ("PUT", "/api/inspections/tasks/{task_id}/answers/{item_key}"): answer,
        ("POST", "/api/inspections/tasks/{task_id}/sign-off"): lambda: Call(
            f"/api/inspections/tasks/{task}/sign-off",
            json={"client_id": f"m-{archive.serial()}", "signed_at": iso(archive.now)},
        ),
        ("POST", "/api/inspections/tasks/{task_id}/photos"): photo(
            f"/api/inspections/tasks/{task}/photos", item_key="no-leaks"
        ),
        ("GET", "/api/inspections/photos/{photo_id}"): lambda: Call(
            f"/api/inspections/photos/{archive.photo_id}"
        ),
        ("GET", "/api/hazards"): lambda: Call("/api/hazards", params={"site": SITE}),
        ("GET", "/api/hazards.csv"): lambda: Call("/api/hazards.csv", params={"site": SITE}),
        ("GET", "/api/hazards/{hazard_id}"): lambda: Call(f"/api/hazards/{hazard}"),
        ("POST", "/api/hazards/{hazard_id}/photos"): photo(f"/api/hazards/{hazard}/photos"),
        ("POST", "/api/hazards/{hazard_id}/assign"): lambda: Call(
            f"/api/hazards/{hazard}/assign",
            json={"owner": "chen", "deadline": iso(archive.now + timedelta(days=7))},
        ),
        ("POST", "/api/hazards/{hazard_id}/rectify"): lambda: Call(
            f"/api/hazards/{hazard}/rectify", json={"note": "cleaned"}
        ),
        ("POST", "/api/hazards/{hazard_id}/reinspect"): lambda: Call(
            f"/api/hazards/{hazard}/reinspect", json={"accepted": True}
        ),
        ("POST", "/api/hazards/{hazard_id}/file"): lambda: Call(
            f"/api/hazards/{hazard}/file", json={}
        ),
        ("GET", "/api/reports/{site}/{period}"): lambda: Call(f"/api/reports/{SITE}/daily"),
    }


@dataclass
class Served:
    console: Console
    archive: Archive
    injector: RecordingInjector
    app_operations: set[tuple[str, str]]
    pages: set[str]


@pytest.fixture
def served(tmp_path: Path, facility: Facility) -> Iterator[Served]:
    # Monday 09:00 in Shanghai: the morning patrols' windows are open.
    clock = FakeClock(datetime(2026, 1, 5, 1, 0, tzinfo=UTC))
    with console_stores(tmp_path, facility, clock, matrix_alerting(tmp_path)) as console:
        injector = RecordingInjector()
        # /metrics renders whatever the service collects; what it shows is tested in
        # tests/test_metrics.py, here only who gets through.
        app = create_app(console.context(demo=injector, metrics=list))
        document = app.openapi()
        operations = {
            (method.upper(), path) for path, item in document["paths"].items() for method in item
        }
        pages = {
            context.path
            for context in iter_route_contexts(app.routes)
            if isinstance(context.original_route, APIRoute)
            and not context.original_route.include_in_schema
            and context.path is not None
        }
        with serve(app) as url:
            console.url = url
            for name, (role, sites) in ACCOUNTS.items():
                console.auth.users.add(name, _secret(), role, sites)
            console.auth.users.add("probe", _secret(), Role.VIEWER, (SITE,))
            yield Served(console, Archive(console), injector, operations, pages)


def _secret() -> Any:
    from pydantic import SecretStr  # noqa: PLC0415 - only the fixture needs it

    return SecretStr(DESK_PASSWORD)


def client_for(console: Console, caller: str) -> httpx.Client:
    if caller == STRANGER:
        return httpx.Client(base_url=console.url, timeout=10)
    role, sites = ACCOUNTS[caller]
    return login(console, caller, role, sites)


def send(client: httpx.Client, method: str, call: Call) -> httpx.Response:
    if call.path == "/api/alarms/stream":  # never ends by itself: read the head only
        with client.stream(method, call.path) as response:
            return response
    if call.path == "/api/auth/login":  # a client of its own: a login ends the caller's session
        with httpx.Client(base_url=client.base_url, timeout=10) as fresh:
            return fresh.request(method, call.path, json=call.json)
    return client.request(
        method, call.path, params=call.params, json=call.json, files=call.files, data=call.data
    )


def test_the_table_names_every_route_of_the_document(served: Served) -> None:
    assert served.app_operations - set(EXPECTED) == set(), "classify the new routes"
    assert set(EXPECTED) - served.app_operations == set(), "the table names routes that are gone"
    assert served.pages == set(PAGES), "classify the new pages"


@pytest.mark.parametrize("caller", CALLERS)
def test_every_route_as(served: Served, caller: str) -> None:
    assert walk(served, caller) == []


def walk(served: Served, caller: str) -> list[str]:
    """Every operation as ``caller``; what did not go as the table says."""
    ways = calls(served.archive)
    assert set(ways) == set(EXPECTED)
    wrong: list[str] = []
    # Logout last: it ends the caller's session.
    ordered = sorted(served.app_operations, key=lambda op: op == ("POST", "/api/auth/logout"))
    with client_for(served.console, caller) as client:
        for method, path in ordered:
            response = send(client, method, ways[(method, path)]())
            allowed = caller in EXPECTED[(method, path)]
            status = response.status_code
            if allowed:
                ok = status not in {401, 403} and status < 500
                if (method, path) not in NOT_REFUSED_IS_ENOUGH:
                    ok = 200 <= status < 300
            else:
                ok = status == (401 if caller == STRANGER else 403)
            if not ok:
                expected = "allowed" if allowed else "refused"
                wrong.append(f"{method} {path}: {status}, {expected}? {response.text[:200]}")
    return wrong


@pytest.mark.parametrize("caller", CALLERS)
def test_every_page_as(served: Served, caller: str) -> None:
    with client_for(served.console, caller) as client:
        for page, outcomes in PAGES.items():
            response = client.get(page.replace("{site}", SITE))
            expected = outcomes[caller]
            if expected == LOGIN:
                assert response.status_code == 303, page
                assert response.headers["location"].startswith("/login?next="), page
            else:
                assert response.status_code == expected, (page, response.text[:200])


def test_the_refused_changed_nothing_and_the_allowed_acted(served: Served) -> None:
    # After every caller's walk: only the operator's and the admin's injections reached the
    # simulator, and the procedure's versions are the supervisors' edits alone.
    for caller in CALLERS:
        assert walk(served, caller) == [], caller
    assert [i[2] for i in served.injector.injected] == ["B2-03", "B2-03"]
    sops = served.console.sops
    assert sops is not None
    editors = [v.edited_by for v in sops.history(Category.FIRE)]
    assert editors == [OTHER_SITE, ADMIN, SUPERVISOR, None]


def test_lists_show_another_sites_user_nothing_of_this_one(served: Served) -> None:
    served.archive.alarm()
    served.archive.window()
    with client_for(served.console, OTHER_SITE) as other:
        for path in (
            "/api/sites",
            "/api/rooms",
            "/api/alarms",
            "/api/maintenance-windows",
            "/api/rotas",
        ):
            assert other.get(path).json() == [], path
        assert other.get("/api/sensors/health").json()["sensors"] == []
        quarantine = other.get("/api/quarantine").json()
        assert (quarantine["total"], quarantine["messages"]) == (0, [])
        assert other.get("/api/health").json()["components"] != {}  # a reader, of no site here
