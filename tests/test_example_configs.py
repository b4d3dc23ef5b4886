"""The example files shipped next to the code load, and the example site is a useful demo."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest
import yaml

from alerts.config import load_alerting
from alerts.routing import Routing
from inspections.templates import load_templates
from lantai.settings import load_settings
from rules.compile import compile_rules
from rules.config import load_rules
from sensors.facility import Facility, SensorKind, load_facility

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_SITE = ROOT / "sensors" / "example-site.yaml"
EXAMPLE_SETTINGS = ROOT / "lantai" / "example-settings.yaml"
CODE_FOLDERS = (
    "sensors",
    "collectors",
    "rules",
    "alerts",
    "inspections",
    "dashboards",
    "console",
    "lantai",
)


def _load_site(path: Path) -> object:
    return load_facility(path)


def _load_settings(path: Path) -> object:
    settings = load_settings(path)
    # A settings file is only usable if the facility and rules it names load too.
    facility = load_facility(settings.facility)
    if settings.rules is not None:
        load_rules(settings.rules, facility)
    return facility


def _load_rules(path: Path) -> object:
    # The example rules are written for the example site; they must compile against it.
    facility = load_facility(EXAMPLE_SITE)
    compile_rules(facility, load_rules(path, facility))
    return facility


def _load_alerting(path: Path) -> object:
    # The example alerting file is written for the example site, with every channel set up.
    facility = load_facility(EXAMPLE_SITE)
    config = load_alerting(path, facility, channels=frozenset({"sms", "voice", "email"}))
    Routing(config, facility)
    return facility


def _load_inspections(path: Path) -> object:
    # The shipped templates are the default for any site: they must fit the example one.
    facility = load_facility(EXAMPLE_SITE)
    assert len(load_templates(path, facility)) >= 4
    return facility


def _load_influx_settings(path: Path) -> object:
    # A whole settings file whose point is its influx section.
    assert load_settings(path).influx is not None
    return _load_settings(path)


def _load_prometheus(path: Path) -> object:
    # Prometheus' scrape job for /metrics (tests/test_metrics.py checks path and auth):
    # it names the example settings' console port and the example site.
    (job,) = yaml.safe_load(path.read_text(encoding="utf-8"))["scrape_configs"]
    settings = load_settings(EXAMPLE_SETTINGS)
    facility = load_facility(settings.facility)
    for target in job["static_configs"]:
        assert all(t.endswith(f":{settings.console.port}") for t in target["targets"])
        assert target["labels"]["archive"] in facility.sites
    return facility


LOADERS = {
    "console/example-prometheus.yaml": _load_prometheus,
    "collectors/example-influx.yaml": _load_influx_settings,
    "inspections/example-inspections.yaml": _load_inspections,
    "sensors/example-site.yaml": _load_site,
    "alerts/example-alerting.yaml": _load_alerting,
    "lantai/example-settings.yaml": _load_settings,
    "lantai/example-collect.yaml": _load_settings,  # share_group: tests/test_shared_subscription.py
    "rules/example-rules.yaml": _load_rules,
}


@pytest.fixture(autouse=True)
def _no_lantai_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("LANTAI_"):
            monkeypatch.delenv(name)


def _examples() -> list[str]:
    found: list[Path] = []
    for folder in CODE_FOLDERS:
        found.extend((ROOT / folder).rglob("*.yaml"))
    return sorted(p.relative_to(ROOT).as_posix() for p in found if "example" in p.name)


def test_every_example_has_a_loader() -> None:
    # A new example next to the code must be added to LOADERS, so that it is tested too.
    assert _examples() == sorted(LOADERS)


@pytest.mark.parametrize("relative", sorted(LOADERS))
def test_example_loads(relative: str) -> None:
    assert isinstance(LOADERS[relative](ROOT / relative), Facility)


@pytest.fixture(scope="module")
def site() -> Facility:
    return load_facility(EXAMPLE_SITE)


def test_example_settings_point_at_the_example_site() -> None:
    assert load_settings(EXAMPLE_SETTINGS).facility.resolve() == EXAMPLE_SITE


def test_example_site_has_two_floors(site: Facility) -> None:
    [only] = site.sites.values()
    assert len(only.floors) == 2
    assert {room.floor for room in site.rooms.values()} == {floor for _, floor, _ in only.floors}


def test_example_site_has_eight_rooms_of_five_classes_or_more(site: Facility) -> None:
    assert len(site.rooms) == 8
    assert len({room.room_class for room in site.rooms.values()}) >= 5


def test_example_site_has_35_to_50_sensors(site: Facility) -> None:
    assert 35 <= len(site.sensors) <= 50


def test_every_sensor_kind_appears(site: Facility) -> None:
    kinds = Counter(sensor.kind for sensor in site.all_sensors())
    missing = set(SensorKind) - set(kinds)
    assert not missing, f"no example sensor of kind {sorted(missing)}"


def test_every_room_has_climate_smoke_and_door(site: Facility) -> None:
    for room in site.rooms.values():
        kinds = {site.sensors[(room.site, sid)].kind for sid in room.sensor_ids}
        assert {SensorKind.CLIMATE, SensorKind.SMOKE, SensorKind.DOOR} <= kinds, room.id
