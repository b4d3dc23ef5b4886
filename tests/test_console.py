"""The console API over real HTTP: uvicorn in a thread, real SQLite stores, the real alarm
service and a real feed."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from alerts.models import Via
from collectors.quarantine import Reason
from console.auth import Role
from sensors.clock import FakeClock
from sensors.events import Category, Severity, Transition
from sensors.facility import Facility
from tests.console_server import Console, login, running_console

ROOMS = ["B2-01", "B2-02", "B2-03", "B2-04", "B3-01", "B3-02", "B3-03", "B3-04"]


@pytest.fixture
def console(tmp_path: Path, facility: Facility, clock: FakeClock) -> Iterator[Console]:
    with running_console(tmp_path, facility, clock) as running:
        yield running


@pytest.fixture
def desk(console: Console) -> Iterator[httpx.Client]:
    """The desk operator on duty, logged in."""
    with login(console, "wang", Role.OPERATOR) as client:
        yield client


def get(client: httpx.Client, path: str, **params: str | int) -> httpx.Response:
    return client.get(path, params=params)


def room(client: httpx.Client, room_id: str) -> dict[str, Any]:
    response = get(client, f"/api/rooms/yunxi/{room_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# -- health ---------------------------------------------------------------------------


def test_health_ok_reports_components_and_time(console: Console, desk: httpx.Client) -> None:
    console.health = {"mqtt_connected": True, "problems": [], "ingest": {"messages": 12}}
    body = get(desk, "/api/health").json()
    assert body["status"] == "ok"
    assert body["time"] == "2026-01-05T00:00:00Z"  # RFC 3339, UTC
    assert body["components"]["ingest"] == {"messages": 12}


@pytest.mark.parametrize(
    "health",
    [
        {"mqtt_connected": False, "problems": []},
        {"mqtt_connected": True, "problems": ["store_write_failed"]},
        {"mqtt_connected": True, "problems": {"store": [], "notifier": ["sms down"]}},
    ],
)
def test_health_degraded(console: Console, desk: httpx.Client, health: dict[str, object]) -> None:
    console.health = health
    body = get(desk, "/api/health").json()
    assert body["status"] == "degraded"
    assert body["components"] == health


def test_health_degraded_when_the_probe_fails(
    tmp_path: Path, facility: Facility, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    # A driver's message can carry a connection URL with its password: the page names the
    # kind of failure, the log keeps the text for the administrator.
    def broken() -> dict[str, object]:
        raise RuntimeError("connection to postgresql://lantai:s3cret@db failed")

    with (
        running_console(tmp_path, facility, clock, health=broken) as running,
        login(running, "leader", Role.VIEWER) as viewer,
    ):
        response = get(viewer, "/api/health")
    body = response.json()
    assert body["status"] == "degraded"
    assert body["components"]["problems"] == ["health check failed: RuntimeError"]
    assert "s3cret" not in response.text
    assert "connection to postgresql://lantai:s3cret@db failed" in caplog.text


def test_health_tells_a_stranger_only_ok_or_degraded(console: Console) -> None:
    # A load balancer asks without logging in: it learns whether Lantai works, not the
    # counters and problems (which name sensors, queues and phone providers).
    console.health = {"mqtt_connected": False, "problems": ["broker gone"], "ingest": {"n": 3}}
    with httpx.Client(base_url=console.url, timeout=5) as stranger:
        response = get(stranger, "/api/health")
        unknown_token = stranger.get("/api/health", headers={"Authorization": "Bearer lantai_x"})
    assert response.status_code == 200
    assert response.json() == {
        "status": "degraded",
        "time": "2026-01-05T00:00:00Z",
        "components": {},
    }
    assert unknown_token.json()["components"] == {}
    # A guard's login may not read the desk's data: the same as a stranger.
    with login(console, "wang", Role.GUARD) as guard:
        assert get(guard, "/api/health").json()["components"] == {}


# -- rooms ----------------------------------------------------------------------------


def test_rooms_with_fresh_readings_are_normal(console: Console, desk: httpx.Client) -> None:
    console.report_quiet(
        overrides={
            "b201-th1": {"temperature": 20.0, "humidity": 50.0},
            "b201-th2": {"temperature": 22.0, "humidity": 54.0},
            "b201-door": {"door": "open"},
        }
    )
    rooms = get(desk, "/api/rooms").json()
    assert [r["id"] for r in rooms] == ROOMS
    assert {r["state"] for r in rooms} == {"normal"}

    b201 = rooms[0]
    assert (b201["temperature"], b201["humidity"]) == (21.0, 52.0)  # mean of two sensors
    assert b201["door"] == "open"
    assert b201["name"] == {"zh": "第一纸质档案库", "en": "Paper stack 1"}
    assert b201["floor_name"]["en"] == "Second floor stacks"
    assert b201["room_class_name"]["zh"] == "纸质档案库"
    assert b201["limits"]["temperature"] == {"min": 14.0, "max": 24.0}
    assert b201["active_alarms"] == 0
    th1 = next(s for s in b201["sensors"] if s["id"] == "b201-th1")
    assert th1["values"] == {"temperature": 20.0, "humidity": 50.0}
    assert th1["last_seen"] == "2026-01-05T00:00:00Z"
    assert th1["offline"] is False
    # The room's own limits override its class: B2-02 has a tighter RH band.
    assert rooms[1]["limits"]["humidity"] == {"min": 45.0, "max": 55.0}
    assert rooms[1]["door"] == "closed"


def test_rooms_of_one_site_and_unknown_site(console: Console, desk: httpx.Client) -> None:
    console.report_quiet()
    assert len(get(desk, "/api/rooms", site="yunxi").json()) == len(ROOMS)
    response = get(desk, "/api/rooms", site="atlantis")
    assert response.status_code == 404
    assert response.json() == {"detail": "没有馆区 'atlantis' / unknown site 'atlantis'"}


def test_room_with_active_critical_alarm_is_in_alarm(console: Console, desk: httpx.Client) -> None:
    console.report_quiet()
    console.raise_alarm("smoke:yunxi:B2-01", "B2-01", severity=Severity.CRITICAL)
    b201 = room(desk, "B2-01")
    assert b201["state"] == "alarm"
    assert b201["active_alarms"] == 1
    assert room(desk, "B2-02")["state"] == "normal"


def test_medium_alarm_is_a_warning_and_a_cleared_one_counts_no_more(
    console: Console, desk: httpx.Client
) -> None:
    console.report_quiet()
    console.raise_alarm(
        "climate:B3-01", "B3-01", severity=Severity.MEDIUM, category=Category.CLIMATE
    )
    assert room(desk, "B3-01")["state"] == "warning"
    console.raise_alarm(
        "climate:B3-01", "B3-01", severity=Severity.MEDIUM, transition=Transition.CLEAR
    )
    after = room(desk, "B3-01")
    assert (after["state"], after["active_alarms"]) == ("normal", 0)


def test_alarm_outranks_warning_and_offline(console: Console, desk: httpx.Client) -> None:
    console.report_quiet(rooms=["B2-02"])
    console.presence("b202-smoke", online=False)
    assert room(desk, "B2-02")["state"] == "offline"
    console.raise_alarm("climate:B2-02", "B2-02", severity=Severity.LOW)
    assert room(desk, "B2-02")["state"] == "warning"
    console.raise_alarm("intrusion:B2-02", "B2-02", severity=Severity.HIGH)
    b202 = room(desk, "B2-02")
    assert (b202["state"], b202["active_alarms"]) == ("alarm", 2)


def test_sensor_silent_past_three_intervals_makes_room_offline(
    console: Console, desk: httpx.Client
) -> None:
    console.report_quiet()
    # Climate sensors report every minute: three minutes of silence is still in time.
    console.clock.advance(timedelta(minutes=3))
    assert room(desk, "B2-01")["state"] == "normal"
    console.clock.advance(timedelta(seconds=1))
    b201 = room(desk, "B2-01")
    assert b201["state"] == "offline"
    stale = {s["id"] for s in b201["sensors"] if s["offline"]}
    assert stale == {"b201-th1", "b201-th2"}  # smoke, door and leak report every 5 min
    # A stale value is not shown as the room's climate now.
    assert (b201["temperature"], b201["humidity"]) == (None, None)


def test_presence_offline_and_never_seen_sensors_are_offline(
    console: Console, desk: httpx.Client
) -> None:
    console.report_quiet(rooms=["B2-01"])
    console.presence("b201-door", online=False)
    b201 = room(desk, "B2-01")
    door = next(s for s in b201["sensors"] if s["id"] == "b201-door")
    assert (door["online"], door["offline"], b201["state"]) == (False, True, "offline")
    never = room(desk, "B2-02")  # nothing reported at all
    assert never["state"] == "offline"
    assert all(s["last_seen"] is None for s in never["sensors"])


def test_a_room_in_maintenance_shows_it_and_its_held_alarms_call_nobody(
    console: Console, desk: httpx.Client
) -> None:
    console.report_quiet()
    now = console.clock.now()
    window = console.service.open_window(
        site="yunxi",
        room="B2-01",
        sensor=None,
        starts_at=now,
        ends_at=now + timedelta(hours=2),
        reason="更换烟感",
        by="chen",
    )
    # Smoke from the work: recorded, held by the window, and the tile says maintenance.
    console.raise_alarm("smoke:yunxi:B2-01", "B2-01")
    b201 = room(desk, "B2-01")
    assert (b201["state"], b201["active_alarms"]) == ("maintenance", 1)
    assert b201["maintenance_windows"] == [window.id]
    assert all(s["in_maintenance"] for s in b201["sensors"])
    assert room(desk, "B2-02")["maintenance_windows"] == []


def test_a_sensor_out_of_service_is_not_an_offline_room_but_another_silent_one_is(
    console: Console, desk: httpx.Client
) -> None:
    console.report_quiet(rooms=["B2-02"])
    console.presence("b202-smoke", online=False)
    assert room(desk, "B2-02")["state"] == "offline"
    console.service.open_window(
        site="yunxi",
        room=None,
        sensor="b202-smoke",
        starts_at=console.clock.now(),
        ends_at=None,
        reason="探头返厂维修",
        by="chen",
        out_of_service=True,
    )
    b202 = room(desk, "B2-02")
    assert b202["state"] == "maintenance"  # the silent sensor is the one being repaired
    smoke = next(s for s in b202["sensors"] if s["id"] == "b202-smoke")
    assert (smoke["offline"], smoke["in_maintenance"]) == (True, True)
    console.presence("b202-door", online=False)  # not covered: the room is offline again
    assert room(desk, "B2-02")["state"] == "offline"


def test_unknown_room_is_404(console: Console, desk: httpx.Client) -> None:
    response = get(desk, "/api/rooms/yunxi/B9-99")
    assert response.status_code == 404
    assert response.json() == {
        "detail": "馆区 'yunxi' 没有库房 'B9-99' / unknown room 'B9-99' in site 'yunxi'"
    }


# -- alarms ---------------------------------------------------------------------------


def test_alarms_state_filter_order_and_site(console: Console, desk: httpx.Client) -> None:
    low = console.raise_alarm("silent:b301-th1", "B3-01", severity=Severity.LOW)
    console.clock.advance(60)
    fire = console.raise_alarm("smoke:B2-01", "B2-01", severity=Severity.CRITICAL)
    console.clock.advance(60)
    gone = console.raise_alarm("climate:B2-02", "B2-02", severity=Severity.MEDIUM)
    console.raise_alarm("climate:B2-02", "B2-02", transition=Transition.CLEAR)
    seen = console.raise_alarm("intrusion:B2-04", "B2-04", severity=Severity.HIGH)
    console.service.ack(seen.alarm.id, "wang", Via.API)
    done = console.raise_alarm("climate:B3-02", "B3-02", severity=Severity.MEDIUM)
    console.service.ack(done.alarm.id, "wang", Via.API)
    console.raise_alarm("climate:B3-02", "B3-02", transition=Transition.CLEAR)

    # The desk's list (the default): unacknowledged first, whether the condition is still
    # there or returned to normal unseen; then by severity; closed alarms are history.
    open_ = get(desk, "/api/alarms").json()
    assert [a["id"] for a in open_] == [fire.alarm.id, gone.alarm.id, low.alarm.id, seen.alarm.id]
    assert [a["state"] for a in open_] == ["unacked", "rtn_unacked", "unacked", "acked"]
    assert get(desk, "/api/alarms", state="open").json() == open_
    assert open_[0]["raised_at"] == "2026-01-05T00:01:00Z"
    assert open_[0]["message_zh"] == "火警：烟感报警"
    assert open_[1]["cleared_at"] == "2026-01-05T00:02:00Z"
    assert (open_[3]["acked_by"], open_[3]["acked_at"]) == ("wang", "2026-01-05T00:02:00Z")

    active = get(desk, "/api/alarms", state="active").json()
    assert [a["id"] for a in active] == [fire.alarm.id, low.alarm.id, seen.alarm.id]
    every = get(desk, "/api/alarms", state="all").json()
    assert [a["id"] for a in every] == [a["id"] for a in open_] + [done.alarm.id]
    assert every[-1]["state"] == "closed"
    assert get(desk, "/api/alarms", site="elsewhere").status_code == 404
    assert len(get(desk, "/api/alarms", limit=1).json()) == 1


@pytest.mark.parametrize(
    "params", [{"state": "cleared"}, {"state": "unacked"}, {"limit": 1001}, {"limit": 0}]
)
def test_alarms_bad_query_is_422(
    console: Console, desk: httpx.Client, params: dict[str, str | int]
) -> None:
    response = get(desk, "/api/alarms", **params)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][0] == "query"


def test_one_alarm_with_its_timeline_and_notifications_and_404(
    console: Console, desk: httpx.Client
) -> None:
    fire = console.raise_alarm("smoke:B2-01", "B2-01", sensor="b201-smoke1")
    body = get(desk, f"/api/alarms/{fire.alarm.id}").json()
    alarm = body["alarm"]
    assert (alarm["key"], alarm["severity"], alarm["category"]) == (
        "smoke:B2-01",
        "critical",
        "fire",
    )
    assert (alarm["state"], alarm["sensor"]) == ("unacked", "b201-smoke1")
    assert alarm["incident_id"] is not None
    raised = body["timeline"][0]
    assert (raised["action"], raised["by"], raised["via"]) == ("raised", "rule:smoke", "rule")
    assert "escalation_started" in [e["action"] for e in body["timeline"]]
    # The critical policy's first step: an SMS to the guard on duty (wang, 08:00 Monday
    # in Shanghai), waiting in the outbox because this console has no notifiers.
    assert [(n["channel"], n["who"], n["state"]) for n in body["notifications"]] == [
        ("sms", "wang", "pending")
    ]
    missing = get(desk, "/api/alarms/999")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "没有报警 999 / no alarm 999"}


# -- quarantine -----------------------------------------------------------------------


def test_quarantine_counts_and_messages(console: Console, desk: httpx.Client) -> None:
    for n in range(3):
        console.quarantine("archive/yunxi/B2-01/b201-th1", b"{oops %d" % n, Reason.NOT_JSON, "x")
    console.quarantine("archive/yunxi/B2-01/ghost", b'{"smoke": false}', Reason.UNKNOWN_SENSOR, "")
    body = get(desk, "/api/quarantine").json()
    assert body["counts"] == {"not_json": 3, "unknown_sensor": 1}
    assert body["total"] == 4
    newest = body["messages"][0]
    assert newest["topic"] == "archive/yunxi/B2-01/ghost"
    assert newest["payload"] == '{"smoke": false}'
    assert newest["payload_size"] == 16
    assert newest["received_at"] == "2026-01-05T00:00:00Z"

    only = get(desk, "/api/quarantine", reason="not_json", limit=2).json()
    assert [m["payload"] for m in only["messages"]] == ["{oops 2", "{oops 1"]
    assert only["total"] == 4  # the counters are for every reason
    assert get(desk, "/api/quarantine", reason="nonsense").status_code == 422


# -- the live stream ------------------------------------------------------------------


def test_stream_delivers_an_alarm_published_from_another_thread_within_1s(
    console: Console, desk: httpx.Client
) -> None:
    # Raised before anybody listens: the feed drops it, and the test publishes it again below.
    fire = console.raise_alarm("smoke:B2-03", "B2-03")
    with desk.stream("GET", "/api/alarms/stream") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.iter_lines()
        assert next(lines) == "retry: 1000"  # sent once the stream is subscribed
        started = time.monotonic()
        threading.Thread(target=console.feed.publish, args=(fire,)).start()
        event = [line for line in _event(lines) if not line.startswith(":")]
        elapsed = time.monotonic() - started
    assert elapsed < 1.0
    assert event[0] == "event: alarm"
    data = json.loads(event[1].removeprefix("data: "))
    assert data["change"] == "raised"
    assert data["alarm"]["id"] == fire.alarm.id
    assert data["alarm"]["message_en"] == "Fire: smoke detected"


def test_stream_unsubscribes_when_the_client_leaves(console: Console, desk: httpx.Client) -> None:
    with desk.stream("GET", "/api/alarms/stream") as response:
        # Keep the iterator: a discarded one is closed at once, and closing it closes the
        # response, which is a real disconnect racing the assertion below.
        lines = response.iter_lines()
        next(lines)
        assert len(console.feed._subscribers) == 1
    deadline = time.monotonic() + 5
    while console.feed._subscribers and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not console.feed._subscribers


def test_stream_sends_keepalive_comments_when_idle(
    tmp_path: Path, facility: Facility, clock: FakeClock
) -> None:
    with (
        running_console(tmp_path, facility, clock, keepalive_seconds=0.1) as running,
        login(running, "leader", Role.VIEWER) as viewer,
        viewer.stream("GET", "/api/alarms/stream") as response,
    ):
        lines = response.iter_lines()
        assert next(lines) == "retry: 1000"
        assert _event(lines) == [": keepalive"]
        assert _event(lines) == [": keepalive"]


def test_stream_shows_only_the_callers_sites_and_needs_a_login(
    tmp_path: Path, facility: Facility, clock: FakeClock
) -> None:
    with running_console(tmp_path, facility, clock, keepalive_seconds=0.2) as console:
        fire = console.raise_alarm("smoke:B2-03", "B2-03")
        with httpx.Client(base_url=console.url, timeout=5) as stranger:
            assert stranger.get("/api/alarms/stream").status_code == 401
        with (
            login(console, "qian", Role.OPERATOR, sites=("beishan",)) as elsewhere,
            login(console, "leader", Role.VIEWER) as viewer,
            elsewhere.stream("GET", "/api/alarms/stream") as other,
            viewer.stream("GET", "/api/alarms/stream") as own,
        ):
            other_lines, own_lines = other.iter_lines(), own.iter_lines()
            assert next(other_lines) == next(own_lines) == "retry: 1000"
            console.feed.publish(fire)
            assert _event(own_lines)[0] == "event: alarm"
            # Another site's operator hears nothing of yunxi: only the next keepalive.
            assert _event(other_lines) == [": keepalive"]


def test_stream_ends_when_the_session_ends(
    tmp_path: Path, facility: Facility, clock: FakeClock
) -> None:
    with (
        running_console(tmp_path, facility, clock, keepalive_seconds=0.1) as running,
        login(running, "wang", Role.OPERATOR) as desk,
        desk.stream("GET", "/api/alarms/stream") as response,
    ):
        lines = response.iter_lines()
        assert next(lines) == "retry: 1000"
        assert _event(lines) == [": keepalive"]
        assert desk.post("/api/auth/logout").status_code == 204
        # At the next re-check (one keepalive on) the server ends the stream.
        rest = list(lines)
        assert len(rest) <= 4  # at most a keepalive or two in flight, then the end
        assert desk.get("/api/alarms/stream").status_code == 401


def _event(lines: Iterator[str]) -> list[str]:
    """The lines of the next block, up to its blank line."""
    block: list[str] = []
    for line in lines:
        if line == "":
            if block:
                return block
            continue
        block.append(line)
    return block


# -- page and document ----------------------------------------------------------------


def test_page_and_its_assets_are_served(console: Console, desk: httpx.Client) -> None:
    page = get(desk, "/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "/static/app.js" in page.text
    assert "实时连接已断开" in page.text
    for asset, kind in [("app.js", "javascript"), ("app.css", "text/css")]:
        response = get(desk, f"/static/{asset}")
        assert response.status_code == 200
        assert kind in response.headers["content-type"]


def test_the_page_sends_a_stranger_to_the_login_and_a_guard_to_the_checklist(
    console: Console,
) -> None:
    with httpx.Client(base_url=console.url, timeout=5) as stranger:
        page = stranger.get("/", params={"lang": "zh"})
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=%2F%3Flang%3Dzh"
    with login(console, "wang", Role.GUARD) as guard:
        page = guard.get("/")
    assert (page.status_code, page.headers["location"]) == (303, "/app/")


def test_openapi_served_with_title_and_sites(console: Console, desk: httpx.Client) -> None:
    document = get(desk, "/openapi.json").json()
    assert document["info"]["title"] == "Lantai console"
    assert "/api/alarms/stream" in document["paths"]
    sites = get(desk, "/api/sites").json()
    assert sites[0]["id"] == "yunxi"
    assert sites[0]["timezone"] == "Asia/Shanghai"
    assert [f["id"] for f in sites[0]["floors"]] == ["F2", "F3"]


def test_a_console_without_accounts_shows_nobody_the_archive(
    tmp_path: Path, facility: Facility, clock: FakeClock
) -> None:
    # No way to tell who asks: only the health check and Twilio's (signed) webhooks.
    with (
        running_console(tmp_path, facility, clock, auth=None) as running,
        httpx.Client(base_url=running.url, timeout=5) as anybody,
    ):
        health = anybody.get("/api/health")
        rooms = anybody.get("/api/rooms")
        page = anybody.get("/")
        twilio = anybody.post("/api/twilio/sms", data={"Body": "1"})
    assert (health.status_code, health.json()["components"]) == (200, {})
    assert (rooms.status_code, page.status_code) == (404, 404)
    assert twilio.status_code == 404  # "Twilio is not configured": the route is there
    assert twilio.json() == {"detail": "Twilio is not configured"}
