"""The state database's schema, kept by Alembic migrations (lantai/migrations/).

Every package declares its own tables (alerts, inspections, rules, the console's accounts
and procedures, APScheduler's job table); only ``lantai/`` knows them all, so the combined
MetaData and the migrations live here. ``upgrade_to_head`` runs at every start, before any
store starts, and brings any database to the newest revision:

- an empty database gets every table from the revisions;
- a database already at an older revision gets the revisions after it;
- a database made before migrations existed (Lantai's tables, no ``alembic_version``) is
  adopted: the baseline revision keeps the tables it finds and creates only the missing
  ones (an older Lantai made only the tables it knew), Alembic records the baseline, and
  the revisions after it run as usual.

Afterwards the database is compared with the combined MetaData: a table or column Lantai
needs and the database lacks stops the start with a clear error instead of a failed query
later; anything else that differs is logged.

The stores' own ``start()`` still calls ``create_all`` for their tables: the packages'
tests build stores on their own, without ``lantai/``, and on a migrated database it finds
every table present and creates nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from sqlalchemy.engine import Connection, Engine

from alerts import tables as alert_tables
from console import sop_tables
from console.auth import tables as auth_tables
from inspections import tables as inspection_tables
from inspections.scheduler import JOB_TABLE
from rules import persistence as rule_tables

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "alembic_version"
# Any constant of our own: two Lantai processes starting at once on one PostgreSQL
# database take turns at upgrading instead of both creating the same tables.
_PG_LOCK_KEY = 0x4C414E544149  # "LANTAI"


class StateSchemaError(RuntimeError):
    """The state database lacks what Lantai needs, even after the migrations ran."""


@dataclass(frozen=True, slots=True)
class SchemaStatus:
    """Where a state database stands."""

    current: str | None  # None: no revision recorded (empty, or made before migrations)
    head: str
    lantai_tables: int  # how many of Lantai's tables exist

    @property
    def at_head(self) -> bool:
        return self.current == self.head

    @property
    def before_migrations(self) -> bool:
        """Made by a Lantai older than its migrations: tables, but no revision."""
        return self.current is None and self.lantai_tables > 0


def state_metadata() -> sa.MetaData:
    """Every table of the state database in one (new) MetaData, as the models define them."""
    combined = sa.MetaData()
    for package in (alert_tables, inspection_tables, rule_tables, auth_tables, sop_tables):
        for table in package.metadata.tables.values():
            table.to_metadata(combined)
    # APScheduler's job table as APScheduler itself defines it (the inspection scheduler's
    # store). Building the store connects nowhere: the engine is never used.
    SQLAlchemyJobStore(engine=sa.create_engine("sqlite://"), tablename=JOB_TABLE, metadata=combined)
    return combined


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration for our migrations, without an alembic.ini."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the baseline revision ships with the code
        raise StateSchemaError(f"no migrations found in {MIGRATIONS}")
    return head


def status(engine: Engine) -> SchemaStatus:
    """The database's recorded revision, the newest one, and how many of our tables exist."""
    with engine.connect() as conn:
        return _status(conn)


def upgrade_to_head(engine: Engine) -> SchemaStatus:
    """Bring the state database to the newest revision (see the module docstring)."""
    with _locked(engine) as conn:
        before = _status(conn)
        if before.at_head:
            log.debug("state database at revision %s", before.head)
        else:
            if before.before_migrations:
                log.warning(
                    "state database %s was made before migrations: adopting its %d tables "
                    "as the baseline, creating the missing ones",
                    _shown(engine),
                    before.lantai_tables,
                )
            log.info(
                "state database %s: upgrading from %s to %s",
                _shown(engine),
                before.current or "nothing",
                before.head,
            )
            command.upgrade(alembic_config(conn), "head")
        check_schema(conn)
        return _status(conn)


def downgrade(engine: Engine, revision: str) -> None:
    """Take the schema back to ``revision`` ("base": no Lantai table left). Data goes too."""
    with _locked(engine) as conn:
        command.downgrade(alembic_config(conn), revision)


def schema_differences(conn: Connection, metadata: sa.MetaData | None = None) -> list[Any]:
    """What autogenerate would change to make the database match ``metadata`` (default:
    the combined models), for Lantai's tables only: tables of others sharing the
    database are none of our business."""
    target = metadata if metadata is not None else state_metadata()
    ours = set(target.tables)

    def include_name(name: str | None, kind: str, parents: dict[str, str | None]) -> bool:
        if kind == "table":
            return name in ours
        if kind == "schema":
            return True
        return parents.get("table_name") in ours

    context = MigrationContext.configure(
        conn, opts={"include_name": include_name, "compare_type": True}
    )
    return list(compare_metadata(context, target))


def check_schema(conn: Connection, metadata: sa.MetaData | None = None) -> None:
    """Raise StateSchemaError when a table or column the models need is missing."""
    differences = schema_differences(conn, metadata)
    missing = [d for d in _flatten(differences) if d[0] in {"add_table", "add_column"}]
    if missing:
        names = ", ".join(_name(d) for d in missing)
        raise StateSchemaError(
            f"the state database lacks {names}: a migration is missing, or the database "
            "was changed by hand (lantai db current shows its revision)"
        )
    for difference in differences:
        log.warning("state database differs from the models: %s", difference)


def _flatten(differences: Iterable[Any]) -> Iterator[tuple[Any, ...]]:
    # compare_metadata groups column modifications into lists; additions are tuples.
    for difference in differences:
        if isinstance(difference, list):
            yield from difference
        else:
            yield difference


def _name(difference: tuple[Any, ...]) -> str:
    if difference[0] == "add_table":
        return f"table {difference[1].name}"
    return f"column {difference[2]}.{difference[3].name}"


def _status(conn: Connection) -> SchemaStatus:
    tables = set(sa.inspect(conn).get_table_names())
    current = MigrationContext.configure(conn).get_current_revision()
    return SchemaStatus(
        current=current,
        head=head_revision(),
        lantai_tables=len(tables & set(state_metadata().tables)),
    )


@contextmanager
def _locked(engine: Engine) -> Iterator[Connection]:
    """One connection in one transaction; on PostgreSQL, holding the upgrade lock."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_LOCK_KEY)))
        yield conn


def _shown(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)
