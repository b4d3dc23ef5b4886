"""Server-side login sessions: the browser holds a random token, the database its SHA-256.

A session ends when idle too long or when its absolute lifetime is up, on the injected
clock; logging out, or disabling the account, ends it at once. Being looked up counts
as activity, but the database is written at most once a minute per session: the desk
page asks every two seconds, and the idle limit is an hour, not a second.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from console.auth.csrf import csrf_token
from console.auth.tables import as_utc, sessions, users
from console.auth.token_digest import digest, new_token
from console.auth.users import Account, read_account
from sensors.clock import Clock

# How stale last_seen_at may get before a lookup writes it; a session may thus end up
# to this much before its idle limit, never after.
TOUCH_EVERY = timedelta(minutes=1)
# Room for an address in the table (an IPv6 address with a zone fits).
_CLIENT_LENGTH = 64


@dataclass(frozen=True, slots=True)
class NewSession:
    """A session just made: the token goes into the cookie and nowhere else."""

    token: str = field(repr=False)
    csrf: str = field(repr=False)
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Lifetimes:
    idle: timedelta
    absolute: timedelta


class SessionStore:
    """Login sessions in the state database."""

    def __init__(self, engine: Engine, clock: Clock, lifetimes: Lifetimes) -> None:
        self._engine = engine
        self._clock = clock
        self._lifetimes = lifetimes

    def create(self, user_id: int, client: str) -> NewSession:
        token = new_token()
        now = self._clock.now()
        expires_at = now + self._lifetimes.absolute
        with self._engine.begin() as conn:
            conn.execute(
                sessions.insert().values(
                    token_hash=digest(token),
                    user_id=user_id,
                    created_at=now,
                    last_seen_at=now,
                    expires_at=expires_at,
                    client=client[:_CLIENT_LENGTH],
                )
            )
        return NewSession(token=token, csrf=csrf_token(token), expires_at=expires_at)

    def resolve(self, token: str) -> Account | None:
        """The active account whose live session ``token`` is; ends a session found expired."""
        now = self._clock.now()
        with self._engine.begin() as conn:
            row = conn.execute(
                sa.select(
                    sessions.c.id.label("session_id"),
                    sessions.c.last_seen_at,
                    sessions.c.expires_at,
                    *users.c,
                )
                .join(users, users.c.id == sessions.c.user_id)
                .where(sessions.c.token_hash == digest(token))
            ).first()
            if row is None:
                return None
            last_seen = as_utc(row.last_seen_at)
            if now >= as_utc(row.expires_at) or now - last_seen >= self._lifetimes.idle:
                conn.execute(sessions.delete().where(sessions.c.id == row.session_id))
                return None
            if not row.active:
                return None
            if now - last_seen >= TOUCH_EVERY:
                conn.execute(
                    sessions.update()
                    .where(sessions.c.id == row.session_id)
                    .values(last_seen_at=now)
                )
            return read_account(conn, row)

    def end(self, token: str) -> bool:
        """Log out: True if there was such a session."""
        with self._engine.begin() as conn:
            done = conn.execute(sessions.delete().where(sessions.c.token_hash == digest(token)))
            return done.rowcount > 0

    def end_all(self, user_id: int) -> int:
        """End every session of an account (a disabled account, a changed password)."""
        with self._engine.begin() as conn:
            return conn.execute(sessions.delete().where(sessions.c.user_id == user_id)).rowcount

    def purge_expired(self) -> int:
        """Delete sessions past their absolute or idle end; returns how many."""
        now = self._clock.now()
        with self._engine.begin() as conn:
            done = conn.execute(
                sessions.delete().where(
                    sa.or_(
                        sessions.c.expires_at <= now,
                        sessions.c.last_seen_at <= now - self._lifetimes.idle,
                    )
                )
            )
            return done.rowcount
