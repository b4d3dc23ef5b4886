"""Standard operating procedures: the shipped ones, versioned edits on SQLite and
PostgreSQL, and /api/sops over a real server with the alarm detail showing the procedure.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine

from alerts.tables import create_state_engine
from console.auth import Role
from console.sop_defaults import DEFAULT_SOPS, SopText
from console.sops import SopConflict, SopStore
from sensors.clock import FakeClock
from sensors.events import Category
from sensors.facility import Facility
from tests.console_server import Console, login, running_console
from tests.postgres_server import postgres_url
from tests.test_alerts import pg_schema  # noqa: F401 - a fixture

START = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)
LEAK = SopText(
    "漏水处置", "Water leak", "1. 关总阀（地下一层 B1-7）。", "1. Close the main (B1-7)."
)


# -- what Lantai ships -------------------------------------------------------------------


@pytest.mark.parametrize("category", list(Category))
def test_every_category_ships_numbered_steps_in_both_languages(category: Category) -> None:
    sop = DEFAULT_SOPS[category]
    zh, en = sop.text_zh.splitlines(), sop.text_en.splitlines()
    assert len(zh) == len(en) >= 4  # a procedure, not a sentence
    for n, (line_zh, line_en) in enumerate(zip(zh, en, strict=True), 1):
        assert line_zh.startswith(f"{n}. ")
        assert line_en.startswith(f"{n}. ")
    assert re.search(r"[\u4e00-\u9fff]", sop.title_zh)
    assert sop.title_en.isascii()


def test_the_shipped_procedures_say_what_the_norms_say() -> None:
    fire, water = DEFAULT_SOPS[Category.FIRE], DEFAULT_SOPS[Category.WATER]
    # GB 50116-2013 §4.1.6: two independent detectors; 119; no water on records.
    assert "GB 50116" in fire.text_en
    assert "119" in fire.text_zh
    assert "119" in fire.text_en
    assert "Do not spray water on records" in fire.text_en
    assert "30 s" in fire.text_en  # GB 50370 §5.0.3, the gas discharge delay
    assert "48 h" in water.text_en
    assert "48 小时" in water.text_zh
    assert "110" in DEFAULT_SOPS[Category.INTRUSION].text_zh
    assert "14–24 °C" in DEFAULT_SOPS[Category.CLIMATE].text_en  # JGJ 25-2010 Table 5.2.1


# -- the store ---------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'state.db'}"
    else:
        url = postgres_url(request.getfixturevalue("pg_schema"))
    created = create_state_engine(url)
    yield created
    created.dispose()


def test_edits_are_versions_and_the_shipped_one_is_kept(engine: Engine) -> None:
    clock = FakeClock(START)
    store = SopStore(engine, clock)
    store.start()
    store.start()  # idempotent
    assert store.current(Category.WATER).shipped
    assert store.current(Category.WATER).version == 0

    clock.advance(timedelta(minutes=5))
    first = store.save(Category.WATER, LEAK, replaces=0, by="chen", note="our valve")
    assert (first.version, first.edited_by, first.edited_at) == (1, "chen", clock.now())
    clock.advance(timedelta(days=1))
    better = SopText(LEAK.title_zh, LEAK.title_en, LEAK.text_zh + "\n2. 报告。", LEAK.text_en)
    second = store.save(Category.WATER, better, replaces=1, by="he", note="")

    assert store.current(Category.WATER) == second
    history = store.history(Category.WATER)
    assert [(v.version, v.edited_by) for v in history] == [(2, "he"), (1, "chen"), (0, None)]
    assert history[1].note == "our valve"
    assert history[2].text == DEFAULT_SOPS[Category.WATER]  # exactly what was replaced
    assert history[0].edited_at == START + timedelta(days=1, minutes=5)
    # Every other category still has its shipped procedure.
    current = store.every_current()
    assert [s.category for s in current] == list(Category)
    assert {s.category for s in current if not s.shipped} == {Category.WATER}
    assert store.history(Category.FIRE) == [store.current(Category.FIRE)]


def test_an_edit_of_an_old_version_is_a_conflict_and_changes_nothing(engine: Engine) -> None:
    store = SopStore(engine, FakeClock(START))
    store.start()
    store.save(Category.FIRE, LEAK, replaces=0, by="chen", note="")
    with pytest.raises(SopConflict) as raised:
        store.save(Category.FIRE, LEAK, replaces=0, by="he", note="")  # started from v0
    assert (raised.value.current, raised.value.replaces) == (1, 0)
    assert [v.version for v in store.history(Category.FIRE)] == [1, 0]


def test_a_store_without_a_procedure_for_a_category_is_refused(engine: Engine) -> None:
    partial: dict[Category, SopText] = {
        c: t for c, t in DEFAULT_SOPS.items() if c is not Category.SYSTEM
    }
    with pytest.raises(ValueError, match="system"):
        SopStore(engine, FakeClock(START), partial)


# -- over HTTP ---------------------------------------------------------------------------


@pytest.fixture
def console(tmp_path: Path, facility: Facility) -> Iterator[Console]:
    with running_console(tmp_path, facility, FakeClock(START)) as running:
        yield running


def edit(version: int, zh: str = "1. 先断电再处理。", en: str = "1. Cut the power first.") -> Any:
    return {
        "version": version,
        "title": {"zh": "漏水处置程序", "en": "Water leak procedure"},
        "text": {"zh": zh, "en": en},
        "note": "库房改造后的阀门位置",
    }


def test_a_supervisor_edits_a_procedure_and_the_alarm_shows_it(console: Console) -> None:
    with (
        login(console, "wang", Role.OPERATOR) as desk,
        login(console, "chen", Role.SUPERVISOR) as chen,
    ):
        listed = desk.get("/api/sops").json()
        assert [s["category"] for s in listed] == [c.value for c in Category]
        assert all(s["shipped"] and s["version"] == 0 for s in listed)

        refused = desk.put("/api/sops/water", json=edit(0))
        assert refused.status_code == 403
        saved = chen.put("/api/sops/water", json=edit(0))
        assert saved.status_code == 200, saved.text
        assert saved.json() == {
            "category": "water",
            "version": 1,
            "title": {"zh": "漏水处置程序", "en": "Water leak procedure"},
            "text": {"zh": "1. 先断电再处理。", "en": "1. Cut the power first."},
            "note": "库房改造后的阀门位置",
            "edited_by": "chen",
            "edited_at": "2026-01-05T00:00:00Z",
            "shipped": False,
        }
        stale = chen.put("/api/sops/water", json=edit(0, en="1. Something else."))
        assert stale.status_code == 409
        assert "version 1" in stale.json()["detail"]

        detail = desk.get("/api/sops/water").json()
        assert detail["sop"]["version"] == 1
        assert [(v["version"], v["shipped"]) for v in detail["history"]] == [(0, True)]

        leak = console.raise_alarm("water:yunxi:B2-01", "B2-01", category=Category.WATER)
        alarm = desk.get(f"/api/alarms/{leak.alarm.id}").json()
        assert alarm["sop"]["text"]["en"] == "1. Cut the power first."
        assert alarm["sop"]["edited_by"] == "chen"


@pytest.mark.parametrize(
    "body",
    [
        edit(0, zh="   "),  # blank
        edit(0, en="x" * 20_001),
        {**edit(0), "version": -1},
        {**edit(0), "extra": True},
        {k: v for k, v in edit(0).items() if k != "version"},
    ],
)
def test_a_malformed_edit_is_422(console: Console, body: dict[str, Any]) -> None:
    with login(console, "chen", Role.SUPERVISOR) as chen:
        assert chen.put("/api/sops/water", json=body).status_code == 422
        assert chen.get("/api/sops/water").json()["sop"]["version"] == 0


def test_an_unknown_category_is_422_and_a_guard_reads_but_may_not_edit(
    console: Console,
) -> None:
    with login(console, "wang", Role.GUARD) as guard:
        assert guard.get("/api/sops/earthquake").status_code == 422
        assert guard.get("/api/sops/fire").json()["sop"]["category"] == "fire"
        assert guard.put("/api/sops/fire", json=edit(0)).status_code == 403
    assert httpx.get(f"{console.url}/api/sops", timeout=5).status_code == 401


def test_without_a_store_the_shipped_procedures_are_read_only(
    tmp_path: Path, facility: Facility, clock: FakeClock
) -> None:
    with (
        running_console(tmp_path, facility, clock, sops=None) as running,
        login(running, "chen", Role.SUPERVISOR) as chen,
    ):
        listed = chen.get("/api/sops").json()
        refused = chen.put("/api/sops/fire", json=edit(0))
        fire = running.raise_alarm("smoke:yunxi:B2-01", "B2-01")
        alarm = chen.get(f"/api/alarms/{fire.alarm.id}").json()
    assert listed[0]["text"]["zh"] == DEFAULT_SOPS[Category.FIRE].text_zh
    assert refused.status_code == 503
    assert alarm["sop"]["shipped"] is True
