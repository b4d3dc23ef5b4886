"""The alarm store: reads for the console, and one transaction type for every change.

``AlarmStore.begin()`` hands out a ``Tx``; the alarm service makes every change of one
action (an event, an acknowledgement, a tick) through one ``Tx``, so the alarm, its
incident, the audit trail and the outbox rows it causes commit together or not at all.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from alerts.models import (
    ACTIVE_STATES,
    OPEN_STATES,
    Alarm,
    AlarmState,
    LogEntry,
    MaintenanceWindow,
    Via,
)
from alerts.tables import (
    alarm_log,
    alarms,
    create_state_engine,
    incidents,
    maintenance_windows,
    metadata,
    outbox,
)
from sensors.events import Category, Severity

__all__ = ["AlarmStore", "Incident", "OutboxRow", "Tx", "create_state_engine"]

# Sorting in SQL, before any limit: a long list must never crowd out the fire.
_RANK = sa.case(*((alarms.c.severity == s.value, s.rank) for s in Severity), else_=len(Severity))
_OPEN_FIRST = sa.case((alarms.c.state.in_([s.value for s in OPEN_STATES]), 0), else_=1)
_UNACKED_FIRST = sa.case(
    (alarms.c.state.in_([AlarmState.UNACKED.value, AlarmState.RTN_UNACKED.value]), 0), else_=1
)


@dataclass(frozen=True, slots=True)
class Incident:
    """Alarms told to people together: one room's within the group window, or a flood."""

    id: int
    site: str
    room: str | None
    flood: bool
    severity: Severity
    opened_at: datetime
    last_raised_at: datetime
    paging: str
    policy: str | None
    round: int
    esc_started_at: datetime | None
    esc_advance_s: float
    esc_next_step: int
    esc_reminders: tuple[int, ...]
    next_due_at: datetime | None
    acked_at: datetime | None
    acked_by: str | None


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    incident_id: int
    site: str
    kind: str
    channel: str
    who: str
    address: str
    language: str
    subject: str
    body: str
    data: dict[str, object]
    state: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    claimed_at: datetime | None
    interrupted: bool
    sent_at: datetime | None
    provider_id: str | None
    provider_status: str | None
    last_error: str | None
    fallback_of: int | None
    dedup_key: str


class AlarmStore:
    """Alarm records, incidents and the outbox in the state database."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @property
    def engine(self) -> Engine:
        return self._engine

    def start(self) -> None:
        metadata.create_all(self._engine)

    @contextmanager
    def begin(self) -> Iterator[Tx]:
        with self._engine.begin() as conn:
            yield Tx(conn)

    # -- reads for the console -------------------------------------------------------

    def get(self, alarm_id: int) -> Alarm | None:
        with self._engine.connect() as conn:
            return Tx(conn).alarm(alarm_id)

    def active_keys(self) -> set[str]:
        with self._engine.connect() as conn:
            rows = conn.execute(
                sa.select(alarms.c.key).where(alarms.c.state.in_([s.value for s in ACTIVE_STATES]))
            )
            return {row.key for row in rows}

    def timeline(self, alarm_id: int) -> list[LogEntry]:
        """The alarm's audit trail, with its incident's notification entries."""
        with self._engine.connect() as conn:
            alarm = Tx(conn).alarm(alarm_id)
            if alarm is None:
                return []
            where = alarm_log.c.alarm_id == alarm_id
            if alarm.incident_id is not None:
                where = sa.or_(
                    where,
                    sa.and_(
                        alarm_log.c.incident_id == alarm.incident_id,
                        alarm_log.c.alarm_id.is_(None),
                    ),
                )
            rows = conn.execute(sa.select(alarm_log).where(where).order_by(alarm_log.c.id))
            return [_to_entry(row) for row in rows]

    def raised_between(self, site: str, start: datetime, end: datetime) -> list[Alarm]:
        """Every alarm of ``site`` raised in [start, end), oldest first (for reports)."""
        # Times are kept as UTC; SQLite compares them as text, so the bounds must be UTC too.
        query = (
            sa.select(alarms)
            .where(
                alarms.c.site == site,
                alarms.c.raised_at >= start.astimezone(UTC),
                alarms.c.raised_at < end.astimezone(UTC),
            )
            .order_by(alarms.c.raised_at, alarms.c.id)
        )
        with self._engine.connect() as conn:
            return [to_alarm(row) for row in conn.execute(query)]

    def incident(self, incident_id: int) -> Incident | None:
        with self._engine.connect() as conn:
            return Tx(conn).incident(incident_id)

    def messages(self, incident_id: int) -> list[OutboxRow]:
        with self._engine.connect() as conn:
            rows = conn.execute(
                sa.select(outbox).where(outbox.c.incident_id == incident_id).order_by(outbox.c.id)
            )
            return [to_outbox(row) for row in rows]

    def windows(self, *, include_ended: bool = False) -> list[MaintenanceWindow]:
        query = sa.select(maintenance_windows).order_by(maintenance_windows.c.starts_at)
        if not include_ended:
            query = query.where(maintenance_windows.c.ended.is_(False))
        with self._engine.connect() as conn:
            return [to_window(row) for row in conn.execute(query)]

    # Last in the class: its name shadows the builtin in the annotations below it.
    def list(
        self,
        *,
        states: Sequence[AlarmState] | None = OPEN_STATES,
        site: str | None = None,
        limit: int = 500,
    ) -> list[Alarm]:
        """Alarms, most urgent first: open before closed, unacknowledged before
        acknowledged, then by severity and time."""
        query = sa.select(alarms)
        if states is not None:
            query = query.where(alarms.c.state.in_([s.value for s in states]))
        if site is not None:
            query = query.where(alarms.c.site == site)
        query = query.order_by(_OPEN_FIRST, _UNACKED_FIRST, _RANK, alarms.c.raised_at.desc())
        with self._engine.connect() as conn:
            return [to_alarm(row) for row in conn.execute(query.limit(limit))]


class Tx:
    """One transaction's reads and writes; the alarm service composes them."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # -- alarms ------------------------------------------------------------------------

    def alarm(self, alarm_id: int) -> Alarm | None:
        row = self.conn.execute(sa.select(alarms).where(alarms.c.id == alarm_id)).first()
        return None if row is None else to_alarm(row)

    def open_alarm(self, key: str) -> Alarm | None:
        row = self.conn.execute(
            sa.select(alarms).where(alarms.c.key == key, alarms.c.state != "closed")
        ).first()
        return None if row is None else to_alarm(row)

    def insert_alarm(self, **values: Any) -> int:  # noqa: ANN401
        result = self.conn.execute(alarms.insert().values(**values))
        return int(result.inserted_primary_key[0])  # type: ignore[index]

    def update_alarm(self, alarm_id: int, **values: Any) -> None:  # noqa: ANN401
        self.conn.execute(alarms.update().where(alarms.c.id == alarm_id).values(**values))

    def incident_alarms(self, incident_id: int) -> list[Alarm]:
        """The incident's alarms, most urgent first (the first is the headline)."""
        rows = self.conn.execute(
            sa.select(alarms)
            .where(alarms.c.incident_id == incident_id)
            .order_by(_RANK, alarms.c.raised_at.desc())
        )
        return [to_alarm(row) for row in rows]

    def shelved_until_past(self, now: datetime) -> list[Alarm]:
        rows = self.conn.execute(
            sa.select(alarms).where(
                alarms.c.shelved_until.is_not(None),
                alarms.c.shelved_until <= now,
                alarms.c.state != "closed",
            )
        )
        return [to_alarm(row) for row in rows]

    def suppressed_by(self, window_id: int) -> list[Alarm]:
        rows = self.conn.execute(
            sa.select(alarms).where(alarms.c.suppressed_by == window_id, alarms.c.state != "closed")
        )
        return [to_alarm(row) for row in rows]

    # -- audit trail -------------------------------------------------------------------

    def log(
        self,
        *,
        site: str,
        at: datetime,
        action: str,
        by: str,
        via: Via,
        alarm_id: int | None = None,
        incident_id: int | None = None,
        key: str | None = None,
        comment: str | None = None,
    ) -> None:
        self.conn.execute(
            alarm_log.insert().values(
                alarm_id=alarm_id,
                incident_id=incident_id,
                site=site,
                key=key,
                at=at,
                action=action,
                by=by,
                via=via.value,
                comment=comment,
            )
        )

    def log_times(self, actions: Sequence[str], since: datetime, site: str) -> list[datetime]:
        rows = self.conn.execute(
            sa.select(alarm_log.c.at).where(
                alarm_log.c.action.in_(actions), alarm_log.c.at > since, alarm_log.c.site == site
            )
        )
        return [t for t in (aware(row.at) for row in rows) if t is not None]

    def count_log(
        self,
        actions: Sequence[str],
        since: datetime,
        *,
        key: str | None = None,
        site: str | None = None,
    ) -> int:
        query = sa.select(sa.func.count()).where(
            alarm_log.c.action.in_(actions), alarm_log.c.at > since
        )
        if key is not None:
            query = query.where(alarm_log.c.key == key)
        if site is not None:
            query = query.where(alarm_log.c.site == site)
        return int(self.conn.execute(query).scalar_one())

    # -- incidents ---------------------------------------------------------------------

    def incident(self, incident_id: int) -> Incident | None:
        row = self.conn.execute(sa.select(incidents).where(incidents.c.id == incident_id)).first()
        return None if row is None else _to_incident(row)

    def latest_incident(self, site: str, room: str | None, *, flood: bool) -> Incident | None:
        query = sa.select(incidents).where(incidents.c.site == site, incidents.c.flood.is_(flood))
        if not flood:
            query = query.where(incidents.c.room == room)
        row = self.conn.execute(query.order_by(incidents.c.id.desc()).limit(1)).first()
        return None if row is None else _to_incident(row)

    def insert_incident(self, **values: Any) -> int:  # noqa: ANN401
        result = self.conn.execute(incidents.insert().values(**values))
        return int(result.inserted_primary_key[0])  # type: ignore[index]

    def update_incident(self, incident_id: int, **values: Any) -> None:  # noqa: ANN401
        self.conn.execute(incidents.update().where(incidents.c.id == incident_id).values(**values))

    def incidents_due(self, now: datetime) -> list[Incident]:
        rows = self.conn.execute(
            sa.select(incidents).where(
                incidents.c.paging == "running",
                incidents.c.next_due_at.is_not(None),
                incidents.c.next_due_at <= now,
            )
        )
        return [_to_incident(row) for row in rows]

    def unnotified_incidents(self, site: str) -> list[Incident]:
        """Incidents of a site that have told nobody yet (their first step is waiting)."""
        told = sa.select(outbox.c.incident_id).distinct()
        rows = self.conn.execute(
            sa.select(incidents).where(
                incidents.c.site == site,
                incidents.c.flood.is_(False),
                incidents.c.paging == "running",
                incidents.c.id.not_in(told),
            )
        )
        return [_to_incident(row) for row in rows]

    def move_alarms(self, from_incident: int, to_incident: int) -> None:
        self.conn.execute(
            alarms.update()
            .where(alarms.c.incident_id == from_incident)
            .values(incident_id=to_incident)
        )

    # -- maintenance windows -----------------------------------------------------------

    def window_covering(
        self, site: str, room: str | None, sensor: str | None, at: datetime
    ) -> MaintenanceWindow | None:
        rows = self.conn.execute(
            sa.select(maintenance_windows).where(
                maintenance_windows.c.site == site,
                maintenance_windows.c.ended.is_(False),
                maintenance_windows.c.starts_at <= at,
            )
        )
        for row in rows:
            window = to_window(row)
            if window.covers(site, room, sensor, at):
                return window
        return None

    def windows_ending(self, now: datetime) -> list[MaintenanceWindow]:
        rows = self.conn.execute(
            sa.select(maintenance_windows).where(
                maintenance_windows.c.ended.is_(False),
                maintenance_windows.c.ends_at.is_not(None),
                maintenance_windows.c.ends_at <= now,
            )
        )
        return [to_window(row) for row in rows]

    def insert_window(self, **values: Any) -> int:  # noqa: ANN401
        result = self.conn.execute(maintenance_windows.insert().values(**values))
        return int(result.inserted_primary_key[0])  # type: ignore[index]

    def window(self, window_id: int) -> MaintenanceWindow | None:
        row = self.conn.execute(
            sa.select(maintenance_windows).where(maintenance_windows.c.id == window_id)
        ).first()
        return None if row is None else to_window(row)

    def update_window(self, window_id: int, **values: Any) -> None:  # noqa: ANN401
        self.conn.execute(
            maintenance_windows.update()
            .where(maintenance_windows.c.id == window_id)
            .values(**values)
        )


def aware(value: datetime | None) -> datetime | None:
    """UTC out, always: SQLite gives back naive values (stored as UTC), PostgreSQL gives
    the session's zone, which an installation in China may well set to Asia/Shanghai."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _must(value: datetime | None, what: str) -> datetime:
    if value is None:
        raise ValueError(f"{what} has no time")  # the schema forbids it
    return value


def to_alarm(row: Any) -> Alarm:  # noqa: ANN401 - a SQLAlchemy Row
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
        raised_at=_must(aware(row.raised_at), f"alarm {row.id}"),
        last_at=_must(aware(row.last_at), f"alarm {row.id}"),
        cleared_at=aware(row.cleared_at),
        count=row.times_raised,
        last_value=row.last_value,
        incident_id=row.incident_id,
        acked_at=aware(row.acked_at),
        acked_by=row.acked_by,
        shelved_until=aware(row.shelved_until),
        shelved_by=row.shelved_by,
        shelve_reason=row.shelve_reason,
        suppressed_by=row.suppressed_by,
        chattering=bool(row.chattering),
    )


def _to_entry(row: Any) -> LogEntry:  # noqa: ANN401
    return LogEntry(
        id=row.id,
        alarm_id=row.alarm_id,
        incident_id=row.incident_id,
        at=_must(aware(row.at), "log entry"),
        action=row.action,
        by=row.by,
        via=Via(row.via),
        comment=row.comment,
    )


def _to_incident(row: Any) -> Incident:  # noqa: ANN401
    reminders = tuple(int(n) for n in row.esc_reminders.split(",") if n)
    return Incident(
        id=row.id,
        site=row.site,
        room=row.room,
        flood=bool(row.flood),
        severity=Severity(row.severity),
        opened_at=_must(aware(row.opened_at), "incident"),
        last_raised_at=_must(aware(row.last_raised_at), "incident"),
        paging=row.paging,
        policy=row.policy,
        round=row.round,
        esc_started_at=aware(row.esc_started_at),
        esc_advance_s=row.esc_advance_s,
        esc_next_step=row.esc_next_step,
        esc_reminders=reminders,
        next_due_at=aware(row.next_due_at),
        acked_at=aware(row.acked_at),
        acked_by=row.acked_by,
    )


def to_window(row: Any) -> MaintenanceWindow:  # noqa: ANN401
    return MaintenanceWindow(
        id=row.id,
        site=row.site,
        room=row.room,
        sensor=row.sensor,
        starts_at=_must(aware(row.starts_at), "window"),
        ends_at=aware(row.ends_at),
        reason=row.reason,
        created_by=row.created_by,
        created_at=_must(aware(row.created_at), "window"),
        out_of_service=bool(row.out_of_service),
    )


def to_outbox(row: Any) -> OutboxRow:  # noqa: ANN401
    return OutboxRow(
        id=row.id,
        incident_id=row.incident_id,
        site=row.site,
        kind=row.kind,
        channel=row.channel,
        who=row.who,
        address=row.address,
        language=row.language,
        subject=row.subject,
        body=row.body,
        data=json.loads(row.data),
        state=row.state,
        attempts=row.attempts,
        created_at=_must(aware(row.created_at), "outbox"),
        next_attempt_at=_must(aware(row.next_attempt_at), "outbox"),
        claimed_at=aware(row.claimed_at),
        interrupted=bool(row.interrupted),
        sent_at=aware(row.sent_at),
        provider_id=row.provider_id,
        provider_status=row.provider_status,
        last_error=row.last_error,
        fallback_of=row.fallback_of,
        dedup_key=row.dedup_key,
    )
