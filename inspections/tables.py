"""The inspection side of the state database, in SQLAlchemy Core (SQLite and PostgreSQL).

Same database (and engine: ``alerts.tables.create_state_engine``) as the alarms, its own
MetaData. Idempotency lives in the schema, not only in the code: a task's key, a
hazard's (task, item) and a phone's request id are unique, so a repeated tick, a second
scheduler or a phone resending after losing signal can never add a row twice.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

metadata = sa.MetaData()


def _when(name: str, *, nullable: bool = True) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


tasks = sa.Table(
    "inspection_tasks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(300), nullable=False, unique=True),
    sa.Column("source", sa.String(20), nullable=False),
    sa.Column("site", sa.String(64), nullable=False),
    sa.Column("room", sa.String(64)),
    sa.Column("floor", sa.String(64)),
    sa.Column("template", sa.String(64)),
    sa.Column("cadence", sa.String(20)),
    # A rule's request key: one open task per condition (TaskRequest.key).
    sa.Column("request_key", sa.String(300)),
    sa.Column("title_zh", sa.Text, nullable=False),
    sa.Column("title_en", sa.Text, nullable=False),
    sa.Column("role", sa.String(32), nullable=False),
    _when("window_start", nullable=False),
    _when("window_end", nullable=False),
    sa.Column("local_date", sa.Date, nullable=False),
    _when("created_at", nullable=False),
    sa.Column("created_late", sa.Boolean, nullable=False, default=False),
    sa.Column("status", sa.String(20), nullable=False),
    # The checklist as it was when the task was made (JSON): a template edited later
    # does not change what a person already answered.
    sa.Column("items", sa.Text, nullable=False),
    _when("remind_at", nullable=False),
    sa.Column("overdue_severity", sa.String(20), nullable=False),
    sa.Column("reminded", sa.Boolean, nullable=False, default=False),
    sa.Column("overdue_raised", sa.Boolean, nullable=False, default=False),
    sa.Column("signed_by", sa.String(100)),
    _when("signed_at"),
    _when("synced_at"),
    sa.Column("checkpoint", sa.String(100)),
    sa.Index("tasks_by_day", "site", "local_date", "window_start"),
    sa.Index("tasks_by_window", "site", "window_start"),
    sa.Index("tasks_due", "status", "window_end"),
    sa.Index("tasks_by_request", "request_key", "status"),
    sa.Index("tasks_by_room", "site", "room", "signed_at"),
)

answers = sa.Table(
    "inspection_answers",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("task_id", sa.Integer, nullable=False),
    sa.Column("item_key", sa.String(64), nullable=False),
    sa.Column("result", sa.String(10), nullable=False),
    sa.Column("value", sa.Float),
    sa.Column("note", sa.Text, nullable=False, default=""),
    sa.Column("answered_by", sa.String(100), nullable=False),
    _when("answered_at", nullable=False),
    _when("received_at", nullable=False),
    sa.UniqueConstraint("task_id", "item_key", name="one_answer_per_item"),
)

photos = sa.Table(
    "inspection_photos",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("task_id", sa.Integer),
    sa.Column("item_key", sa.String(64)),
    sa.Column("hazard_id", sa.Integer),
    sa.Column("content_type", sa.String(20), nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),  # a few MB at most: photos.py
    sa.Column("taken_by", sa.String(100), nullable=False),
    _when("taken_at", nullable=False),
    _when("received_at", nullable=False),
    sa.Index("photos_by_item", "task_id", "item_key"),
    sa.Index("photos_by_hazard", "hazard_id"),
)

# Every phone request that changed something, by the id the phone gave it: a resend
# after a lost connection finds its id here and changes nothing.
client_requests = sa.Table(
    "inspection_client_requests",
    metadata,
    sa.Column("client_id", sa.String(100), primary_key=True),
    sa.Column("kind", sa.String(20), nullable=False),  # answer | photo | sign_off
    sa.Column("task_id", sa.Integer),
    sa.Column("hazard_id", sa.Integer),
    sa.Column("item_key", sa.String(64)),
    sa.Column("photo_id", sa.Integer),
    _when("received_at", nullable=False),
)

hazards = sa.Table(
    "hazards",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("site", sa.String(64), nullable=False),
    sa.Column("room", sa.String(64)),
    sa.Column("task_id", sa.Integer),
    sa.Column("item_key", sa.String(64)),
    sa.Column("title_zh", sa.Text, nullable=False),
    sa.Column("title_en", sa.Text, nullable=False),
    sa.Column("grade", sa.String(20), nullable=False),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("found_by", sa.String(100), nullable=False),
    _when("found_at", nullable=False),
    sa.Column("owner", sa.String(100)),
    _when("deadline"),
    sa.Column("note", sa.Text, nullable=False, default=""),
    sa.Column("overdue_raised", sa.Boolean, nullable=False, default=False),
    # One hazard per failed item (NULLs never collide: hazards not from a task are free).
    sa.UniqueConstraint("task_id", "item_key", name="one_hazard_per_item"),
    sa.Index("hazards_by_state", "site", "state"),
    sa.Index("hazards_due", "state", "deadline"),
)

hazard_log = sa.Table(
    "hazard_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("hazard_id", sa.Integer, nullable=False),
    _when("at", nullable=False),
    sa.Column("by", sa.String(100), nullable=False),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("note", sa.Text, nullable=False, default=""),
    sa.Index("hazard_log_by_hazard", "hazard_id", "id"),
)

# Where each template's schedule stands, per site: every occurrence created up to
# ``until`` exists, so after downtime the next tick creates the ones missed, late.
cursors = sa.Table(
    "inspection_cursors",
    metadata,
    sa.Column("template", sa.String(64), primary_key=True),
    sa.Column("site", sa.String(64), primary_key=True),
    _when("until", nullable=False),
)

# Alarm events decided in a transaction and published after it commits (the alarm
# service writes to the same database, and SQLite has one writer): a crash between the
# two publishes them at the next tick. Raising or clearing twice is harmless (keyed).
alarm_outbox = sa.Table(
    "inspection_alarm_outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(300), nullable=False),
    sa.Column("transition", sa.String(10), nullable=False),
    sa.Column("rule", sa.String(100), nullable=False),
    sa.Column("severity", sa.String(20), nullable=False),
    sa.Column("site", sa.String(64), nullable=False),
    sa.Column("room", sa.String(64)),
    _when("at", nullable=False),
    sa.Column("message_zh", sa.Text, nullable=False),
    sa.Column("message_en", sa.Text, nullable=False),
    sa.Column("value", sa.String(100)),
    _when("published_at"),
    sa.Index("alarm_outbox_pending", "published_at", "id"),
)
