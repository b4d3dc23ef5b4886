"""API tokens for machines: named, with a role and sites of their own, stored as a hash,
shown once when made, and revocable.

A token is not a person: it has no password, no language and no session, and it acts as
``token:<name>`` in the audit trail, a name no person's login can take (``:`` is not
allowed in user names).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, Row

from console.auth.roles import Credential, Language, Principal, Role
from console.auth.sessions import TOUCH_EVERY
from console.auth.tables import api_token_sites, api_tokens, as_utc
from console.auth.token_digest import digest, new_token
from console.auth.users import USERNAME, AccountRefused, checked_sites
from sensors.clock import Clock

log = logging.getLogger("lantai.auth")

# Lets secret scanners (and people) recognise a Lantai token in a config file or a paste.
TOKEN_PREFIX = "lantai_"  # noqa: S105 - a label, not a secret
PRINCIPAL_PREFIX = "token:"


@dataclass(frozen=True, slots=True)
class ApiToken:
    """A token as stored (never its secret)."""

    id: int
    name: str
    role: Role
    sites: frozenset[str]
    created_by: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    def principal(self) -> Principal:
        return Principal(
            username=PRINCIPAL_PREFIX + self.name,
            display_name=self.name,
            role=self.role,
            sites=self.sites,
            language=Language.EN,
            credential=Credential.TOKEN,
        )


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A token just made; ``secret`` is shown to its maker once and never again."""

    token: ApiToken
    secret: str = field(repr=False)


class TokenStore:
    """API tokens in the state database."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock

    def create(self, name: str, role: Role, sites: Iterable[str], created_by: str) -> IssuedToken:
        """A new token; raises AccountRefused for a bad name or sites, or a live namesake."""
        if USERNAME.fullmatch(name) is None:
            raise AccountRefused(
                "令牌名称只能包含小写字母、数字和 . _ - / a token name is up to 64 lower-case "
                f"letters, digits and . _ - (not {name!r})"
            )
        granted = checked_sites(role, sites)
        secret = new_token(TOKEN_PREFIX)
        taken = AccountRefused(f"令牌 {name} 已存在 / a live token named {name} exists")
        try:
            with self._engine.begin() as conn:
                if conn.execute(self._live(name)).first() is not None:
                    raise taken
                token_id = conn.execute(
                    api_tokens.insert()
                    .values(
                        name=name,
                        token_hash=digest(secret),
                        role=role.value,
                        created_by=created_by,
                        created_at=self._clock.now(),
                    )
                    .returning(api_tokens.c.id)
                ).scalar_one()
                if granted:
                    conn.execute(
                        api_token_sites.insert(),
                        [{"token_id": token_id, "site": s} for s in granted],
                    )
                row = conn.execute(sa.select(api_tokens).where(api_tokens.c.id == token_id)).one()
                token = _read(conn, row)
        except sa.exc.IntegrityError as exc:  # made by somebody else at the same moment
            raise taken from exc
        log.info("API token made: %s (%s) by %s", name, role.value, created_by)
        return IssuedToken(token, secret)

    def resolve(self, secret: str) -> ApiToken | None:
        """The live token ``secret`` is; notes when it was used (see TOUCH_EVERY)."""
        if not secret.startswith(TOKEN_PREFIX):
            return None
        now = self._clock.now()
        with self._engine.begin() as conn:
            row = conn.execute(
                sa.select(api_tokens).where(
                    api_tokens.c.token_hash == digest(secret), api_tokens.c.revoked_at.is_(None)
                )
            ).first()
            if row is None:
                return None
            token = _read(conn, row)
            if token.last_used_at is None or now - token.last_used_at >= TOUCH_EVERY:
                conn.execute(
                    api_tokens.update().where(api_tokens.c.id == row.id).values(last_used_at=now)
                )
                token = dataclasses.replace(token, last_used_at=now)
            return token

    def revoke(self, name: str) -> bool:
        """Revoke the live token named ``name``: True if there was one."""
        with self._engine.begin() as conn:
            done = conn.execute(
                api_tokens.update()
                .where(api_tokens.c.name == name, api_tokens.c.revoked_at.is_(None))
                .values(revoked_at=self._clock.now())
            )
        if done.rowcount:
            log.info("API token revoked: %s", name)
        return done.rowcount > 0

    # Last in the class: its name shadows the builtin in the annotations below it.
    def list(self, *, include_revoked: bool = False) -> list[ApiToken]:
        query = sa.select(api_tokens).order_by(api_tokens.c.name, api_tokens.c.id)
        if not include_revoked:
            query = query.where(api_tokens.c.revoked_at.is_(None))
        with self._engine.connect() as conn:
            return [_read(conn, row) for row in conn.execute(query).all()]

    @staticmethod
    def _live(name: str) -> sa.Select[tuple[int]]:
        return sa.select(api_tokens.c.id).where(
            api_tokens.c.name == name, api_tokens.c.revoked_at.is_(None)
        )


def _read(conn: Connection, row: Row[tuple[object, ...]]) -> ApiToken:
    sites = conn.execute(
        sa.select(api_token_sites.c.site).where(api_token_sites.c.token_id == row.id)
    )
    return ApiToken(
        id=row.id,
        name=row.name,
        role=Role(row.role),
        sites=frozenset(s.site for s in sites),
        created_by=row.created_by,
        created_at=as_utc(row.created_at),
        last_used_at=None if row.last_used_at is None else as_utc(row.last_used_at),
        revoked_at=None if row.revoked_at is None else as_utc(row.revoked_at),
    )
