"""The desk's alarm actions over real HTTP: acknowledge, shelve, maintenance windows, rotas.

The console in front of the real alarm service (tests/console_server.py): the example
alerting file's people and rota, SQLite in tmp_path, a fake clock that starts on Monday
2026-01-05 at 08:00 in Shanghai, when wang's day shift begins.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from alerts.models import Change
from sensors.clock import FakeClock
from sensors.events import Category, Severity, Transition
from sensors.facility import Facility
from tests.console_server import Console, running_console

CONSOLE = {"X-Lantai-Client": "console"}


@pytest.fixture
def console(tmp_path: Path, facility: Facility, clock: FakeClock) -> Iterator[Console]:
    with running_console(tmp_path, facility, clock) as running:
        yield running


def post(
    console: Console, path: str, body: dict[str, Any], *, from_page: bool = True
) -> httpx.Response:
    headers = CONSOLE if from_page else {}
    return httpx.post(console.url + path, json=body, headers=headers, timeout=5)


def get(console: Console, path: str, **params: str | int | bool) -> Any:
    response = httpx.get(console.url + path, params=params, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()


def iso(when: datetime) -> str:
    """How the API writes a time: RFC 3339 in UTC with a Z."""
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def fire(console: Console, room: str = "B2-01", kind: str = "smoke") -> int:
    """A critical fire alarm in ``room``; returns its id."""
    return console.raise_alarm(f"{kind}:yunxi:{room}", room).alarm.id


def actions(detail: dict[str, Any]) -> list[tuple[str, str, str, str | None]]:
    return [(e["action"], e["by"], e["via"], e["comment"]) for e in detail["timeline"]]


# -- acknowledge ------------------------------------------------------------------------


def test_ack_from_the_page_acks_the_incident_and_keeps_the_audit_trail(
    console: Console,
) -> None:
    smoke = fire(console, kind="smoke")
    console.clock.advance(10)
    heat = fire(console, kind="heat")  # the same room within 5 min: the same incident
    console.clock.advance(20)

    response = post(console, f"/api/alarms/{smoke}/ack", {"by": "wang", "comment": "去现场查看"})

    assert response.status_code == 200, response.text
    changed = response.json()["changed"]
    assert sorted(a["id"] for a in changed) == [smoke, heat]
    assert {a["state"] for a in changed} == {"acked"}
    assert {a["acked_by"] for a in changed} == {"wang"}
    assert {a["acked_at"] for a in changed} == {"2026-01-05T00:00:30Z"}
    listed = {a["id"]: a["state"] for a in get(console, "/api/alarms")}
    assert listed == {smoke: "acked", heat: "acked"}

    detail = get(console, f"/api/alarms/{smoke}")
    assert detail["alarm"]["state"] == "acked"
    assert ("acked", "wang", "console", "去现场查看") in actions(detail)
    # The call waiting for the guard is called off: somebody is on it.
    assert [n["state"] for n in detail["notifications"]] == ["cancelled"]
    other = get(console, f"/api/alarms/{heat}")
    assert ("acked", "wang", "console", f"with #{smoke}: 去现场查看") in actions(other)
    # The live list hears of both.
    acked = [c for c in console.recorder.changes if c.change is Change.ACKED]
    assert sorted(c.alarm.id for c in acked) == [smoke, heat]


def test_ack_by_another_program_is_recorded_as_api_and_needs_no_comment(
    console: Console,
) -> None:
    alarm = fire(console)
    response = post(console, f"/api/alarms/{alarm}/ack", {"by": "li"}, from_page=False)
    assert response.status_code == 200, response.text
    assert ("acked", "li", "api", None) in actions(get(console, f"/api/alarms/{alarm}"))


def test_ack_twice_changes_nothing_the_second_time(console: Console) -> None:
    alarm = fire(console)
    first = post(console, f"/api/alarms/{alarm}/ack", {"by": "wang"})
    console.clock.advance(5)
    again = post(console, f"/api/alarms/{alarm}/ack", {"by": "li"})
    assert (first.status_code, again.status_code) == (200, 200)
    assert len(first.json()["changed"]) == 1
    assert again.json() == {"changed": []}
    detail = get(console, f"/api/alarms/{alarm}")
    assert detail["alarm"]["acked_by"] == "wang"
    assert [a for a in actions(detail) if a[0] == "acked"] == [("acked", "wang", "console", None)]


def test_ack_of_an_alarm_that_returned_to_normal_closes_it(console: Console) -> None:
    key = "water:yunxi:B2-02"
    alarm = console.raise_alarm(key, "B2-02", category=Category.WATER).alarm.id
    console.raise_alarm(key, "B2-02", transition=Transition.CLEAR)
    assert get(console, f"/api/alarms/{alarm}")["alarm"]["state"] == "rtn_unacked"
    response = post(console, f"/api/alarms/{alarm}/ack", {"by": "wang"})
    assert [a["state"] for a in response.json()["changed"]] == ["closed"]
    assert get(console, "/api/alarms") == []  # off the desk's list
    assert [a["id"] for a in get(console, "/api/alarms", state="all")] == [alarm]


def test_unknown_alarm_is_404_for_every_action(console: Console) -> None:
    until = iso(console.clock.now() + timedelta(hours=1))
    for path, body in [
        ("/api/alarms/999/ack", {"by": "wang"}),
        ("/api/alarms/999/shelve", {"by": "chen", "reason": "test", "until": until}),
        ("/api/alarms/999/unshelve", {"by": "chen"}),
    ]:
        response = post(console, path, body)
        assert response.status_code == 404, path
        assert response.json() == {"detail": "no alarm 999"}


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"by": ""},
        {"by": "wang", "extra": 1},
        {"by": "x" * 65},
        {"by": "w", "comment": "c" * 501},
    ],
)
def test_ack_needs_a_name_and_nothing_else(console: Console, body: dict[str, Any]) -> None:
    alarm = fire(console)
    assert post(console, f"/api/alarms/{alarm}/ack", body).status_code == 422
    assert get(console, f"/api/alarms/{alarm}")["alarm"]["state"] == "unacked"


# -- shelve -----------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["wang", "nobody"])
def test_shelve_by_a_person_who_may_not_is_403(console: Console, who: str) -> None:
    alarm = fire(console)
    until = iso(console.clock.now() + timedelta(hours=1))
    response = post(
        console, f"/api/alarms/{alarm}/shelve", {"by": who, "reason": "测试", "until": until}
    )
    assert response.status_code == 403
    assert response.json() == {"detail": f"{who!r} may not shelve alarms"}
    assert get(console, f"/api/alarms/{alarm}")["alarm"]["shelved_until"] is None


@pytest.mark.parametrize(
    "until",
    [
        timedelta(hours=24, seconds=1),  # past the configured limit (max_shelve: 24h)
        timedelta(days=30),
        timedelta(0),  # not in the future
        -timedelta(minutes=5),
    ],
)
def test_shelve_outside_the_next_24_hours_is_422(console: Console, until: timedelta) -> None:
    alarm = fire(console)
    body = {"by": "chen", "reason": "检修", "until": iso(console.clock.now() + until)}
    response = post(console, f"/api/alarms/{alarm}/shelve", body)
    assert response.status_code == 422
    assert response.json() == {"detail": "shelve until a time within 1d from now"}


def test_shelve_needs_a_reason_and_a_time_zone(console: Console) -> None:
    alarm = fire(console)
    later = console.clock.now() + timedelta(hours=1)
    for body in [
        {"by": "chen", "reason": " ", "until": iso(later)},
        {"by": "chen", "reason": "检修", "until": later.replace(tzinfo=None).isoformat()},
    ]:
        assert post(console, f"/api/alarms/{alarm}/shelve", body).status_code == 422


def test_shelve_and_unshelve_round_trip(console: Console) -> None:
    alarm = fire(console)
    until = console.clock.now() + timedelta(hours=24)  # the limit itself is allowed
    response = post(
        console,
        f"/api/alarms/{alarm}/shelve",
        {"by": "chen", "reason": "烟感误报，已报修", "until": iso(until)},
    )
    assert response.status_code == 200, response.text
    shelved = response.json()
    assert (shelved["shelved_until"], shelved["shelved_by"]) == (iso(until), "chen")
    assert shelved["shelve_reason"] == "烟感误报，已报修"
    assert shelved["state"] == "unacked"  # shelving is beside the state, not a state
    detail = get(console, f"/api/alarms/{alarm}")
    assert ("shelved", "chen", "console", f"until {until.isoformat()}: 烟感误报，已报修") in (
        actions(detail)
    )
    assert [n["state"] for n in detail["notifications"]] == ["cancelled"]  # nobody is called

    console.clock.advance(timedelta(minutes=30))
    response = post(console, f"/api/alarms/{alarm}/unshelve", {"by": "he"}, from_page=False)
    assert response.status_code == 200, response.text
    back = response.json()
    assert (back["shelved_until"], back["shelved_by"], back["shelve_reason"]) == (None, None, None)
    detail = get(console, f"/api/alarms/{alarm}")
    assert ("unshelved", "he", "api", None) in actions(detail)
    # Still unacknowledged: calling starts again, with the guard on duty.
    assert [(n["who"], n["state"]) for n in detail["notifications"]] == [
        ("wang", "cancelled"),
        ("wang", "pending"),
    ]
    assert [c.change for c in console.recorder.changes] == [
        Change.RAISED,
        Change.SHELVED,
        Change.UNSHELVED,
    ]

    again = post(console, f"/api/alarms/{alarm}/unshelve", {"by": "he"})
    assert again.status_code == 409
    assert again.json() == {"detail": f"alarm {alarm} is not shelved"}


def test_a_closed_alarm_cannot_be_shelved(console: Console) -> None:
    key = "smoke:yunxi:B2-03"
    alarm = console.raise_alarm(key, "B2-03").alarm.id
    post(console, f"/api/alarms/{alarm}/ack", {"by": "wang"})
    console.raise_alarm(key, "B2-03", transition=Transition.CLEAR)
    until = iso(console.clock.now() + timedelta(hours=1))
    response = post(
        console, f"/api/alarms/{alarm}/shelve", {"by": "chen", "reason": "x", "until": until}
    )
    assert response.status_code == 409
    assert response.json() == {"detail": f"alarm {alarm} is closed"}


# -- maintenance windows ----------------------------------------------------------------


def window_body(console: Console, **changes: Any) -> dict[str, Any]:
    now = console.clock.now()
    body: dict[str, Any] = {
        "site": "yunxi",
        "room": "B2-01",
        "starts_at": iso(now),
        "ends_at": iso(now + timedelta(hours=2)),
        "reason": "更换烟感探头",
        "by": "chen",
    }
    return body | changes


def test_maintenance_window_create_list_and_delete(console: Console) -> None:
    response = post(console, "/api/maintenance-windows", window_body(console))
    assert response.status_code == 201, response.text
    window = response.json()
    assert window == {
        "id": window["id"],
        "site": "yunxi",
        "room": "B2-01",
        "sensor": None,
        "starts_at": "2026-01-05T00:00:00Z",
        "ends_at": "2026-01-05T02:00:00Z",
        "reason": "更换烟感探头",
        "created_by": "chen",
        "created_at": "2026-01-05T00:00:00Z",
        "out_of_service": False,
    }
    assert get(console, "/api/maintenance-windows") == [window]

    # An alarm of the room inside the window is recorded, and nobody is called.
    console.clock.advance(60)
    alarm = fire(console)
    detail = get(console, f"/api/alarms/{alarm}")
    assert detail["alarm"]["suppressed_by"] == window["id"]
    assert detail["notifications"] == []

    console.clock.advance(60)
    response = httpx.delete(
        f"{console.url}/api/maintenance-windows/{window['id']}", params={"by": "chen"}, timeout=5
    )
    assert response.status_code == 200, response.text
    assert response.json()["ends_at"] == "2026-01-05T00:02:00Z"  # ended now, not at 02:00
    assert get(console, "/api/maintenance-windows") == []
    ended = get(console, "/api/maintenance-windows", include_ended=True)
    assert [w["id"] for w in ended] == [window["id"]]
    # The alarm it held still needs somebody: it is called now.
    detail = get(console, f"/api/alarms/{alarm}")
    assert detail["alarm"]["suppressed_by"] is None
    assert [(n["who"], n["state"]) for n in detail["notifications"]] == [("wang", "pending")]


def test_out_of_service_needs_no_end(console: Console) -> None:
    body = window_body(console, room=None, sensor="b201-smoke1", ends_at=None, out_of_service=True)
    response = post(console, "/api/maintenance-windows", body)
    assert response.status_code == 201, response.text
    assert (response.json()["ends_at"], response.json()["sensor"]) == (None, "b201-smoke1")


@pytest.mark.parametrize(
    ("changes", "detail"),
    [
        ({"ends_at": None}, "a maintenance window needs an end"),
        ({"room": "B9-99"}, "unknown room 'B9-99' in yunxi"),
        ({"site": "atlantis"}, "unknown site 'atlantis'"),
        ({"sensor": "b202-smoke"}, "unknown sensor 'b202-smoke' in yunxi/B2-01"),
        ({"ends_at": "2026-01-04T23:00:00Z"}, "a maintenance window must end after it starts"),
    ],
)
def test_invalid_maintenance_window_is_422(
    console: Console, changes: dict[str, Any], detail: str
) -> None:
    response = post(console, "/api/maintenance-windows", window_body(console, **changes))
    assert response.status_code == 422
    assert response.json() == {"detail": detail}
    assert get(console, "/api/maintenance-windows") == []


@pytest.mark.parametrize(
    "changes", [{"reason": ""}, {"by": ""}, {"starts_at": "2026-01-05T08:00:00"}, {"x": 1}]
)
def test_malformed_maintenance_window_is_422(console: Console, changes: dict[str, Any]) -> None:
    response = post(console, "/api/maintenance-windows", window_body(console, **changes))
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][0] == "body"


def test_delete_unknown_window_is_404_and_needs_a_name(console: Console) -> None:
    missing = httpx.delete(
        f"{console.url}/api/maintenance-windows/42", params={"by": "chen"}, timeout=5
    )
    assert missing.status_code == 404
    assert missing.json() == {"detail": "no maintenance window 42"}
    window = post(console, "/api/maintenance-windows", window_body(console)).json()
    anonymous = httpx.delete(f"{console.url}/api/maintenance-windows/{window['id']}", timeout=5)
    assert anonymous.status_code == 422
    assert get(console, "/api/maintenance-windows") == [window]


# -- rotas ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("local", "on_duty"),
    [
        ("2026-01-05T08:00", ["wang"]),  # Monday: the day shift has just begun
        ("2026-01-05T07:59", ["zhao"]),  # the end of Sunday's weekend night
        ("2026-01-05T21:00", ["li"]),  # Monday night
        ("2026-01-10T23:00", ["zhao"]),  # Saturday night
        ("2026-10-01T10:00", ["zhao"]),  # National Day: the relief guard holds the day
    ],
)
def test_rotas_show_who_is_on_duty_at_the_clocks_time(
    console: Console, local: str, on_duty: list[str]
) -> None:
    shanghai = console.facility.sites["yunxi"].timezone
    console.clock.set(datetime.fromisoformat(local).replace(tzinfo=shanghai))
    (rota,) = get(console, "/api/rotas")
    assert (rota["id"], rota["site"], rota["on_duty"]) == ("yunxi-guards", "yunxi", on_duty)


def test_rotas_list_the_coming_shifts(console: Console) -> None:
    (rota,) = get(console, "/api/rotas", days=1)
    # Monday 08:00 Shanghai: Monday's day and night shifts (zhao's ends just as it starts).
    assert rota["shifts"] == [
        {
            "start": "2026-01-05T00:00:00Z",
            "end": "2026-01-05T12:00:00Z",
            "people": ["wang"],
            "name": "day",
        },
        {
            "start": "2026-01-05T12:00:00Z",
            "end": "2026-01-06T00:00:00Z",
            "people": ["li"],
            "name": "night",
        },
    ]
    assert len(get(console, "/api/rotas")[0]["shifts"]) == 14  # a week, two shifts a day
    for days in (0, 32):
        response = httpx.get(f"{console.url}/api/rotas", params={"days": days}, timeout=5)
        assert response.status_code == 422


def test_rotas_without_an_alerting_file_are_empty(
    tmp_path: Path, facility: Facility, clock: FakeClock
) -> None:
    with running_console(tmp_path, facility, clock, routing=None) as running:
        assert get(running, "/api/rotas") == []


# -- a read-only console ----------------------------------------------------------------


def test_read_only_console_answers_503_to_actions_and_still_reads(
    tmp_path: Path, facility: Facility, clock: FakeClock
) -> None:
    with running_console(tmp_path, facility, clock, actions=None) as running:
        alarm = fire(running)
        until = iso(clock.now() + timedelta(hours=1))
        attempts = [
            post(running, f"/api/alarms/{alarm}/ack", {"by": "wang"}),
            post(
                running,
                f"/api/alarms/{alarm}/shelve",
                {"by": "chen", "reason": "x", "until": until},
            ),
            post(running, f"/api/alarms/{alarm}/unshelve", {"by": "chen"}),
            post(running, "/api/maintenance-windows", window_body(running)),
            httpx.delete(
                f"{running.url}/api/maintenance-windows/1", params={"by": "chen"}, timeout=5
            ),
        ]
        for response in attempts:
            assert response.status_code == 503, response.request.url
            assert response.json() == {"detail": "this console is read-only"}
        assert get(running, f"/api/alarms/{alarm}")["alarm"]["state"] == "unacked"
        assert [a["id"] for a in get(running, "/api/alarms")] == [alarm]
        assert get(running, "/api/maintenance-windows") == []
        assert get(running, "/api/rotas")[0]["on_duty"] == ["wang"]


def test_severity_does_not_matter_to_ack(console: Console) -> None:
    low = console.raise_alarm(
        "sensor_silent:yunxi:b204-th1", "B2-04", severity=Severity.LOW, category=Category.TROUBLE
    )
    response = post(console, f"/api/alarms/{low.alarm.id}/ack", {"by": "wang"})
    assert [a["state"] for a in response.json()["changed"]] == ["acked"]


def test_ending_a_window_records_who_ended_it(console: Console) -> None:
    window = post(console, "/api/maintenance-windows", window_body(console)).json()
    alarm = fire(console)
    httpx.delete(
        f"{console.url}/api/maintenance-windows/{window['id']}", params={"by": "he"}, timeout=5
    )
    timeline = get(console, f"/api/alarms/{alarm}")["timeline"]
    (ended,) = [e for e in timeline if e["action"] == "unsuppressed"]
    assert (ended["by"], ended["comment"]) == ("he", f"window {window['id']} ended by he")
