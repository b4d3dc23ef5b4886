"""Accounts, sessions and API tokens in the state database (SQLAlchemy Core, SQLite and
PostgreSQL), with their own MetaData: the alarm tables neither know nor need them.

No secret is stored: passwords as argon2id hashes, session and API tokens as SHA-256 of
their 32 random bytes (a fast hash is enough for a random token; it is never guessed).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

metadata = sa.MetaData()

DISPLAY_NAME_LENGTH = 100


def _when(name: str, *, nullable: bool = True) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("display_name", sa.String(DISPLAY_NAME_LENGTH), nullable=False),
    sa.Column("role", sa.String(20), nullable=False),  # see roles.Role
    sa.Column("language", sa.String(10), nullable=False),  # see roles.Language
    sa.Column("password_hash", sa.String(200), nullable=False),
    # A disabled account keeps its name in the audit trail but cannot log in.
    sa.Column("active", sa.Boolean, nullable=False, default=True),
    _when("created_at", nullable=False),
    _when("password_changed_at", nullable=False),
)

user_sites = sa.Table(
    "user_sites",
    metadata,
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("site", sa.String(64), primary_key=True),
)

# Not "sessions": a name other parts of a shared state database may well want.
sessions = sa.Table(
    "login_sessions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    _when("created_at", nullable=False),
    _when("last_seen_at", nullable=False),
    _when("expires_at", nullable=False),  # the absolute end; idle is from last_seen_at
    sa.Column("client", sa.String(64), nullable=False),  # the address it logged in from
    sa.Index("login_sessions_by_user", "user_id"),
    sa.Index("login_sessions_by_expiry", "expires_at"),
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("created_by", sa.String(100), nullable=False),
    _when("created_at", nullable=False),
    _when("last_used_at"),
    _when("revoked_at"),
    # One live token per name; a revoked one keeps its name for the record.
    sa.Index(
        "one_live_token_per_name",
        "name",
        unique=True,
        sqlite_where=sa.text("revoked_at IS NULL"),
        postgresql_where=sa.text("revoked_at IS NULL"),
    ),
)

api_token_sites = sa.Table(
    "api_token_sites",
    metadata,
    sa.Column(
        "token_id",
        sa.Integer,
        sa.ForeignKey("api_tokens.id"),
        primary_key=True,
    ),
    sa.Column("site", sa.String(64), primary_key=True),
)


def as_utc(value: datetime) -> datetime:
    """A time read back from the database, in UTC: SQLite returns it without a zone."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
