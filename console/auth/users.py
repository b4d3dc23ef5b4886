"""The accounts of people: name, role, granted sites, language and password hash.

There is no default account and no default password: the first admin is made on the
command line (``lantai user add``), by somebody who can already read the state database.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from pydantic import SecretStr
from sqlalchemy.engine import Connection, Engine, Row

from console.auth.passwords import Passwords, refuse_weak_password
from console.auth.roles import Credential, Language, Principal, Role
from console.auth.tables import DISPLAY_NAME_LENGTH, as_utc, user_sites, users
from sensors.clock import Clock

log = logging.getLogger("lantai.auth")

# Login names: short, lower case, safe in a URL, a log line and the audit trail's `by`.
# The display name is where Chinese names go.
USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
SITE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class AccountRefused(ValueError):  # noqa: N818 - reads as "the change was refused"
    """An account change was refused; the message says why, in zh and en."""


def normalize_username(raw: str) -> str:
    """The form a login name is kept and compared in: trimmed, lower case."""
    return raw.strip().lower()


def valid_username(name: str) -> bool:
    return USERNAME.fullmatch(name) is not None


def checked_sites(role: Role, sites: Iterable[str]) -> frozenset[str]:
    """The sites to grant, refused when malformed or (not for an admin) empty."""
    granted = frozenset(sites)
    for site in sorted(granted):
        if SITE_ID.fullmatch(site) is None:
            raise AccountRefused(f"站点标识无效 / not a site id: {site!r}")
    if not granted and role is not Role.ADMIN:
        # Empty means "every site" for an admin only; for anyone else it would be a
        # working login that shows nothing, which looks like a broken console.
        raise AccountRefused(
            f"{role.value} 角色至少需要一个站点 / role {role.value} needs at least one site"
        )
    return granted


@dataclass(frozen=True, slots=True)
class Account:
    """A person's account as stored (without its password hash)."""

    id: int
    username: str
    display_name: str
    role: Role
    sites: frozenset[str]
    language: Language
    active: bool
    created_at: datetime
    password_changed_at: datetime

    def principal(self) -> Principal:
        return Principal(
            username=self.username,
            display_name=self.display_name,
            role=self.role,
            sites=self.sites,
            language=self.language,
            credential=Credential.SESSION,
        )


def read_account(conn: Connection, row: Row[tuple[object, ...]]) -> Account:
    """An Account from a ``users`` row (any select with its columns) and its site grants."""
    sites = conn.execute(sa.select(user_sites.c.site).where(user_sites.c.user_id == row.id))
    return Account(
        id=row.id,
        username=row.username,
        display_name=row.display_name,
        role=Role(row.role),
        sites=frozenset(s.site for s in sites),
        language=Language(row.language),
        active=row.active,
        created_at=as_utc(row.created_at),
        password_changed_at=as_utc(row.password_changed_at),
    )


class UserStore:
    """People's accounts in the state database."""

    def __init__(self, engine: Engine, clock: Clock, passwords: Passwords) -> None:
        self._engine = engine
        self._clock = clock
        self._passwords = passwords

    def add(
        self,
        username: str,
        password: SecretStr,
        role: Role,
        sites: Iterable[str] = (),
        *,
        display_name: str | None = None,
        language: Language = Language.ZH_CN,
    ) -> Account:
        """Create an account; raises AccountRefused (name, sites, password, or taken)."""
        name = normalize_username(username)
        if not valid_username(name):
            raise AccountRefused(
                "用户名只能包含小写字母、数字和 . _ -，最长 64 个字符 / a user name is up to "
                f"64 lower-case letters, digits and . _ - (not {username!r})"
            )
        granted = checked_sites(role, sites)
        shown = (display_name or name).strip()
        if not shown or len(shown) > DISPLAY_NAME_LENGTH:
            raise AccountRefused("显示名称长度无效 / the display name is empty or too long")
        refuse_weak_password(password, name)
        hashed = self._passwords.hash(password)
        now = self._clock.now()
        taken = AccountRefused(f"用户 {name} 已存在 / user {name} exists already")
        try:
            with self._engine.begin() as conn:
                if conn.execute(sa.select(users.c.id).where(users.c.username == name)).first():
                    raise taken
                user_id = conn.execute(
                    users.insert()
                    .values(
                        username=name,
                        display_name=shown,
                        role=role.value,
                        language=language.value,
                        password_hash=hashed,
                        active=True,
                        created_at=now,
                        password_changed_at=now,
                    )
                    .returning(users.c.id)
                ).scalar_one()
                if granted:
                    conn.execute(
                        user_sites.insert(), [{"user_id": user_id, "site": s} for s in granted]
                    )
                account = self._read(conn, users.c.id == user_id)
        except sa.exc.IntegrityError as exc:  # added by somebody else at the same moment
            raise taken from exc
        assert account is not None  # noqa: S101 - inserted in this transaction
        log.info("account added: %s (%s)", name, role.value)
        return account

    def get(self, username: str) -> Account | None:
        with self._engine.connect() as conn:
            return self._read(conn, users.c.username == normalize_username(username))

    def credentials(self, username: str) -> tuple[Account, str] | None:
        """The account and its password hash, for a login."""
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(users).where(users.c.username == username)).first()
            return None if row is None else (read_account(conn, row), row.password_hash)

    def replace_hash(self, user_id: int, old: str, new: str) -> None:
        """Store a re-hash of the same password, unless the password changed meanwhile."""
        with self._engine.begin() as conn:
            conn.execute(
                users.update()
                .where(users.c.id == user_id, users.c.password_hash == old)
                .values(password_hash=new)
            )

    def set_password(self, username: str, password: SecretStr) -> None:
        name = normalize_username(username)
        refuse_weak_password(password, name)
        hashed = self._passwords.hash(password)
        self._update(name, password_hash=hashed, password_changed_at=self._clock.now())
        log.info("password changed: %s", name)

    def set_language(self, username: str, language: Language) -> None:
        self._update(normalize_username(username), language=language.value)

    def set_active(self, username: str, active: bool) -> None:
        """Disable or enable an account; a disabled one's sessions stop working at once."""
        self._update(normalize_username(username), active=active)
        log.info("account %s: %s", "enabled" if active else "disabled", username)

    # Last in the class: its name shadows the builtin in the annotations below it.
    def list(self) -> list[Account]:
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(users).order_by(users.c.username)).all()
            return [read_account(conn, row) for row in rows]

    def _update(self, name: str, **values: object) -> None:
        with self._engine.begin() as conn:
            done = conn.execute(users.update().where(users.c.username == name).values(**values))
            if done.rowcount != 1:
                raise AccountRefused(f"没有用户 {name} / no user {name}")

    @staticmethod
    def _read(conn: Connection, where: sa.ColumnElement[bool]) -> Account | None:
        row = conn.execute(sa.select(users).where(where)).first()
        return None if row is None else read_account(conn, row)
