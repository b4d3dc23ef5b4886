"""The desk's alarm actions over real HTTP: acknowledge, shelve, maintenance windows, rotas.

The console in front of the real alarm service (tests/console_server.py): the example
alerting file's people and rota, SQLite in tmp_path, a fake clock that starts on Monday
2026-01-05 at 08:00 in Shanghai, when wang's day shift begins. The people log in with
their alerting ids as user names: wang and li are desk operators, chen (the shift
supervisor) and he (the safety officer) supervisors, and only chen and he have
``can_shelve`` in the alerting file.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from alerts.models import Change
from console.auth import Role
from sensors.clock import FakeClock
from sensors.events import Category, Severity, Transition
from sensors.facility import Facility
from tests.console_server import Console, login, running_console, token_client


@pytest.fixture
def console(tmp_path: Path, facility: Facility, clock: FakeClock) -> Iterator[Console]:
    with running_console(tmp_path, facility, clock) as running:
        yield running


@pytest.fixture
def wang(console: Console) -> Iterator[httpx.Client]:
    """The day guard at the desk: a desk operator."""
    with login(console, "wang", Role.OPERATOR) as client:
        yield client


@pytest.fixture
def chen(console: Console) -> Iterator[httpx.Client]:
    """The shift supervisor, who may shelve (can_shelve in the alerting file)."""
    with login(console, "chen", Role.SUPERVISOR) as client:
        yield client


def post(client: httpx.Client, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
    return client.post(path, json=body)


def get(client: httpx.Client, path: str, **params: str | int | bool) -> Any:
    response = client.get(path, params=params)
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
    console: Console, wang: httpx.Client
) -> None:
    smoke = fire(console, kind="smoke")
    console.clock.advance(10)
    heat = fire(console, kind="heat")  # the same room within 5 min: the same incident
    console.clock.advance(20)

    response = post(wang, f"/api/alarms/{smoke}/ack", {"comment": "去现场查看"})

    assert response.status_code == 200, response.text
    changed = response.json()["changed"]
    assert sorted(a["id"] for a in changed) == [smoke, heat]
    assert {a["state"] for a in changed} == {"acked"}
    assert {a["acked_by"] for a in changed} == {"wang"}
    assert {a["acked_at"] for a in changed} == {"2026-01-05T00:00:30Z"}
    listed = {a["id"]: a["state"] for a in get(wang, "/api/alarms")}
    assert listed == {smoke: "acked", heat: "acked"}

    detail = get(wang, f"/api/alarms/{smoke}")
    assert detail["alarm"]["state"] == "acked"
    assert ("acked", "wang", "console", "去现场查看") in actions(detail)
    # The call waiting for the guard is called off: somebody is on it.
    assert [n["state"] for n in detail["notifications"]] == ["cancelled"]
    other = get(wang, f"/api/alarms/{heat}")
    assert ("acked", "wang", "console", f"with #{smoke}: 去现场查看") in actions(other)
    # The live list hears of both.
    acked = [c for c in console.recorder.changes if c.change is Change.ACKED]
    assert sorted(c.alarm.id for c in acked) == [smoke, heat]


def test_the_actor_is_the_login_not_the_by_in_the_body(
    console: Console, wang: httpx.Client
) -> None:
    # An older page still sends ``by``: accepted, and ignored, so nobody can act in
    # another person's name.
    alarm = fire(console)
    response = post(wang, f"/api/alarms/{alarm}/ack", {"by": "he", "comment": "ok"})
    assert response.status_code == 200, response.text
    assert response.json()["changed"][0]["acked_by"] == "wang"
    assert ("acked", "wang", "console", "ok") in actions(get(wang, f"/api/alarms/{alarm}"))


def test_ack_by_another_program_is_recorded_as_api_and_needs_no_comment(
    console: Console, wang: httpx.Client
) -> None:
    alarm = fire(console)
    with token_client(console, "pager-gateway", Role.OPERATOR) as machine:
        response = post(machine, f"/api/alarms/{alarm}/ack", {})
    assert response.status_code == 200, response.text
    detail = get(wang, f"/api/alarms/{alarm}")
    assert ("acked", "token:pager-gateway", "api", None) in actions(detail)


def test_ack_twice_changes_nothing_the_second_time(console: Console, wang: httpx.Client) -> None:
    alarm = fire(console)
    first = post(wang, f"/api/alarms/{alarm}/ack", {})
    console.clock.advance(5)
    with login(console, "li", Role.OPERATOR) as li:
        again = post(li, f"/api/alarms/{alarm}/ack", {})
    assert (first.status_code, again.status_code) == (200, 200)
    assert len(first.json()["changed"]) == 1
    assert again.json() == {"changed": []}
    detail = get(wang, f"/api/alarms/{alarm}")
    assert detail["alarm"]["acked_by"] == "wang"
    assert [a for a in actions(detail) if a[0] == "acked"] == [("acked", "wang", "console", None)]


def test_ack_of_an_alarm_that_returned_to_normal_closes_it(
    console: Console, wang: httpx.Client
) -> None:
    key = "water:yunxi:B2-02"
    alarm = console.raise_alarm(key, "B2-02", category=Category.WATER).alarm.id
    console.raise_alarm(key, "B2-02", transition=Transition.CLEAR)
    assert get(wang, f"/api/alarms/{alarm}")["alarm"]["state"] == "rtn_unacked"
    response = post(wang, f"/api/alarms/{alarm}/ack", {})
    assert [a["state"] for a in response.json()["changed"]] == ["closed"]
    assert get(wang, "/api/alarms") == []  # off the desk's list
    assert [a["id"] for a in get(wang, "/api/alarms", state="all")] == [alarm]


def test_unknown_alarm_is_404_for_every_action(console: Console, chen: httpx.Client) -> None:
    until = iso(console.clock.now() + timedelta(hours=1))
    for path, body in [
        ("/api/alarms/999/ack", {}),
        ("/api/alarms/999/shelve", {"reason": "test", "until": until}),
        ("/api/alarms/999/unshelve", {}),
    ]:
        response = post(chen, path, body)
        assert response.status_code == 404, path
        assert response.json() == {"detail": "没有报警 999 / no alarm 999"}


@pytest.mark.parametrize(
    "body",
    [
        {"extra": 1},
        {"by": "x" * 65},
        {"comment": "c" * 501},
    ],
)
def test_ack_takes_a_comment_and_nothing_else(
    console: Console, wang: httpx.Client, body: dict[str, Any]
) -> None:
    alarm = fire(console)
    assert post(wang, f"/api/alarms/{alarm}/ack", body).status_code == 422
    assert get(wang, f"/api/alarms/{alarm}")["alarm"]["state"] == "unacked"


def test_an_action_without_the_csrf_header_is_refused(console: Console, wang: httpx.Client) -> None:
    alarm = fire(console)
    response = wang.post(f"/api/alarms/{alarm}/ack", json={}, headers={"X-CSRF-Token": ""})
    assert response.status_code == 403
    assert get(wang, f"/api/alarms/{alarm}")["alarm"]["state"] == "unacked"


# -- shelve -----------------------------------------------------------------------------


def test_an_operator_may_shelve_only_briefly(console: Console, wang: httpx.Client) -> None:
    # The role allows an operator an hour (roles.SHORT_SHELVE); wang has no can_shelve in
    # the alerting file, so the alarm service refuses even that.
    alarm = fire(console)
    hour = iso(console.clock.now() + timedelta(hours=1))
    longer = iso(console.clock.now() + timedelta(hours=1, seconds=1))
    too_long = post(wang, f"/api/alarms/{alarm}/shelve", {"reason": "测试", "until": longer})
    assert too_long.status_code == 403
    assert "shelve_long" in too_long.json()["detail"]
    no_person = post(wang, f"/api/alarms/{alarm}/shelve", {"reason": "测试", "until": hour})
    assert no_person.status_code == 403
    assert no_person.json()["detail"].endswith(
        "'wang' may not shelve alarms: the alerting file has no person 'wang' with can_shelve"
    )
    assert get(wang, f"/api/alarms/{alarm}")["alarm"]["shelved_until"] is None


def test_an_operator_with_can_shelve_shelves_for_an_hour_but_not_longer(
    console: Console,
) -> None:
    # he is the safety officer in the alerting file (can_shelve), with a desk login here.
    alarm = fire(console)
    with login(console, "he", Role.OPERATOR) as he:
        body = {"reason": "烟感误报", "until": iso(console.clock.now() + timedelta(minutes=60))}
        assert post(he, f"/api/alarms/{alarm}/shelve", body).status_code == 200
        body["until"] = iso(console.clock.now() + timedelta(hours=2))
        assert post(he, f"/api/alarms/{alarm}/shelve", body).status_code == 403


def test_a_viewer_may_not_shelve_or_unshelve(console: Console) -> None:
    alarm = fire(console)
    until = iso(console.clock.now() + timedelta(minutes=10))
    with login(console, "leader", Role.VIEWER) as viewer:
        shelve = post(viewer, f"/api/alarms/{alarm}/shelve", {"reason": "x", "until": until})
        unshelve = post(viewer, f"/api/alarms/{alarm}/unshelve")
    assert (shelve.status_code, unshelve.status_code) == (403, 403)


@pytest.mark.parametrize(
    "until",
    [
        timedelta(hours=24, seconds=1),  # past the configured limit (max_shelve: 24h)
        timedelta(days=30),
        timedelta(0),  # not in the future
        -timedelta(minutes=5),
    ],
)
def test_shelve_outside_the_next_24_hours_is_422(
    console: Console, chen: httpx.Client, until: timedelta
) -> None:
    alarm = fire(console)
    body = {"reason": "检修", "until": iso(console.clock.now() + until)}
    response = post(chen, f"/api/alarms/{alarm}/shelve", body)
    assert response.status_code == 422
    assert response.json() == {"detail": "shelve until a time within 1d from now"}


def test_shelve_needs_a_reason_and_a_time_zone(console: Console, chen: httpx.Client) -> None:
    alarm = fire(console)
    later = console.clock.now() + timedelta(hours=1)
    for body in [
        {"reason": " ", "until": iso(later)},
        {"reason": "检修", "until": later.replace(tzinfo=None).isoformat()},
    ]:
        assert post(chen, f"/api/alarms/{alarm}/shelve", body).status_code == 422


def test_shelve_and_unshelve_round_trip(console: Console, chen: httpx.Client) -> None:
    alarm = fire(console)
    until = console.clock.now() + timedelta(hours=24)  # the limit itself is allowed
    response = post(
        chen,
        f"/api/alarms/{alarm}/shelve",
        {"reason": "烟感误报，已报修", "until": iso(until)},
    )
    assert response.status_code == 200, response.text
    shelved = response.json()
    assert (shelved["shelved_until"], shelved["shelved_by"]) == (iso(until), "chen")
    assert shelved["shelve_reason"] == "烟感误报，已报修"
    assert shelved["state"] == "unacked"  # shelving is beside the state, not a state
    detail = get(chen, f"/api/alarms/{alarm}")
    assert ("shelved", "chen", "console", f"until {until.isoformat()}: 烟感误报，已报修") in (
        actions(detail)
    )
    assert [n["state"] for n in detail["notifications"]] == ["cancelled"]  # nobody is called

    console.clock.advance(timedelta(minutes=30))
    with token_client(console, "maintenance-bot", Role.SUPERVISOR) as machine:
        response = post(machine, f"/api/alarms/{alarm}/unshelve")
    assert response.status_code == 200, response.text
    back = response.json()
    assert (back["shelved_until"], back["shelved_by"], back["shelve_reason"]) == (None, None, None)
    detail = get(chen, f"/api/alarms/{alarm}")
    assert ("unshelved", "token:maintenance-bot", "api", None) in actions(detail)
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

    again = post(chen, f"/api/alarms/{alarm}/unshelve", {"by": "he"})  # an old page's body
    assert again.status_code == 409
    assert again.json() == {"detail": f"alarm {alarm} is not shelved"}


def test_a_closed_alarm_cannot_be_shelved(
    console: Console, wang: httpx.Client, chen: httpx.Client
) -> None:
    key = "smoke:yunxi:B2-03"
    alarm = console.raise_alarm(key, "B2-03").alarm.id
    post(wang, f"/api/alarms/{alarm}/ack", {})
    console.raise_alarm(key, "B2-03", transition=Transition.CLEAR)
    until = iso(console.clock.now() + timedelta(hours=1))
    response = post(chen, f"/api/alarms/{alarm}/shelve", {"reason": "x", "until": until})
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
    }
    return body | changes


def test_maintenance_window_create_list_and_delete(console: Console, chen: httpx.Client) -> None:
    response = post(chen, "/api/maintenance-windows", window_body(console))
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
    assert get(chen, "/api/maintenance-windows") == [window]

    # An alarm of the room inside the window is recorded, and nobody is called.
    console.clock.advance(60)
    alarm = fire(console)
    detail = get(chen, f"/api/alarms/{alarm}")
    assert detail["alarm"]["suppressed_by"] == window["id"]
    assert detail["notifications"] == []

    console.clock.advance(60)
    response = chen.delete(f"/api/maintenance-windows/{window['id']}")
    assert response.status_code == 200, response.text
    assert response.json()["ends_at"] == "2026-01-05T00:02:00Z"  # ended now, not at 02:00
    assert get(chen, "/api/maintenance-windows") == []
    ended = get(chen, "/api/maintenance-windows", include_ended=True)
    assert [w["id"] for w in ended] == [window["id"]]
    # The alarm it held still needs somebody: it is called now.
    detail = get(chen, f"/api/alarms/{alarm}")
    assert detail["alarm"]["suppressed_by"] is None
    assert [(n["who"], n["state"]) for n in detail["notifications"]] == [("wang", "pending")]


def test_a_desk_operator_may_not_open_or_end_a_window(
    console: Console, wang: httpx.Client, chen: httpx.Client
) -> None:
    assert post(wang, "/api/maintenance-windows", window_body(console)).status_code == 403
    window = post(chen, "/api/maintenance-windows", window_body(console)).json()
    assert wang.delete(f"/api/maintenance-windows/{window['id']}").status_code == 403
    assert get(wang, "/api/maintenance-windows") == [window]  # but reads them


def test_out_of_service_needs_no_end(console: Console, chen: httpx.Client) -> None:
    body = window_body(console, room=None, sensor="b201-smoke1", ends_at=None, out_of_service=True)
    response = post(chen, "/api/maintenance-windows", body)
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
    console: Console, chen: httpx.Client, changes: dict[str, Any], detail: str
) -> None:
    response = post(chen, "/api/maintenance-windows", window_body(console, **changes))
    assert response.status_code == 422
    assert response.json() == {"detail": detail}
    assert get(chen, "/api/maintenance-windows") == []


@pytest.mark.parametrize(
    "changes", [{"reason": ""}, {"by": 7}, {"starts_at": "2026-01-05T08:00:00"}, {"x": 1}]
)
def test_malformed_maintenance_window_is_422(
    console: Console, chen: httpx.Client, changes: dict[str, Any]
) -> None:
    response = post(chen, "/api/maintenance-windows", window_body(console, **changes))
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][0] == "body"


def test_delete_unknown_window_is_404(console: Console, chen: httpx.Client) -> None:
    missing = chen.delete("/api/maintenance-windows/42", params={"by": "chen"})
    assert missing.status_code == 404
    assert missing.json() == {"detail": "没有维护窗口 42 / no maintenance window 42"}


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
    with login(console, "wang") as wang:  # logged in at that time: a session is hours long
        (rota,) = get(wang, "/api/rotas")
    assert (rota["id"], rota["site"], rota["on_duty"]) == ("yunxi-guards", "yunxi", on_duty)


def test_rotas_list_the_coming_shifts(console: Console, wang: httpx.Client) -> None:
    (rota,) = get(wang, "/api/rotas", days=1)
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
    assert len(get(wang, "/api/rotas")[0]["shifts"]) == 14  # a week, two shifts a day
    for days in (0, 32):
        assert wang.get("/api/rotas", params={"days": days}).status_code == 422


def test_rotas_of_sites_not_granted_are_not_shown(console: Console) -> None:
    with login(console, "qian", Role.VIEWER, sites=("beishan",)) as elsewhere:
        assert get(elsewhere, "/api/rotas") == []


def test_rotas_without_an_alerting_file_are_empty(
    tmp_path: Path, facility: Facility, clock: FakeClock
) -> None:
    with (
        running_console(tmp_path, facility, clock, routing=None) as running,
        login(running, "wang") as wang,
    ):
        assert get(wang, "/api/rotas") == []


# -- a read-only console ----------------------------------------------------------------


def test_read_only_console_answers_503_to_actions_and_still_reads(
    tmp_path: Path, facility: Facility, clock: FakeClock
) -> None:
    with (
        running_console(tmp_path, facility, clock, actions=None) as running,
        login(running, "chen", Role.SUPERVISOR) as chen,
    ):
        alarm = fire(running)
        until = iso(clock.now() + timedelta(hours=1))
        attempts = [
            post(chen, f"/api/alarms/{alarm}/ack", {}),
            post(chen, f"/api/alarms/{alarm}/shelve", {"reason": "x", "until": until}),
            post(chen, f"/api/alarms/{alarm}/unshelve"),
            post(chen, "/api/maintenance-windows", window_body(running)),
            chen.delete("/api/maintenance-windows/1"),
        ]
        for response in attempts:
            assert response.status_code == 503, response.request.url
            assert response.json() == {"detail": "this console is read-only"}
        assert get(chen, f"/api/alarms/{alarm}")["alarm"]["state"] == "unacked"
        assert [a["id"] for a in get(chen, "/api/alarms")] == [alarm]
        assert get(chen, "/api/maintenance-windows") == []
        assert get(chen, "/api/rotas")[0]["on_duty"] == ["wang"]


def test_severity_does_not_matter_to_ack(console: Console, wang: httpx.Client) -> None:
    low = console.raise_alarm(
        "sensor_silent:yunxi:b204-th1", "B2-04", severity=Severity.LOW, category=Category.TROUBLE
    )
    response = post(wang, f"/api/alarms/{low.alarm.id}/ack", {})
    assert [a["state"] for a in response.json()["changed"]] == ["acked"]


def test_ending_a_window_records_who_ended_it(console: Console, chen: httpx.Client) -> None:
    window = post(chen, "/api/maintenance-windows", window_body(console)).json()
    alarm = fire(console)
    with login(console, "he", Role.SUPERVISOR) as he:
        # ``by`` in the query is what an older page sends: ignored, he ended it.
        assert he.delete(f"/api/maintenance-windows/{window['id']}?by=chen").status_code == 200
    timeline = get(chen, f"/api/alarms/{alarm}")["timeline"]
    (ended,) = [e for e in timeline if e["action"] == "unsuppressed"]
    assert (ended["by"], ended["comment"]) == ("he", f"window {window['id']} ended by he")
