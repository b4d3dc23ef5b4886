"""Alembic's environment: run by ``lantai db upgrade``, by the service at start, and by the
alembic command line when a developer writes a new revision (see alembic.ini here).

The service hands over its own connection (``config.attributes["connection"]``), already in
a transaction and, on PostgreSQL, holding the upgrade lock; the command line gives a URL
with ``-x url=...``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from lantai.database import VERSION_TABLE, state_metadata

config = context.config


def _run(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=state_metadata(),
        version_table=VERSION_TABLE,
        compare_type=True,
        # SQLite cannot ALTER most things: later revisions rebuild the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    given = config.attributes.get("connection")
    if given is not None:
        _run(given)
        return
    url = context.get_x_argument(as_dictionary=True).get("url")
    if not url:
        raise SystemExit("give the database: alembic -x url=sqlite:///scratch.db ...")
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            _run(connection)
            connection.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported: run them on a database")
_main()
