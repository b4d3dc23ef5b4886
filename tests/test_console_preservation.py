"""GET /api/rooms/{site}/{room}/preservation over a real server and real stores."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from console.auth import Role
from rules.preservation import dew_point, emc, preservation_index
from sensors.clock import FakeClock
from sensors.events import MetricSample
from sensors.facility import Facility
from tests.console_server import login, running_console


def _sample(clock: FakeClock, minutes_ago: int, t: float, rh: float, mold: float) -> MetricSample:
    return MetricSample(
        site="yunxi",
        room="B2-01",
        at=clock.now() - timedelta(minutes=minutes_ago),
        values=(
            ("temperature", t),
            ("humidity", rh),
            ("dew_point", dew_point(t, rh)),
            ("pi", preservation_index(t, rh)),
            ("emc", emc(t, rh)),
            ("mold_index", mold),
        ),
    )


def test_a_room_at_its_upper_limits_rates_as_the_reference_says(
    tmp_path: Path, facility: Facility, clock: FakeClock
) -> None:
    # Half the window at 20 °C / 50 % (PI 44), half at 24 °C / 60 % (PI 21), a minute each.
    with running_console(tmp_path, facility, clock) as console:
        samples = [_sample(clock, 120 - m, 20.0, 50.0, 0.0) for m in range(60)]
        samples += [_sample(clock, 60 - m, 24.0, 60.0, 0.0) for m in range(61)]
        console.readings.write_metrics(samples)
        with login(console, "leader", Role.VIEWER) as viewer:
            got = viewer.get("/api/rooms/yunxi/B2-01/preservation?window=1d").json()
    assert got["samples"] == 121
    assert got["temperature"] == 24.0
    assert got["pi"] == pytest.approx(21.1, abs=0.5)
    assert got["pi_rating"] == "risk"  # below 45 years (archive-standards.md §4.1)
    # TWPI is the harmonic mean of the rates: near 2/(1/44 + 1/21), not the average 32.5.
    assert got["twpi"] == pytest.approx(28.6, abs=1.0)
    assert got["twpi_rating"] == "poor"
    assert got["corrosion_rating"] == "risk"  # 60 % RH already rates corrosion RISK (§4.3)
    assert got["mold_rating"] == "good"
    assert got["temperature_range"] == [20.0, 24.0]


def test_the_window_limits_the_samples_and_bad_input_is_refused(
    tmp_path: Path, facility: Facility, clock: FakeClock
) -> None:
    with running_console(tmp_path, facility, clock) as console:
        console.readings.write_metrics(
            [_sample(clock, 60 * 24 * 3, 18.0, 50.0, 0.0), _sample(clock, 30, 18.0, 50.0, 0.1)]
        )
        base = "/api/rooms/yunxi/B2-01/preservation"
        with login(console, "leader", Role.VIEWER) as viewer:
            one_day = viewer.get(base, params={"window": "1d"}).json()
            month = viewer.get(base).json()
            empty = viewer.get("/api/rooms/yunxi/B2-02/preservation").json()
            unknown = viewer.get("/api/rooms/yunxi/B9-99/preservation")
            bad = viewer.get(base, params={"window": "forever"})
            too_long = viewer.get(base, params={"window": "400d"})
        stranger = httpx.get(console.url + base, timeout=5)
        with login(console, "qian", Role.VIEWER, sites=("beishan",)) as elsewhere:
            not_granted = elsewhere.get(base)
    assert one_day["samples"] == 1
    assert month["samples"] == 2
    assert month["window"] == "30d"
    assert month["mold_index"] == 0.1
    assert month["mold_rating"] == "risk"  # any accumulated index rates RISK
    assert empty["samples"] == 0
    assert empty["pi"] is None
    assert unknown.status_code == 404
    assert bad.status_code == 422
    assert too_long.status_code == 422
    assert stranger.status_code == 401
    assert not_granted.status_code == 403
