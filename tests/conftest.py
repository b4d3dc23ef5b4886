"""Shared fixtures: a real Mosquitto broker on a free port, the example facility, a fake clock."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from collectors.sqlite_store import SqliteReadingStore
from lantai.broker import MosquittoBroker
from rules.kinds import Target
from sensors.clock import FakeClock
from sensors.facility import Facility, load_facility
from tests.postgres_server import PostgresUnavailableError, running_postgres

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_SITE = ROOT / "sensors" / "example-site.yaml"


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoBroker]:
    """One Mosquitto for the whole session; tests keep apart by unique client ids and topics."""
    started = MosquittoBroker(tmp_path_factory.mktemp("mosquitto")).start()
    yield started
    started.stop()


@pytest.fixture
def fresh_broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    """A broker of the test's own, for tests that stop or restart it."""
    started = MosquittoBroker(tmp_path / "mosquitto").start()
    yield started
    started.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """One PostgreSQL server for the session's state tests (tests/postgres_server.py); the
    tests that need it skip, saying why, where none answers and none can be started."""
    try:
        with running_postgres() as url:
            yield url
    except PostgresUnavailableError as exc:
        pytest.skip(str(exc))


@pytest.fixture
def readings_store(tmp_path: Path) -> Iterator[SqliteReadingStore]:
    """A started readings store in the test's own folder (the collector tests write to it)."""
    store = SqliteReadingStore(tmp_path / "readings.db")
    store.start()
    yield store
    store.stop()


@pytest.fixture(scope="session")
def facility() -> Facility:
    return load_facility(EXAMPLE_SITE)


# Debian's chromium, driven by Playwright; the quiet switches keep it off the network (no
# update checks, no first-run pages).
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the whole run (each test opens its own context)."""
    try:
        from playwright.sync_api import sync_playwright  # noqa: PLC0415
    except ImportError:  # the dev dependencies were installed without it
        pytest.skip("the playwright package is not installed")
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=list(CHROMIUM_ARGS)
        )
        yield launched
        launched.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def unique_id(request: pytest.FixtureRequest) -> str:
    """An id derived from the test's name (after aiomqtt's unique_topic)."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", request.node.name)[:60]


def rule_target(facility: Facility, sensor_id: str, site: str = "yunxi") -> Target:
    """What a rule config compiles against for one sensor of the example site."""
    sensor = facility.sensor(site, sensor_id)
    assert sensor is not None, sensor_id
    room = facility.room(site, sensor.room)
    assert room is not None
    return Target(sensor=sensor, room=room, site=facility.sites[site], calendars={})
