"""The alarm side of the state database, in SQLAlchemy Core (SQLite and PostgreSQL).

Alarms, their audit trail, incidents with their persisted escalation, maintenance
windows, the notification outbox and the inbound-webhook ledger live in one database so
that one transaction can change an alarm, its incident and the messages it causes: a
crash leaves either all of it or none.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

metadata = sa.MetaData()


def _when(name: str, *, nullable: bool = True) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


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
    _when("raised_at", nullable=False),
    _when("last_at", nullable=False),
    _when("cleared_at"),
    # Not "count": a Row is a tuple, and row.count is tuple.count.
    sa.Column("times_raised", sa.Integer, nullable=False),
    sa.Column("last_value", sa.String(100)),
    sa.Column("incident_id", sa.Integer),
    _when("acked_at"),
    sa.Column("acked_by", sa.String(64)),
    _when("shelved_until"),
    sa.Column("shelved_by", sa.String(64)),
    sa.Column("shelve_reason", sa.Text),
    sa.Column("suppressed_by", sa.Integer),
    sa.Column("chattering", sa.Boolean, nullable=False, default=False),
    # One open alarm per condition: a database rule, not only a habit of this code.
    sa.Index(
        "one_open_alarm_per_key",
        "key",
        unique=True,
        sqlite_where=sa.text("state != 'closed'"),
        postgresql_where=sa.text("state != 'closed'"),
    ),
    sa.Index("alarms_by_state", "state", "raised_at"),
    sa.Index("alarms_by_incident", "incident_id"),
)

alarm_log = sa.Table(
    "alarm_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("alarm_id", sa.Integer),
    sa.Column("incident_id", sa.Integer),
    sa.Column("site", sa.String(64), nullable=False),
    sa.Column("key", sa.String(300)),
    _when("at", nullable=False),
    sa.Column("action", sa.String(30), nullable=False),
    sa.Column("by", sa.String(100), nullable=False),
    sa.Column("via", sa.String(20), nullable=False),
    sa.Column("comment", sa.Text),
    sa.Index("log_by_alarm", "alarm_id", "id"),
    sa.Index("log_by_incident", "incident_id", "id"),
    sa.Index("log_by_key", "key", "action", "at"),
    sa.Index("log_by_site", "site", "action", "at"),
)

incidents = sa.Table(
    "incidents",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("site", sa.String(64), nullable=False),
    sa.Column("room", sa.String(64)),  # None: a site-wide (flood) incident
    sa.Column("flood", sa.Boolean, nullable=False, default=False),
    sa.Column("severity", sa.String(20), nullable=False),
    _when("opened_at", nullable=False),
    _when("last_raised_at", nullable=False),
    # The escalation, persisted so that a restart resumes it (peers.md pain point 5).
    sa.Column("paging", sa.String(20), nullable=False),  # see alerts.paging.Paging
    sa.Column("policy", sa.String(64)),
    sa.Column("round", sa.Integer, nullable=False, default=0),
    _when("esc_started_at"),
    sa.Column("esc_advance_s", sa.Float, nullable=False, default=0.0),
    sa.Column("esc_next_step", sa.Integer, nullable=False, default=0),
    sa.Column("esc_reminders", sa.String(200), nullable=False, default=""),
    _when("next_due_at"),
    _when("acked_at"),
    sa.Column("acked_by", sa.String(64)),
    sa.Index("incidents_by_room", "site", "room", "last_raised_at"),
    sa.Index("incidents_due", "paging", "next_due_at"),
)

maintenance_windows = sa.Table(
    "maintenance_windows",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("site", sa.String(64), nullable=False),
    sa.Column("room", sa.String(64)),
    sa.Column("sensor", sa.String(64)),
    _when("starts_at", nullable=False),
    _when("ends_at"),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("created_by", sa.String(64), nullable=False),
    _when("created_at", nullable=False),
    sa.Column("out_of_service", sa.Boolean, nullable=False, default=False),
    sa.Column("ended", sa.Boolean, nullable=False, default=False),  # its end was handled
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    # One row per (incident, round, step, reminder, person, channel): inserting the same
    # again is a no-op, so no step is ever queued twice, even when a tick is repeated.
    sa.Column("dedup_key", sa.String(300), nullable=False, unique=True),
    sa.Column("incident_id", sa.Integer, nullable=False),
    sa.Column("site", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("channel", sa.String(20), nullable=False),
    sa.Column("who", sa.String(100), nullable=False),
    sa.Column("address", sa.String(300), nullable=False),
    sa.Column("language", sa.String(10), nullable=False),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("data", sa.Text, nullable=False),  # JSON
    sa.Column("state", sa.String(20), nullable=False),  # see alerts.outbox.Delivery
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    _when("created_at", nullable=False),
    _when("next_attempt_at", nullable=False),
    _when("claimed_at"),
    # Claimed before a crash: ask the provider whether it left before sending again.
    sa.Column("interrupted", sa.Boolean, nullable=False, default=False),
    _when("sent_at"),
    sa.Column("provider_id", sa.String(100)),
    sa.Column("provider_status", sa.String(30)),
    sa.Column("last_error", sa.Text),
    sa.Column("fallback_of", sa.Integer),
    sa.Index("outbox_due", "state", "next_attempt_at"),
    sa.Index("outbox_by_incident", "incident_id"),
    sa.Index("outbox_by_provider", "provider_id"),
)

# Twilio retries a webhook it got no answer for; a request id seen before is answered
# from here instead of acting twice.
inbound = sa.Table(
    "inbound_requests",
    metadata,
    sa.Column("request_id", sa.String(120), primary_key=True),
    _when("at", nullable=False),
    sa.Column("reply", sa.Text, nullable=False),
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
