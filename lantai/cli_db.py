"""``lantai db``: the state database's schema (Alembic migrations, lantai/database.py).

    lantai db upgrade --config settings.yaml     # or --url postgresql+psycopg://...
    lantai db current --config settings.yaml     # exit 0 at the newest revision, else 1

``lantai run`` upgrades by itself at start; ``db upgrade`` is for doing it beforehand (a
deployment step, or with an account that may create tables while the service's may not),
``db current`` for checking.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

EXIT_BEHIND = 1
EXIT_REFUSED = 1


def add_db_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``lantai db`` and its actions (lantai/cli.py calls this)."""
    db = sub.add_parser("db", help="the state database's schema (migrations)")
    actions = db.add_subparsers(required=True, metavar="ACTION")

    def where(parser: argparse.ArgumentParser) -> None:
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument(
            "--config", "--settings", type=Path, help="settings YAML (its state.url)"
        )
        group.add_argument("--url", "--state-url", dest="url", help="a SQLAlchemy URL")

    upgrade = actions.add_parser("upgrade", help="bring the schema to the newest revision")
    where(upgrade)
    upgrade.set_defaults(func=_upgrade)

    current = actions.add_parser("current", help="show the revision the database is at")
    where(current)
    current.set_defaults(func=_current)


def _url(args: argparse.Namespace) -> str:
    if args.config is None:
        url: str = args.url
        return url
    from lantai.settings import load_settings  # noqa: PLC0415 - keep `lantai --help` light

    return load_settings(args.config).state.url


def _upgrade(args: argparse.Namespace) -> int:
    from alerts.tables import create_state_engine  # noqa: PLC0415
    from lantai.database import StateSchemaError, upgrade_to_head  # noqa: PLC0415

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    engine = create_state_engine(_url(args))
    try:
        result = upgrade_to_head(engine)
    except StateSchemaError as exc:
        sys.stderr.write(f"Refused: {exc}\n")
        return EXIT_REFUSED
    finally:
        engine.dispose()
    sys.stdout.write(f"{_shown(engine)}: at revision {result.current} (the newest)\n")
    return 0


def _current(args: argparse.Namespace) -> int:
    from alerts.tables import create_state_engine  # noqa: PLC0415
    from lantai.database import status  # noqa: PLC0415

    engine = create_state_engine(_url(args))
    try:
        found = status(engine)
    finally:
        engine.dispose()
    if found.at_head:
        sys.stdout.write(f"{_shown(engine)}: at revision {found.current} (the newest)\n")
        return 0
    if found.before_migrations:
        what = f"made before migrations ({found.lantai_tables} tables, no revision)"
    elif found.current is None:
        what = "empty"
    else:
        what = f"at revision {found.current}"
    sys.stdout.write(
        f"{_shown(engine)}: {what}; the newest is {found.head}: run lantai db upgrade\n"
    )
    return EXIT_BEHIND


def _shown(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)
