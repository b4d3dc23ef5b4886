"""The standard operating procedures in the state database (SQLAlchemy Core, SQLite and
PostgreSQL), with their own MetaData: the alarm and account tables neither know nor need it.

Every edit is a new row; nothing is updated or deleted, so each earlier version is kept,
with who wrote it and when. Version 0 is the procedure Lantai shipped, stored when it is
first replaced (``edited_by`` and ``edited_at`` empty), so the record shows exactly what
the first edit replaced even after a release changes the shipped text.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

TITLE_LENGTH = 200
EDITOR_LENGTH = 100

sop_versions = sa.Table(
    "sop_versions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("category", sa.String(20), nullable=False),  # sensors.events.Category
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("title_zh", sa.String(TITLE_LENGTH), nullable=False),
    sa.Column("title_en", sa.String(TITLE_LENGTH), nullable=False),
    sa.Column("text_zh", sa.Text, nullable=False),
    sa.Column("text_en", sa.Text, nullable=False),
    sa.Column("note", sa.Text, nullable=False),  # why it was changed
    sa.Column("edited_by", sa.String(EDITOR_LENGTH)),  # None: the shipped procedure
    sa.Column("edited_at", sa.DateTime(timezone=True)),
    # Two supervisors saving at once cannot both make version n + 1.
    sa.UniqueConstraint("category", "version", name="one_sop_version"),
)
