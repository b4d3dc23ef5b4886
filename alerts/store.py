"""The alarm store: SQLAlchemy Core, so the same code runs on SQLite and PostgreSQL.

A raise for a key that already has an active alarm updates that alarm (count, last value,
last time) instead of adding one; a partial unique index makes that a database rule, not
only a habit of this code.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from alerts.models import Alarm, AlarmChange, AlarmState, Change
from sensors.events import AlarmEvent, Category, Severity, Transition

metadata = sa.MetaData()

alarms = sa.Table(
    "alarms",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(300), nullable=False),
    sa.Column("rule", sa.String(100), nullable=False),
    sa.Column("category", sa.String(20), nullable=False),
    sa.Column("severity", sa.String(20), nullable=False),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("site", sa.String(64), nullable=False),
    sa.Column("room", sa.String(64)),
    sa.Column("sensor", sa.String(64)),
    sa.Column("message_zh", sa.Text, nullable=False),
    sa.Column("message_en", sa.Text, nullable=False),
    sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("cleared_at", sa.DateTime(timezone=True)),
    # Not "count": a Row is a tuple, and row.count is tuple.count.
    sa.Column("times_raised", sa.Integer, nullable=False),
    sa.Column("last_value", sa.String(100)),
    sa.Index(
        "one_active_alarm_per_key",
        "key",
        unique=True,
        sqlite_where=sa.text("state = 'active'"),
        postgresql_where=sa.text("state = 'active'"),
    ),
    sa.Index("alarms_by_state", "state", "raised_at"),
)


def create_state_engine(url: str) -> Engine:
    """An engine for the state database; SQLite gets WAL so readers never block the writer."""
    engine = sa.create_engine(url, future=True)
    if engine.dialect.name == "sqlite":

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(conn: Any, _record: Any) -> None:  # noqa: ANN401
            cursor = conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA busy_timeout=5000")
            cursor.close()

    return engine


class AlarmStore:
    """Alarm records in the state database."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def start(self) -> None:
        metadata.create_all(self._engine)

    def apply(self, event: AlarmEvent) -> AlarmChange | None:
        """Record a rule's event; returns what changed, or None when nothing did."""
        at = event.at.astimezone(UTC)  # stored as UTC whatever zone the event came in
        with self._engine.begin() as conn:
            row = conn.execute(
                sa.select(alarms).where(alarms.c.key == event.key, alarms.c.state == "active")
            ).first()
            value = None if event.value is None else str(event.value)[:100]
            if event.transition is Transition.RAISE:
                if row is None:
                    new_id = conn.execute(
                        alarms.insert().values(
                            key=event.key,
                            rule=event.rule,
                            category=event.category.value,
                            severity=event.severity.value,
                            state=AlarmState.ACTIVE.value,
                            site=event.site,
                            room=event.room,
                            sensor=event.sensor,
                            message_zh=event.message_zh,
                            message_en=event.message_en,
                            raised_at=at,
                            last_at=at,
                            cleared_at=None,
                            times_raised=1,
                            last_value=value,
                        )
                    ).inserted_primary_key
                    change = Change.RAISED
                    alarm_id = int(new_id[0]) if new_id else 0
                else:
                    conn.execute(
                        alarms.update()
                        .where(alarms.c.id == row.id)
                        .values(
                            times_raised=row.times_raised + 1,
                            last_at=at,
                            last_value=value,
                            message_zh=event.message_zh,
                            message_en=event.message_en,
                        )
                    )
                    change, alarm_id = Change.REPEATED, row.id
            else:
                if row is None:
                    return None
                conn.execute(
                    alarms.update()
                    .where(alarms.c.id == row.id)
                    .values(state=AlarmState.CLEARED.value, cleared_at=at, last_at=at)
                )
                change, alarm_id = Change.CLEARED, row.id
            fresh = conn.execute(sa.select(alarms).where(alarms.c.id == alarm_id)).one()
        return AlarmChange(change, _to_alarm(fresh))

    def get(self, alarm_id: int) -> Alarm | None:
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(alarms).where(alarms.c.id == alarm_id)).first()
        return None if row is None else _to_alarm(row)

    def list(
        self, *, state: AlarmState | None = None, site: str | None = None, limit: int = 500
    ) -> list[Alarm]:
        """Alarms, most urgent first: active before cleared, then by severity and time."""
        query = sa.select(alarms)
        if state is not None:
            query = query.where(alarms.c.state == state.value)
        if site is not None:
            query = query.where(alarms.c.site == site)
        # Ordered in SQL, before the limit: a long list must never crowd out the fire.
        rank = sa.case(
            *((alarms.c.severity == s.value, s.rank) for s in Severity), else_=len(Severity)
        )
        active_first = sa.case((alarms.c.state == AlarmState.ACTIVE.value, 0), else_=1)
        query = query.order_by(active_first, rank, alarms.c.raised_at.desc()).limit(limit)
        with self._engine.connect() as conn:
            return [_to_alarm(row) for row in conn.execute(query)]

    def active_keys(self) -> set[str]:
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(alarms.c.key).where(alarms.c.state == "active"))
            return {row.key for row in rows}


def _aware(value: datetime | None) -> datetime | None:
    """UTC out, always: SQLite gives back naive values (stored as UTC), PostgreSQL gives
    the session's zone, which an installation in China may well set to Asia/Shanghai."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _to_alarm(row: Any) -> Alarm:  # noqa: ANN401 - a SQLAlchemy Row
    raised_at = _aware(row.raised_at)
    last_at = _aware(row.last_at)
    if raised_at is None or last_at is None:
        raise ValueError(f"alarm {row.id} has no time")  # the schema forbids it
    return Alarm(
        id=row.id,
        key=row.key,
        rule=row.rule,
        category=Category(row.category),
        severity=Severity(row.severity),
        state=AlarmState(row.state),
        site=row.site,
        room=row.room,
        sensor=row.sensor,
        message_zh=row.message_zh,
        message_en=row.message_en,
        raised_at=raised_at,
        last_at=last_at,
        cleared_at=_aware(row.cleared_at),
        count=row.times_raised,
        last_value=row.last_value,
    )
