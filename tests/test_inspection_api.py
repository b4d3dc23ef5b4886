"""The inspections' REST endpoints over real HTTP (uvicorn on a free port, httpx): today's
tasks, answers and photos resent without duplicates, sign-off, the hazard loop, the
ledger as CSV, refusals in both languages, and the OpenAPI description."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy.engine import Engine

from alerts.service import AlarmService
from alerts.store import AlarmStore
from console.auth import AuthService, AuthSettings, Gate, Role, build_auth_router
from console.inspections_api import build_inspections_router
from inspections.service import InspectionService
from sensors.clock import FakeClock
from sensors.events import AlarmEvent, Category, Severity, TaskRequest, Transition
from sensors.facility import Facility
from tests.console_server import serve
from tests.test_auth_support import PASSWORD, auth_service, csrf_headers
from tests.test_inspection_common import (
    JPEG,
    PNG,
    ROOM,
    RecordingSink,
    local,
    make_service,
    state_engine,
)

# The people of these tests, with their roles: guards answer and rectify, the supervisor
# assigns, accepts and files hazards; each acts with an API token of their own.
PEOPLE = {
    "wang": Role.GUARD,
    "li": Role.GUARD,
    "he": Role.GUARD,
    "chen": Role.SUPERVISOR,
    "zhao": Role.VIEWER,  # leadership: reads, signs nothing here
}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(local(5, 0))


@pytest.fixture
def engine(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Engine]:
    with state_engine("sqlite", tmp_path, request) as found:
        yield found


@pytest.fixture
def service(engine: Engine, facility: Facility, clock: FakeClock) -> InspectionService:
    found = make_service(engine, facility, clock, RecordingSink())
    found.tick()  # Monday's tasks
    clock.set(local(5, 9))
    return found


@pytest.fixture
def auth(engine: Engine, clock: FakeClock) -> AuthService:
    # These tests jump days ahead; the sessions last as long as the settings allow, so the
    # people stay logged in across the jumps (session expiry is tested with the accounts).
    return auth_service(engine, clock, AuthSettings(idle_minutes=24 * 60, absolute_hours=24 * 7))


@pytest.fixture
def alarm_store(engine: Engine) -> AlarmStore:
    return AlarmStore(engine)


@pytest.fixture
def history(alarm_store: AlarmStore, facility: Facility, clock: FakeClock) -> AlarmService:
    """The real alarm service on the same database: what the task pages list."""
    alarms = AlarmService(alarm_store, facility, clock)
    alarms.start(deliver=False)
    return alarms


@pytest.fixture
def people(
    service: InspectionService, auth: AuthService, history: AlarmService, alarm_store: AlarmStore
) -> Iterator[dict[str, httpx.Client]]:
    """Each person's browser: logged in, sending the CSRF header as the app does."""
    app = FastAPI()
    app.include_router(build_auth_router(auth))
    app.include_router(build_inspections_router(service, Gate(auth), alarm_store))
    with serve(app) as url:
        clients = {}
        for name, role in PEOPLE.items():
            auth.users.add(name, SecretStr(PASSWORD), role, ["yunxi"])
            http = httpx.Client(base_url=url, timeout=10)
            login = http.post("/api/auth/login", json={"username": name, "password": PASSWORD})
            assert login.status_code == 200, login.text
            http.headers.update(csrf_headers(http))
            clients[name] = http
        yield clients
        for http in clients.values():
            http.close()


@pytest.fixture
def client(people: dict[str, httpx.Client]) -> httpx.Client:
    """The guard wang's browser."""
    return people["wang"]


def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def _morning(client: httpx.Client) -> dict[str, Any]:
    tasks = _ok(client.get("/api/inspections/tasks", params={"site": "yunxi", "role": "guard"}))
    return next(t for t in tasks if t["window_start"] == "2026-01-05T00:30:00Z")


def test_todays_tasks_and_one_task_in_detail(client: httpx.Client) -> None:
    tasks = _ok(client.get("/api/inspections/tasks", params={"date": "2026-01-05"}))
    assert [(t["room"], t["window_start"], t["window_end"]) for t in tasks] == [
        (ROOM, "2026-01-05T00:30:00Z", "2026-01-05T02:00:00Z"),
        (ROOM, "2026-01-05T08:30:00Z", "2026-01-05T09:30:00Z"),
    ]
    first = tasks[0]
    assert first["place"] == {"zh": "B2-04 特藏库", "en": "B2-04 Special collections"}
    assert first["title"] == {"zh": "日巡查", "en": "Daily patrol"}
    assert first["status"] == "open"
    assert first["items"][0] == {
        "key": "humidity",
        "kind": "reading",
        "label": {"zh": "相对湿度", "en": "Relative humidity"},
        "photo": "none",
        "field": "humidity",
        "unit": "%RH",
        "minimum": 45.0,
        "maximum": 55.0,
        "hazard_grade": "general",
    }
    assert _ok(client.get("/api/inspections/tasks", params={"date": "2026-01-06"})) == []
    detail = _ok(client.get(f"/api/inspections/tasks/{first['id']}"))
    extras = ("readings", "photos", "previous_signed_at", "alarms_since_previous", "hazards")
    assert {k: v for k, v in detail.items() if k not in extras} == first
    assert [detail[k] for k in extras] == [{}, [], None, [], []]
    missing = client.get("/api/inspections/tasks/999")
    assert missing.status_code == 404
    assert missing.json()["detail"] == {
        "reason": "not_found",
        "en": "no task 999",
        "zh": "没有任务 999",
    }
    assert client.get("/api/inspections/tasks", params={"site": "nowhere"}).status_code == 404


def test_a_patrol_answered_with_resends_and_signed_off(
    client: httpx.Client, clock: FakeClock, people: dict[str, httpx.Client]
) -> None:
    clock.set(local(5, 9, 10))
    task = _morning(client)
    base = f"/api/inspections/tasks/{task['id']}"
    answer = {
        "result": "pass",
        "value": 50.5,
        "client_id": "ph-1",
        "answered_at": "2026-01-05T01:00:00Z",
    }
    first = _ok(client.put(f"{base}/answers/humidity", json=answer))
    again = _ok(client.put(f"{base}/answers/humidity", json=answer))
    assert first == again
    assert first["answer"]["result"] == "pass"
    assert first["answer"]["answered_by"] == "wang"
    failed = _ok(
        people["li"].put(
            f"{base}/answers/doors",
            json={
                "result": "fail",
                "note": "北窗锁扣损坏",
                "client_id": "ph-2",
                "answered_at": "2026-01-05T01:01:00Z",
            },
        )
    )
    assert failed["answer"]["answered_by"] == "li"
    assert failed["hazard_id"] is not None
    files = {"file": ("tank.jpg", JPEG, "image/jpeg")}
    form = {"client_id": "ph-3", "item_key": "tank", "taken_at": "2026-01-05T01:02:00Z"}
    photo = _ok(client.post(f"{base}/photos", files=files, data=form), 201)
    resent = _ok(client.post(f"{base}/photos", files=files, data=form), 201)
    assert photo == resent
    assert (photo["content_type"], photo["size"], photo["item_key"]) == (
        "image/jpeg",
        len(JPEG),
        "tank",
    )
    image = client.get(f"/api/inspections/photos/{photo['id']}")
    assert (image.status_code, image.content, image.headers["content-type"]) == (
        200,
        JPEG,
        "image/jpeg",
    )
    assert "immutable" in image.headers["cache-control"]
    wrong = client.post(
        f"{base}/photos",
        files={"file": ("tank.jpg", PNG, "image/jpeg")},
        data={"client_id": "ph-4", "item_key": "tank"},
    )
    assert wrong.status_code == 415
    assert wrong.json()["detail"]["zh"] == "照片声明为 image/jpeg，实际为 image/png"
    sign = {"client_id": "ph-5", "checkpoint": "yunxi/B2-04", "signed_at": "2026-01-05T01:05:00Z"}
    refused = client.post(f"{base}/sign-off", json=sign)
    assert refused.status_code == 422
    assert refused.json()["detail"] == {
        "reason": "invalid",
        "en": "not answered yet: Dehumidifier tank emptied",
        "zh": "尚未填写：除湿机水箱已清空",
    }
    _ok(
        client.put(
            f"{base}/answers/tank",
            json={"result": "pass", "client_id": "ph-6", "answered_at": "2026-01-05T01:03:00Z"},
        )
    )
    signed = _ok(client.post(f"{base}/sign-off", json=sign))
    assert (signed["status"], signed["signed_by"], signed["signed_at"], signed["checkpoint"]) == (
        "done",
        "wang",
        "2026-01-05T01:05:00Z",
        "yunxi/B2-04",
    )
    assert _ok(client.post(f"{base}/sign-off", json=sign)) == signed  # resent
    assert [a["photo_ids"] for a in signed["answers"] if a["item_key"] == "tank"] == [[photo["id"]]]
    detail = _ok(client.get(base))
    assert [p["id"] for p in detail["photos"]] == [photo["id"]]
    [hazard] = detail["hazards"]
    assert (hazard["id"], hazard["state"], hazard["grade"]) == (
        failed["hazard_id"],
        "found",
        "danger",
    )
    bad = client.put(
        f"{base}/answers/doors",
        json={"result": "maybe", "client_id": "x", "answered_at": "2026-01-05T01:00:00Z"},
    )
    assert bad.status_code == 422  # validated at the edge


def test_the_hazard_loop_and_the_ledger(
    client: httpx.Client,
    service: InspectionService,
    clock: FakeClock,
    people: dict[str, httpx.Client],
) -> None:
    task = _morning(client)
    failed = _ok(
        client.put(
            f"/api/inspections/tasks/{task['id']}/answers/doors",
            json={
                "result": "fail",
                "note": "北窗锁扣损坏",
                "client_id": "d-1",
                "answered_at": "2026-01-05T01:00:00Z",
            },
        )
    )
    hazard_id = failed["hazard_id"]
    found = _ok(
        client.get("/api/hazards", params={"site": "yunxi", "state": ["found", "assigned"]})
    )
    assert [h["id"] for h in found] == [hazard_id]
    assert _ok(client.get("/api/hazards", params={"state": "filed"})) == []
    path = f"/api/hazards/{hazard_id}"
    assigned = _ok(
        people["chen"].post(
            f"{path}/assign", json={"owner": "he", "deadline": "2026-01-07T09:00:00Z"}
        )
    )
    assert (assigned["state"], assigned["owner"], assigned["deadline"]) == (
        "assigned",
        "he",
        "2026-01-07T09:00:00Z",
    )
    clock.set(local(6, 8))  # the next morning, within a day of logging in
    photo = _ok(
        people["he"].post(
            f"{path}/photos",
            files={"file": ("lock.png", PNG, "image/png")},
            data={"client_id": "hp-1"},
        ),
        201,
    )
    _ok(
        people["he"].post(
            f"{path}/rectify",
            json={"note": "更换锁扣", "photo_ids": [photo["id"]]},
        )
    )
    early = people["chen"].post(f"{path}/file", json={})
    assert early.status_code == 409
    assert early.json()["detail"]["reason"] == "conflict"
    _ok(people["chen"].post(f"{path}/reinspect", json={"accepted": True, "note": "合格"}))
    filed = _ok(people["chen"].post(f"{path}/file", json={}))
    assert [(e["state"], e["by"]) for e in filed["log"]] == [
        ("found", "wang"),
        ("assigned", "chen"),
        ("rectified", "he"),
        ("accepted", "chen"),
        ("filed", "chen"),
    ]
    assert filed["photo_ids"] == [photo["id"]]
    assert _ok(client.get(path)) == filed
    ledger = client.get("/api/hazards.csv", params={"since": "2026-01-01", "until": "2026-01-31"})
    assert ledger.status_code == 200
    assert ledger.headers["content-type"] == "text/csv; charset=utf-8"
    assert ledger.headers["content-disposition"] == (
        'attachment; filename="hazards-yunxi-2026-01-01-2026-01-31.csv"'
    )
    assert ledger.content.startswith(b"\xef\xbb\xbf")
    lines = ledger.content.decode("utf-8-sig").splitlines()
    assert len(lines) == 2
    assert lines[1].startswith(f"{hazard_id},B2-04 特藏库 / B2-04 Special collections,")
    assert lines[1].endswith(",已归档 / filed")
    assert service.hazard(hazard_id).state.value == "filed"  # type: ignore[union-attr]


def test_the_endpoints_are_described_in_openapi(
    service: InspectionService, engine: Engine, clock: FakeClock
) -> None:
    app = FastAPI()
    app.include_router(build_inspections_router(service, Gate(auth_service(engine, clock))))
    document = app.openapi()
    paths = document["paths"]
    assert {
        "/api/inspections/tasks",
        "/api/inspections/tasks/{task_id}",
        "/api/inspections/tasks/{task_id}/answers/{item_key}",
        "/api/inspections/tasks/{task_id}/photos",
        "/api/inspections/tasks/{task_id}/sign-off",
        "/api/inspections/photos/{photo_id}",
        "/api/hazards",
        "/api/hazards.csv",
        "/api/hazards/{hazard_id}",
        "/api/hazards/{hazard_id}/assign",
        "/api/hazards/{hazard_id}/rectify",
        "/api/hazards/{hazard_id}/reinspect",
        "/api/hazards/{hazard_id}/file",
        "/api/hazards/{hazard_id}/photos",
    } == set(paths)
    schemas = document["components"]["schemas"]
    assert {"TaskOut", "TaskDetailOut", "HazardOut", "AnswerIn", "SignOffIn", "RefusedOut"} <= set(
        schemas
    )
    assert schemas["HazardState"]["enum"] == ["found", "assigned", "rectified", "accepted", "filed"]
    upload = paths["/api/inspections/tasks/{task_id}/photos"]["post"]
    assert "multipart/form-data" in upload["requestBody"]["content"]
    assert {"201", "404", "409", "413", "415", "422"} <= set(upload["responses"])
    assert "text/csv" in paths["/api/hazards.csv"]["get"]["responses"]["200"]["content"]


def test_each_role_does_only_its_part(
    client: httpx.Client, people: dict[str, httpx.Client], service: InspectionService
) -> None:
    task = _morning(client)
    base = f"/api/inspections/tasks/{task['id']}"
    answer = {"result": "pass", "client_id": "r-1", "answered_at": "2026-01-05T01:00:00Z"}
    # A viewer reads the tasks but answers nothing.
    assert _ok(people["zhao"].get(base))["id"] == task["id"]
    assert people["zhao"].put(f"{base}/answers/humidity", json=answer).status_code == 403
    # A guard sees the guards' tasks only, whatever role is asked for.
    listed = _ok(client.get("/api/inspections/tasks", params={"role": "stack_manager"}))
    assert listed
    assert {t["role"] for t in listed} == {"guard"}
    service.request(
        [
            TaskRequest(
                key="rh-high:B2-04",
                rule="rh-task",
                site="yunxi",
                room=ROOM,
                at=service.now(),
                title_zh="检查除湿机",
                title_en="Check the dehumidifier",
                role="stack_manager",
            )
        ]
    )
    other = next(t for t in service.open_tasks("yunxi") if t.role == "stack_manager")
    assert client.get(f"/api/inspections/tasks/{other.id}").status_code == 403
    assert _ok(people["chen"].get(f"/api/inspections/tasks/{other.id}"))["role"] == "stack_manager"
    # Assigning a hazard is a supervisor's.
    failed = _ok(
        client.put(f"{base}/answers/doors", json={**answer, "result": "fail", "client_id": "r-2"})
    )
    deadline = {"owner": "he", "deadline": "2026-01-07T09:00:00Z"}
    hazard = f"/api/hazards/{failed['hazard_id']}"
    assert client.post(f"{hazard}/assign", json=deadline).status_code == 403
    assert _ok(people["chen"].post(f"{hazard}/assign", json=deadline))["state"] == "assigned"
    # Nobody acts without logging in.
    stranger = httpx.Client(base_url=str(client.base_url), timeout=10)
    assert stranger.get("/api/inspections/tasks").status_code == 401
    stranger.close()


def test_a_task_page_lists_the_rooms_alarms_since_the_last_patrol(
    client: httpx.Client, history: AlarmService, clock: FakeClock
) -> None:
    def leak(room: str, hour: int) -> None:
        clock.set(local(5, hour))
        history.publish(
            [
                AlarmEvent(
                    key=f"leak:{room}:{hour}",
                    transition=Transition.RAISE,
                    rule="water",
                    category=Category.WATER,
                    severity=Severity.CRITICAL,
                    site="yunxi",
                    room=room,
                    sensor=None,
                    at=local(5, hour),
                    message_zh=f"{room} 漏水",
                    message_en=f"water in {room}",
                )
            ]
        )

    leak(ROOM, 7)  # in the room, before the morning patrol
    leak("B2-01", 7)  # another room: not this task's
    clock.set(local(5, 9))
    morning = _morning(client)
    shown = _ok(client.get(f"/api/inspections/tasks/{morning['id']}"))["alarms_since_previous"]
    assert [(a["category"], a["message"]["en"]) for a in shown] == [("water", "water in B2-04")]
