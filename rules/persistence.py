"""Rule state that survives a restart: pending delays, hysteresis, windows, silence timers.

The engine hands over whole snapshots of the states that changed; this writes them in one
transaction to the state database (SQLite or PostgreSQL, through SQLAlchemy). States are
frozen dataclasses, dumped to JSON by pydantic, so no rule family writes its own codec.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Engine

metadata = sa.MetaData()
_CHUNK = 500

rule_state = sa.Table(
    "rule_state",
    metadata,
    sa.Column("key", sa.String(300), primary_key=True),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("data", sa.Text, nullable=False),
)


class StateStore(Protocol):
    """Where the engine keeps its snapshots: key → (kind, JSON-ready data)."""

    def save(self, states: Mapping[str, tuple[str, Any]]) -> None: ...

    def load(self) -> dict[str, tuple[str, Any]]: ...


class SqlStateStore:
    """Rule states in the state database."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def start(self) -> None:
        metadata.create_all(self._engine)

    def save(self, states: Mapping[str, tuple[str, Any]]) -> None:
        if not states:
            return
        rows = [
            {"key": key, "kind": kind, "data": json.dumps(data, separators=(",", ":"))}
            for key, (kind, data) in states.items()
        ]
        keys = list(states)
        with self._engine.begin() as conn:
            # Delete-then-insert is an upsert both SQLite and PostgreSQL run the same way;
            # in chunks, because SQLite caps the parameters of one statement.
            for start in range(0, len(keys), _CHUNK):
                chunk = keys[start : start + _CHUNK]
                conn.execute(rule_state.delete().where(rule_state.c.key.in_(chunk)))
            conn.execute(rule_state.insert(), rows)

    def load(self) -> dict[str, tuple[str, Any]]:
        with self._engine.connect() as conn:
            return {
                row.key: (row.kind, json.loads(row.data))
                for row in conn.execute(sa.select(rule_state))
            }


class MemoryStateStore:
    """A StateStore in a dict: for the benchmarks and for engines without a database."""

    def __init__(self) -> None:
        self.saved: dict[str, tuple[str, Any]] = {}

    def save(self, states: Mapping[str, tuple[str, Any]]) -> None:
        self.saved.update(states)

    def load(self) -> dict[str, tuple[str, Any]]:
        return dict(self.saved)
