"""The room page's data and an alarm's surrounding readings, over a real server and stores.

A morning in paper stack B2-01 on a fake clock: the climate sensors report every minute,
the door opens for a visit, a smoke alarm is raised and the morning patrol is signed.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from console.auth import Role
from console.room_history import MAX_POINTS, span_width
from inspections.models import Result
from rules.preservation import dew_point
from sensors.clock import FakeClock
from sensors.events import Category, Severity
from sensors.facility import Facility
from tests.console_server import Console, login, running_console

START = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai


@pytest.fixture
def console(tmp_path: Path, facility: Facility) -> Iterator[Console]:
    with running_console(tmp_path, facility, FakeClock(START)) as running:
        yield running


def climate_minutes(console: Console, minutes: int, t: float, rh: float) -> None:
    """``minutes`` of minute readings from both of B2-01's climate sensors (th2 0.4 °C and
    1 %RH above th1), ending now; the clock ends where it was."""
    end = console.clock.now()
    for m in range(minutes, 0, -1):
        at = end - timedelta(minutes=m - 1)
        console.report(
            {
                "b201-th1": {"temperature": t, "humidity": rh, "battery": 80.0},
                "b201-th2": {"temperature": t + 0.4, "humidity": rh + 1, "battery": 15.0},
            },
            at=at,
        )


def series(body: dict[str, Any], sensor: str, measure: str) -> list[dict[str, Any]]:
    (found,) = [s for s in body["series"] if (s["sensor"], s["measure"]) == (sensor, measure)]
    points: list[dict[str, Any]] = found["points"]
    return points


def test_the_span_width_keeps_every_series_within_500_points() -> None:
    assert span_width(timedelta(hours=2)) == timedelta(minutes=1)
    assert span_width(timedelta(hours=24)) == timedelta(minutes=5)  # 288 spans
    assert span_width(timedelta(days=7)) == timedelta(minutes=30)
    for hours in (1, 24, 100, 499, 500, 744):
        span = timedelta(hours=hours)
        # Rounding the start down may add one span, never more.
        assert span / span_width(span) + 1 <= MAX_POINTS, hours


def test_the_room_page_shows_series_band_swing_doors_alarms_and_patrols(
    console: Console,
) -> None:
    console.inspections.tick()  # 08:00 in Shanghai: today's patrols
    # 08:00-09:00 at 20 °C / 50 %, then 09:00-10:00 at 23 °C / 58 % (a 3 °C swing).
    console.clock.advance(timedelta(minutes=59))
    climate_minutes(console, 60, 20.0, 50.0)
    console.clock.advance(timedelta(minutes=60))
    climate_minutes(console, 60, 23.0, 58.0)
    opened = START + timedelta(minutes=30)
    console.report({"b201-door": {"door": "closed"}}, at=opened - timedelta(minutes=5))
    console.report({"b201-door": {"door": "open", "badge": "A17", "granted": True}}, at=opened)
    console.report({"b201-door": {"door": "open"}}, at=opened + timedelta(minutes=1))
    console.report({"b201-door": {"door": "closed"}}, at=opened + timedelta(minutes=12))
    console.clock.advance(timedelta(minutes=1))  # 10:00 in Shanghai
    smoke = console.raise_alarm("smoke:yunxi:B2-01", "B2-01", sensor="b201-smoke1")
    console.raise_alarm("smoke:yunxi:B2-02", "B2-02")  # another room: not on this page
    today = console.inspections.local_today("yunxi")
    patrol = next(
        t
        for t in console.inspections.tasks_for_day("yunxi", today, "guard")
        if t.room == "B2-01" and t.window_start == START + timedelta(minutes=30)  # 08:30
    )
    on_round = START + timedelta(minutes=50)  # the phone's time: within the window
    for n, item in enumerate(patrol.items):
        value = {"temperature": 20.0, "humidity": 50.0}.get(item.key)  # the reading items
        console.inspections.answer(
            patrol.id, item.key, Result.PASS, value, "", "wang", on_round, f"c{n}"
        )
    console.inspections.sign_off(patrol.id, "wang", on_round, None, "sign")

    with login(console, "leader", Role.VIEWER) as viewer:
        response = viewer.get("/api/rooms/yunxi/B2-01/history", params={"hours": 3})

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["site"], body["room"], body["hours"]) == ("yunxi", "B2-01", 3)
    assert body["name"] == {"zh": "第一纸质档案库", "en": "Paper stack 1"}
    assert body["limits"]["temperature"] == {"min": 14.0, "max": 24.0}  # JGJ 25 paper stack
    assert body["limits"]["humidity"] == {"min": 45.0, "max": 60.0}
    assert body["bucket_s"] == 60.0
    assert body["end"] == "2026-01-05T02:00:00Z"
    assert body["start"] == "2026-01-04T23:00:00Z"  # on a whole span
    temperature = series(body, "b201-th1", "temperature")
    assert len(temperature) == 120  # a span per minute with readings, none before 08:00
    assert temperature[0] == {
        "at": "2026-01-05T00:00:00Z",
        "mean": 20.0,
        "min": 20.0,
        "max": 20.0,
        "count": 1,
    }
    assert temperature[-1]["mean"] == 23.0
    assert series(body, "b201-th2", "humidity")[-1]["mean"] == 59.0
    dew = series(body, "b201-th1", "dew_point")
    assert dew[0]["mean"] == pytest.approx(dew_point(20.0, 50.0), abs=0.01)  # 9.26 °C
    assert (dew[0]["min"], dew[0]["max"]) == (None, None)
    # The day-night swing: 3 °C against ±2 °C (4 °C peak to peak), 8 % against ±5 %.
    (swing,) = [s for s in body["swing"] if s["sensor"] == "b201-th1"]
    assert (swing["temperature"], swing["temperature_limit"]) == (3.0, 4.0)
    assert (swing["humidity"], swing["humidity_limit"]) == (8.0, 10.0)
    assert (swing["temperature_over"], swing["humidity_over"]) == (False, False)
    # Door: opened with a badge, shut 12 minutes later; the repeat "open" is no event.
    assert [(d["at"], d["door"], d["badge"]) for d in body["doors"]] == [
        ("2026-01-05T00:42:00Z", "closed", None),
        ("2026-01-05T00:30:00Z", "open", "A17"),
        ("2026-01-05T00:25:00Z", "closed", None),
    ]
    assert [a["id"] for a in body["alarms"]] == [smoke.alarm.id]
    (signed,) = [i for i in body["inspections"] if i["id"] == patrol.id]
    assert (signed["status"], signed["signed_by"], signed["failed_items"]) == ("done", "wang", 0)
    sensors = {s["id"]: s for s in body["sensors"]}
    assert set(sensors) == {
        "b201-th1",
        "b201-th2",
        "b201-smoke1",
        "b201-smoke2",
        "b201-door",
        "b201-leak",
    }
    assert (sensors["b201-th2"]["battery"], sensors["b201-th2"]["battery_low"]) == (15.0, True)
    assert sensors["b201-th1"]["status"] == "ok"


def test_a_swing_past_the_limit_is_flagged(console: Console) -> None:
    climate_minutes(console, 1, 18.0, 50.0)
    console.clock.advance(timedelta(hours=5))
    climate_minutes(console, 1, 22.5, 50.0)
    with login(console, "leader", Role.VIEWER) as viewer:  # logged in after the 5 hours
        body = viewer.get("/api/rooms/yunxi/B2-01/history").json()
    (swing,) = [s for s in body["swing"] if s["sensor"] == "b201-th1"]
    assert (swing["temperature"], swing["temperature_over"]) == (4.5, True)


def test_a_month_is_downsampled_to_at_most_500_points(
    console: Console,
) -> None:
    for day in range(31):  # a reading every 20 minutes for a month: 2232 readings a sensor
        at = START + timedelta(days=day)
        for n in range(72):
            console.report(
                {"b201-th1": {"temperature": 19.0 + (n % 3), "humidity": 50.0}},
                at=at + timedelta(minutes=20 * n),
            )
    console.clock.set(START + timedelta(days=31))
    with login(console, "wang") as desk:  # logged in now: a session is hours long
        body = desk.get("/api/rooms/yunxi/B2-01/history", params={"hours": 744}).json()
    points = series(body, "b201-th1", "temperature")
    assert body["bucket_s"] == 7200.0
    assert len(points) <= MAX_POINTS
    assert sum(p["count"] for p in points) == 31 * 72
    # Each span keeps its extremes, so a chart still shows the 19-21 °C sawtooth.
    assert (points[5]["min"], points[5]["max"]) == (19.0, 21.0)


def test_history_needs_a_known_room_of_a_granted_site(console: Console) -> None:
    with login(console, "wang") as desk:
        unknown = desk.get("/api/rooms/yunxi/B9-99/history")
        too_long = desk.get("/api/rooms/yunxi/B2-01/history", params={"hours": 745})
    with login(console, "qian", Role.VIEWER, sites=("beishan",)) as elsewhere:
        refused = elsewhere.get("/api/rooms/yunxi/B2-01/history")
    assert unknown.status_code == 404
    assert too_long.status_code == 422
    assert refused.status_code == 403


def test_without_a_readings_history_the_page_is_503(
    tmp_path: Path, facility: Facility, clock: FakeClock
) -> None:
    with (
        running_console(tmp_path, facility, clock, history=None) as running,
        login(running, "wang") as desk,
    ):
        response = desk.get("/api/rooms/yunxi/B2-01/history")
        detail = desk.get(f"/api/alarms/{running.raise_alarm('smoke:x', 'B2-01').alarm.id}")
    assert response.status_code == 503
    assert detail.json()["readings_around"] is None


# -- the readings around an alarm --------------------------------------------------------


def test_an_alarm_shows_its_sensors_readings_half_an_hour_either_side(
    console: Console,
) -> None:
    for minutes in range(-45, 46, 5):
        at = START + timedelta(hours=1, minutes=minutes)
        console.report({"b201-smoke1": {"smoke": minutes >= 0}}, at=at)
        console.report({"b201-th1": {"temperature": 20.0, "humidity": 50.0}}, at=at)
    console.clock.set(START + timedelta(hours=1))
    fire = console.raise_alarm(
        "smoke:yunxi:B2-01", "B2-01", sensor="b201-smoke1", category=Category.FIRE
    )
    climate = console.raise_alarm(
        "climate:yunxi:B2-01",
        "B2-01",
        severity=Severity.MEDIUM,
        category=Category.CLIMATE,
    )
    console.clock.advance(timedelta(hours=1))
    with login(console, "wang") as desk:
        detail = desk.get(f"/api/alarms/{fire.alarm.id}").json()
        room_wide = desk.get(f"/api/alarms/{climate.alarm.id}").json()

    around = detail["readings_around"]
    assert (around["start"], around["end"]) == ("2026-01-05T00:30:00Z", "2026-01-05T01:30:00Z")
    assert around["sensors"] == ["b201-smoke1"]
    readings = around["readings"]
    assert [r["at"][11:16] for r in readings] == [
        f"{h:02d}:{m:02d}" for h, m in [(0, 30), (0, 35), (0, 40), (0, 45), (0, 50), (0, 55)]
    ] + [f"01:{m:02d}" for m in range(0, 30, 5)]
    assert readings[5]["values"] == {"smoke": False}
    assert readings[6]["values"] == {"smoke": True}
    # The procedure for its category comes with it.
    assert detail["sop"]["category"] == "fire"
    assert "119" in detail["sop"]["text"]["zh"]
    # An alarm of the room, not of one sensor: every sensor of the room.
    assert set(room_wide["readings_around"]["sensors"]) >= {"b201-th1", "b201-smoke1"}
    assert {r["sensor"] for r in room_wide["readings_around"]["readings"]} == {
        "b201-th1",
        "b201-smoke1",
    }
    assert room_wide["sop"]["category"] == "climate"
