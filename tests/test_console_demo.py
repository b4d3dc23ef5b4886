"""POST /api/demo/inject: only in demo mode, only for an admin or a desk operator, only in
a room of a granted site; the injector is what lantai/demo.py hands over, minus the
simulator behind it."""

from __future__ import annotations

from pathlib import Path

from console.auth import Role
from console.demo_actions import DemoScenario
from sensors.clock import FakeClock
from sensors.facility import Facility
from tests.console_server import login, running_console


class Simulator:
    """Records what it was asked to stage; refuses a leak where there is no leak sensor."""

    def __init__(self, facility: Facility) -> None:
        self.facility = facility
        self.staged: list[tuple[DemoScenario, str, str | None]] = []

    def inject(self, scenario: DemoScenario, site: str, room: str | None) -> None:
        if scenario is DemoScenario.LEAK and room is not None:
            found = self.facility.room(site, room)
            assert found is not None
            kinds = {self.facility.sensors[(site, s)].kind for s in found.sensor_ids}
            if "water_leak" not in kinds:
                raise ValueError(f"'leak' needs a sensor of kind water_leak in {room!r}")
        self.staged.append((scenario, site, room))


def test_an_operator_stages_a_fire_and_clears_it(
    tmp_path: Path, facility: Facility, clock: FakeClock
) -> None:
    simulator = Simulator(facility)
    with (
        running_console(tmp_path, facility, clock, demo=simulator) as console,
        login(console, "desk", Role.OPERATOR) as desk,
    ):
        fire = desk.post("/api/demo/inject", json={"scenario": "fire", "room": "B2-03"})
        clear = desk.post("/api/demo/inject", json={"scenario": "clear"})
        no_room = desk.post("/api/demo/inject", json={"scenario": "door-forced"})
        unknown = desk.post("/api/demo/inject", json={"scenario": "fire", "room": "B9-99"})
        no_sensor = desk.post("/api/demo/inject", json={"scenario": "leak", "room": "B2-02"})
        bad = desk.post("/api/demo/inject", json={"scenario": "meteor", "room": "B2-03"})
    assert fire.status_code == 202, fire.text
    assert fire.json() == {
        "scenario": "fire",
        "site": "yunxi",
        "room": "B2-03",
        "at": "2026-01-05T00:00:00Z",
    }
    assert clear.status_code == 202
    assert (no_room.status_code, unknown.status_code, bad.status_code) == (422, 404, 422)
    assert no_sensor.status_code == 422
    assert "water_leak" in no_sensor.json()["detail"]
    assert simulator.staged == [
        (DemoScenario.FIRE, "yunxi", "B2-03"),
        (DemoScenario.CLEAR, "yunxi", None),
    ]


def test_only_an_admin_or_an_operator_of_the_site_may_stage(
    tmp_path: Path, facility: Facility, clock: FakeClock
) -> None:
    simulator = Simulator(facility)
    body = {"scenario": "fire", "room": "B2-01"}
    with running_console(tmp_path, facility, clock, demo=simulator) as console:
        codes = {}
        for name, role in [
            ("admin", Role.ADMIN),
            ("manager", Role.SUPERVISOR),
            ("leader", Role.VIEWER),
            ("guard", Role.GUARD),
        ]:
            with login(console, name, role, sites=() if role is Role.ADMIN else ("yunxi",)) as c:
                codes[name] = c.post("/api/demo/inject", json=body).status_code
        with login(console, "qian", Role.OPERATOR, sites=("beishan",)) as elsewhere:
            codes["elsewhere"] = elsewhere.post(
                "/api/demo/inject", json={**body, "site": "yunxi"}
            ).status_code
    assert codes == {"admin": 202, "manager": 403, "leader": 403, "guard": 403, "elsewhere": 403}
    assert simulator.staged == [(DemoScenario.FIRE, "yunxi", "B2-01")]


def test_a_real_console_has_no_demo(tmp_path: Path, facility: Facility, clock: FakeClock) -> None:
    with (
        running_console(tmp_path, facility, clock) as console,
        login(console, "desk", Role.OPERATOR) as desk,
    ):
        response = desk.post("/api/demo/inject", json={"scenario": "fire", "room": "B2-03"})
    assert response.status_code == 404
    assert response.json() == {"detail": "不是演示模式 / not in demo mode"}
