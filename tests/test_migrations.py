"""The state database's migrations (lantai/migrations/, lantai/database.py) on SQLite and
PostgreSQL: the newest revision is exactly the models, a model changed without a
migration is caught, a database made before migrations is adopted, and the service and
the stores that had no test on PostgreSQL yet (rule state, APScheduler's job table) work
on a migrated database of either kind.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from alerts.models import AlarmState
from alerts.store import AlarmStore
from alerts.tables import alarms, create_state_engine
from collectors.mqtt_source import MqttSettings
from inspections.scheduler import JOB_TABLE, TIMER_JOB, InspectionScheduler
from lantai.broker import MosquittoBroker
from lantai.cli import main
from lantai.database import (
    VERSION_TABLE,
    StateSchemaError,
    alembic_config,
    check_schema,
    downgrade,
    head_revision,
    schema_differences,
    state_metadata,
    status,
    upgrade_to_head,
)
from lantai.service import LantaiService
from lantai.settings import LantaiSettings, StateSettings, StoreSettings
from rules.persistence import SqlStateStore
from sensors.clock import FakeClock
from sensors.facility import Facility, load_facility
from tests.conftest import EXAMPLE_SITE
from tests.mqtt_helpers import publish_all, wait_for
from tests.postgres_server import postgres_url
from tests.test_alerts import pg_schema  # noqa: F401 - a fixture
from tests.test_inspection_common import RecordingSink, local, make_service

T0 = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty state database: a new SQLite file, or a new PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    return postgres_url(request.getfixturevalue("pg_schema"))


@pytest.fixture
def engine(url: str) -> Iterator[Engine]:
    made = create_state_engine(url)
    yield made
    made.dispose()


def table_names(engine: Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


# --- the newest revision is the models ------------------------------------------------------


def test_the_baseline_lists_every_table_of_the_models() -> None:
    baseline = ScriptDirectory.from_config(alembic_config()).get_revision("0001")
    assert baseline is not None
    listed = baseline.module.TABLES
    assert len(listed) == len(set(listed))
    assert set(listed) == set(state_metadata().tables)


def test_the_models_include_apschedulers_job_table_as_apscheduler_defines_it() -> None:
    jobs = state_metadata().tables[JOB_TABLE]
    assert [c.name for c in jobs.columns] == ["id", "next_run_time", "job_state"]
    assert [i.name for i in jobs.indexes] == [f"ix_{JOB_TABLE}_next_run_time"]


def test_upgrade_head_on_an_empty_database_gives_exactly_the_models(engine: Engine) -> None:
    assert status(engine).current is None
    assert table_names(engine) == set()
    result = upgrade_to_head(engine)
    assert result.at_head
    assert result.current == head_revision()
    assert result.lantai_tables == len(state_metadata().tables)
    with engine.connect() as conn:
        assert schema_differences(conn) == []
    assert table_names(engine) == {*state_metadata().tables, VERSION_TABLE}


def test_a_second_upgrade_changes_nothing(engine: Engine) -> None:
    upgrade_to_head(engine)
    store = AlarmStore(engine)
    store.start()  # the stores' create_all finds every table there
    with engine.begin() as conn:
        conn.execute(sa.insert(alarms).values(**_alarm_row()))
    again = upgrade_to_head(engine)
    assert again.at_head
    assert len(store.list(states=None)) == 1


def test_a_column_added_to_a_model_without_a_migration_is_caught(engine: Engine) -> None:
    upgrade_to_head(engine)
    # A throwaway copy of the models, one column and one table ahead of the migrations.
    ahead = state_metadata()
    ahead.tables["alarms"].append_column(sa.Column("floor", sa.String(64)))
    sa.Table("alarm_notes", ahead, sa.Column("id", sa.Integer, primary_key=True))
    with engine.connect() as conn:
        found = schema_differences(conn, ahead)
        kinds = sorted((d[0], d[2] if d[0] == "add_column" else d[1].name) for d in found)
        assert kinds == [("add_column", "alarms"), ("add_table", "alarm_notes")]
        with pytest.raises(StateSchemaError) as refused:
            check_schema(conn, ahead)
    assert "column alarms.floor" in str(refused.value)
    assert "table alarm_notes" in str(refused.value)


def test_a_changed_column_type_is_caught_too(engine: Engine) -> None:
    upgrade_to_head(engine)
    ahead = state_metadata()
    ahead.tables["alarms"].c.last_value.type = sa.String(200)
    with engine.connect() as conn:
        (change,) = schema_differences(conn, ahead)
    (modify,) = change
    assert modify[0] == "modify_type"
    assert modify[2:4] == ("alarms", "last_value")


def test_downgrade_to_base_leaves_no_table(engine: Engine) -> None:
    upgrade_to_head(engine)
    downgrade(engine, "base")
    # Alembic keeps its (now empty) version table; nothing of Lantai's is left.
    assert table_names(engine) == {VERSION_TABLE}
    assert status(engine).current is None
    assert upgrade_to_head(engine).at_head  # and it comes back


# --- a database made before migrations existed ----------------------------------------------


def test_a_database_made_before_migrations_is_adopted_and_keeps_its_data(engine: Engine) -> None:
    # As the first alarm release left it: its stores' create_all made only their tables.
    AlarmStore(engine).start()
    SqlStateStore(engine).start()
    with engine.begin() as conn:
        conn.execute(sa.insert(alarms).values(**_alarm_row()))
    before = status(engine)
    assert before.before_migrations
    assert before.current is None

    after = upgrade_to_head(engine)

    assert after.at_head
    assert not after.before_migrations
    with engine.connect() as conn:
        assert schema_differences(conn) == []
        kept = conn.execute(sa.select(alarms.c.key, alarms.c.state)).all()
    assert kept == [("fire:yunxi:B2-01", "unacked")]


def test_a_database_made_before_migrations_with_an_older_table_is_refused(
    engine: Engine,
) -> None:
    # An alarms table from a release before "chattering" existed.
    older = sa.MetaData()
    sa.Table(
        "alarms",
        older,
        *(
            sa.Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable)
            for c in alarms.columns
            if c.name != "chattering"
        ),
    )
    older.create_all(engine)
    with pytest.raises(StateSchemaError) as refused:
        upgrade_to_head(engine)
    assert "column alarms.chattering" in str(refused.value)


def test_two_services_starting_at_once_upgrade_once(url: str) -> None:
    if url.startswith("sqlite"):
        pytest.skip("SQLite has one writer anyway; the upgrade lock is PostgreSQL's")
    engines = [create_state_engine(url) for _ in range(2)]
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def upgrade(engine: Engine) -> None:
        start.wait()
        try:
            upgrade_to_head(engine)
        except BaseException as exc:  # handed to the main thread, which asserts none
            errors.append(exc)

    threads = [threading.Thread(target=upgrade, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    try:
        assert errors == []
        assert status(engines[0]).at_head
    finally:
        for e in engines:
            e.dispose()


# --- the stores without a PostgreSQL test of their own --------------------------------------


def test_rule_state_round_trips_on_a_migrated_database(engine: Engine) -> None:
    upgrade_to_head(engine)
    store = SqlStateStore(engine)
    store.start()
    # More keys than one statement's chunk (SQLite caps the parameters), then overwrites.
    first = {
        f"humidity_limits:yunxi:s{i:04d}": ("limits", {"pending_since": i}) for i in range(700)
    }
    store.save(first)
    store.save({"humidity_limits:yunxi:s0001": ("limits", {"pending_since": None, "up": True})})
    loaded = store.load()
    assert len(loaded) == 700
    assert loaded["humidity_limits:yunxi:s0001"] == ("limits", {"pending_since": None, "up": True})
    assert loaded["humidity_limits:yunxi:s0699"] == ("limits", {"pending_since": 699})


def test_the_inspection_scheduler_keeps_its_jobs_in_the_migrated_table(
    engine: Engine, facility: Facility
) -> None:
    upgrade_to_head(engine)
    clock = FakeClock(local(4, 23))
    scheduler = InspectionScheduler(
        make_service(engine, facility, clock, RecordingSink()), engine, timer_seconds=3600
    )
    scheduler.start()
    try:
        wait_for(lambda: any(w.job == TIMER_JOB for w in scheduler.wakeups), 10, "first tick")
        jobs = scheduler.stored_jobs()
    finally:
        scheduler.stop()
    with engine.connect() as conn:
        stored = conn.execute(sa.text(f"SELECT id, next_run_time FROM {JOB_TABLE}")).all()
        assert schema_differences(conn) == []  # APScheduler added nothing of its own
    assert (
        {row.id for row in stored}
        == set(jobs)
        == {
            "inspection:patrol:yunxi",
            "inspection:weekly:yunxi",
        }
    )
    assert all(row.next_run_time is not None for row in stored)


# --- the service on PostgreSQL --------------------------------------------------------------


def test_the_service_on_postgresql_raises_an_alarm_and_keeps_it_across_a_restart(
    request: pytest.FixtureRequest,
    broker: MosquittoBroker,
    tmp_path: Path,
    unique_id: str,
) -> None:
    url = postgres_url(request.getfixturevalue("pg_schema"))
    settings = LantaiSettings(
        facility=EXAMPLE_SITE,
        mqtt=MqttSettings(host=broker.host, port=broker.port, client_id=unique_id),
        store=StoreSettings(readings_path=tmp_path / "readings.db"),
        state=StateSettings(url=url),
    )
    facility = load_facility(EXAMPLE_SITE)
    topic = "archive/yunxi/B2-01/b201-smoke1"

    first = LantaiService(settings, facility, FakeClock(T0))  # a fake clock: rules in-process
    first.start(console=False)
    try:
        assert status(first.alarm_store.engine).at_head  # migrated before the stores started
        assert first.source.wait_connected(10)
        publish_all(broker.host, broker.port, [(topic, b'{"smoke": true}')], f"{unique_id}-pub")
        wait_for(lambda: _open_fires(first) == 1, 20, "the fire alarm stored")
    finally:
        first.stop()

    second = LantaiService(settings, facility, FakeClock(T0))
    second.start(console=False)
    try:
        assert second.source.wait_connected(10)
        (fire,) = second.alarm_store.list()
        assert (fire.key, fire.state) == ("fire:yunxi:B2-01", AlarmState.UNACKED)
        # Still smoke: the same alarm repeats, no second record.
        publish_all(broker.host, broker.port, [(topic, b'{"smoke": true}')], f"{unique_id}-pub2")
        wait_for(lambda: second.ingest.stats.stored >= 1, 10, "the second reading stored")
        assert [a.id for a in second.alarm_store.list(states=None)] == [fire.id]
    finally:
        second.stop()


def _open_fires(service: LantaiService) -> int:
    return sum(1 for a in service.alarm_store.list() if a.key == "fire:yunxi:B2-01")


# --- lantai db ------------------------------------------------------------------------------


def test_lantai_db_current_and_upgrade(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "current", "--url", url]) == 1
    assert "empty; the newest is 0001: run lantai db upgrade" in capsys.readouterr().out
    assert main(["db", "upgrade", "--url", url]) == 0
    assert "at revision 0001 (the newest)" in capsys.readouterr().out
    assert main(["db", "current", "--url", url]) == 0
    assert "at revision 0001 (the newest)" in capsys.readouterr().out


def test_lantai_db_reads_the_url_from_the_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = tmp_path / "settings.yaml"
    settings.write_text(
        f"facility: {EXAMPLE_SITE}\nstate:\n  url: sqlite:///state.db\n", encoding="utf-8"
    )
    assert main(["db", "upgrade", "--config", str(settings)]) == 0
    assert (tmp_path / "state.db").exists()  # relative to the settings file's folder
    assert main(["db", "current", "--settings", str(settings)]) == 0
    assert "at revision 0001" in capsys.readouterr().out


def test_lantai_db_current_names_a_database_made_before_migrations(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_state_engine(url)
    AlarmStore(engine).start()
    engine.dispose()
    assert main(["db", "current", "--url", url]) == 1
    out = capsys.readouterr().out
    assert "made before migrations (6 tables, no revision)" in out


def _alarm_row() -> dict[str, object]:
    return {
        "key": "fire:yunxi:B2-01",
        "rule": "fire",
        "category": "fire",
        "severity": "critical",
        "state": "unacked",
        "site": "yunxi",
        "room": "B2-01",
        "sensor": "b201-smoke1",
        "message_zh": "B2-01 烟感报火警",
        "message_en": "Fire alarm in B2-01",
        "raised_at": T0,
        "last_at": T0,
        "times_raised": 1,
        "chattering": False,
    }
