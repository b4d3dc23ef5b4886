"""GET /api/sensors/health over a real server and stores, as a morning on a fake clock:
every sensor reports at 08:00 (one with a fast clock, one with a weak battery), the upper
floor's climate sensors fall silent, a light sensor says goodbye, and a probe sends junk.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from collectors.quarantine import Reason
from collectors.sqlite_store import Batch
from console.auth import Role
from sensors.clock import FakeClock
from sensors.facility import Facility, SensorKind
from sensors.payload import ReadingPayload
from sensors.reading import Reading
from tests.console_server import Console, login, running_console

START = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai
UPPER_FLOOR_CLIMATE = {"b301-th1", "b301-th2", "b302-th", "b303-th1", "b303-th2", "b304-th"}


def by_id(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["id"]: s for s in body["sensors"]}


def stamped(console: Console, sensor: str, room: str, ts: str) -> None:
    """A climate reading carrying the sensor's own time, stored as ingest stores it (keyed
    by that time), received now."""
    raw = f'{{"temperature": 20.0, "humidity": 50.0, "ts": "{ts}"}}'.encode()
    payload = ReadingPayload.model_validate_json(raw)
    assert payload.ts is not None
    now = console.clock.now()
    console.readings.write(
        Batch(readings=[Reading("yunxi", room, sensor, payload.ts, now, payload, raw)])
    )


def a_morning(console: Console) -> None:
    console.report_quiet(
        overrides={
            "b201-th1": {"battery": 80.0},
            "b201-th2": {"battery": 12.0},  # below the battery_low rule's 20 %
        }
    )
    # b202-th1's clock is 10 minutes fast; b203-th1's is 30 s slow (within the 5 min).
    stamped(console, "b202-th1", "B2-02", "2026-01-05T00:10:00Z")
    stamped(console, "b203-th1", "B2-03", "2026-01-04T23:59:30Z")
    console.presence("b304-light", online=False)
    for n in range(2):
        console.quarantine("archive/yunxi/B2-01/b201-th1", b"{oops %d" % n, Reason.NOT_JSON, "")
    console.quarantine("archive/yunxi/B2-01/ghost", b"{}", Reason.UNKNOWN_SENSOR, "")
    console.quarantine("archive/beishan/R1/x1", b"{}", Reason.UNKNOWN_SENSOR, "")
    console.quarantine("junk", b"?", Reason.BAD_TOPIC, "")
    # Four minutes on, the lower floor reports again; the upper floor's minute-by-minute
    # climate sensors have now been silent for more than three of their intervals.
    console.clock.advance(timedelta(minutes=4))
    lower = ["B2-01", "B2-02", "B2-03", "B2-04"]
    console.report_quiet(rooms=lower, overrides={"b201-th2": {"battery": 12.0}})


def test_every_sensor_with_status_battery_clock_and_refused_messages(
    tmp_path: Path, facility: Facility
) -> None:
    with running_console(tmp_path, facility, FakeClock(START)) as console:
        a_morning(console)
        with login(console, "leader", Role.VIEWER) as viewer:
            response = viewer.get("/api/sensors/health", params={"site": "yunxi"})
            rooms = viewer.get("/api/rooms").json()

    assert response.status_code == 200, response.text
    body = response.json()
    sensors = by_id(body)
    assert len(sensors) == len(list(facility.all_sensors()))
    assert body["at"] == "2026-01-05T00:04:00Z"
    assert body["sites"] == ["yunxi"]

    stale = {s for s, v in sensors.items() if v["status"] == "stale"}
    assert stale == UPPER_FLOOR_CLIMATE
    assert sensors["b304-light"]["status"] == "offline"
    assert sensors["b304-light"]["online"] is False
    assert sensors["b301-th1"]["silent_s"] == 240.0
    assert sensors["b301-smoke"]["status"] == "ok"  # a 5-minute heartbeat: still in time
    assert body["statuses"] == {
        "ok": len(sensors) - len(UPPER_FLOOR_CLIMATE) - 1,
        "waiting": 0,
        "stale": len(UPPER_FLOOR_CLIMATE),
        "offline": 1,
        "never_seen": 0,
    }

    assert (sensors["b201-th2"]["battery"], sensors["b201-th2"]["battery_low"]) == (12.0, True)
    assert (sensors["b201-th1"]["battery"], sensors["b201-th1"]["battery_low"]) == (80.0, False)
    assert sensors["b201-smoke1"]["battery"] is None  # never said
    assert body["low_battery"] == 1

    assert (sensors["b202-th1"]["clock_offset_s"], sensors["b202-th1"]["clock_skewed"]) == (
        600.0,
        True,
    )
    assert (sensors["b203-th1"]["clock_offset_s"], sensors["b203-th1"]["clock_skewed"]) == (
        -30.0,
        False,
    )
    assert sensors["b201-th1"]["clock_offset_s"] is None  # sends no time of its own
    assert body["clock_skewed"] == 1

    assert sensors["b201-th1"]["quarantined"] == {"not_json": 2}
    assert sensors["b202-th1"]["quarantined"] == {}
    # The site's refused messages: the unknown sensor's too, not another site's or junk.
    assert body["quarantined"] == {"not_json": 2, "unknown_sensor": 1}

    # The same rule as the room tiles: a sensor is offline on both pages or on neither.
    on_tiles = {s["id"]: s["offline"] for r in rooms for s in r["sensors"]}
    assert on_tiles == {s: v["offline"] for s, v in sensors.items()}


def test_a_sensor_not_heard_yet_waits_out_the_grace_after_a_start(
    tmp_path: Path, facility: Facility
) -> None:
    clock = FakeClock(START)
    with running_console(tmp_path, facility, clock, listening_since=START) as console:
        console.report_quiet(rooms=["B2-01"])
        with login(console, "wang") as desk:
            fresh = by_id(desk.get("/api/sensors/health").json())
        console.clock.advance(timedelta(minutes=3, seconds=1))
        with login(console, "wang") as desk:
            later = by_id(desk.get("/api/sensors/health").json())
    # B2-02's climate sensor reports every minute: never heard three minutes after the
    # start is "never seen"; its smoke detector (5-minute heartbeat) is still waited for.
    assert (fresh["b202-th1"]["status"], fresh["b202-th1"]["offline"]) == ("waiting", False)
    assert later["b202-th1"]["status"] == "never_seen"
    assert later["b202-th1"]["offline"] is True
    assert later["b202-smoke"]["status"] == "waiting"
    assert later["b202-smoke"]["last_seen"] is None


def test_the_caller_sees_only_granted_sites(tmp_path: Path, facility: Facility) -> None:
    with running_console(tmp_path, facility, FakeClock(START)) as console:
        a_morning(console)
        with login(console, "qian", Role.OPERATOR, sites=("beishan",)) as elsewhere:
            own = elsewhere.get("/api/sensors/health").json()
            refused = elsewhere.get("/api/sensors/health", params={"site": "yunxi"})
        with login(console, "wang") as desk:
            unknown = desk.get("/api/sensors/health", params={"site": "atlantis"})
        stranger = httpx.get(f"{console.url}/api/sensors/health", timeout=5)
    assert (own["sites"], own["sensors"], own["quarantined"]) == ([], [], {})
    assert refused.status_code == 403
    assert unknown.status_code == 404
    assert stranger.status_code == 401


def test_without_a_readings_history_the_page_is_503(
    tmp_path: Path, facility: Facility, clock: FakeClock
) -> None:
    with (
        running_console(tmp_path, facility, clock, history=None) as console,
        login(console, "wang") as desk,
    ):
        response = desk.get("/api/sensors/health")
    assert response.status_code == 503
    assert "history" in response.json()["detail"]


def test_kinds_are_reported_as_the_facility_names_them(tmp_path: Path, facility: Facility) -> None:
    with (
        running_console(tmp_path, facility, FakeClock(START)) as console,
        login(console, "wang") as desk,
    ):
        sensors = by_id(desk.get("/api/sensors/health").json())
    assert sensors["b201-leak"]["kind"] == SensorKind.WATER_LEAK.value
    assert sensors["b201-th1"]["interval_s"] == 60.0
    assert (sensors["b201-th1"]["site"], sensors["b201-th1"]["room"]) == ("yunxi", "B2-01")
