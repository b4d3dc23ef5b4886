"""The accounts service: what the login, the session cookie and a Bearer token turn into.

``AuthContext`` says what it runs on (the state engine, the clock, the settings);
``AuthService`` owns the stores and the login throttle built from it. Nothing here knows
HTTP: ``console.auth.dependencies`` and ``console.auth.routes`` map it onto FastAPI.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from argon2 import PasswordHasher
from pydantic import SecretStr
from sqlalchemy.engine import Engine

from console.auth.api_tokens import TokenStore
from console.auth.passwords import MAX_PASSWORD_LENGTH, Passwords
from console.auth.ratelimit import Limit, LoginLimiter
from console.auth.sessions import Lifetimes, NewSession, SessionStore
from console.auth.settings import AuthSettings
from console.auth.tables import metadata
from console.auth.users import Account, UserStore, normalize_username, valid_username
from sensors.clock import Clock

log = logging.getLogger("lantai.auth")


@dataclass(frozen=True)
class AuthContext:
    """What accounts run on; built by the service (or a test) and handed to AuthService."""

    engine: Engine  # the state database: alerts.tables.create_state_engine(url)
    clock: Clock
    settings: AuthSettings = field(default_factory=AuthSettings)
    # Replaces the hasher the settings describe (tests use a cheap one for speed).
    hasher: PasswordHasher | None = None


class LoginRefused(Exception):  # noqa: N818 - reads as "the login was refused"
    """Wrong user name or password, or a disabled account: the caller is told only that."""


class LoginThrottled(Exception):  # noqa: N818 - reads as "the login was throttled"
    """Too many failures for this name or address; try again in ``retry_after_s``."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"too many failed logins; retry after {retry_after_s} s")
        self.retry_after_s = retry_after_s


@dataclass(frozen=True, slots=True)
class LoggedIn:
    account: Account
    session: NewSession


class AuthService:
    """People's accounts, their sessions, machines' API tokens, and the login itself."""

    def __init__(self, ctx: AuthContext) -> None:
        settings = ctx.settings
        self.settings = settings
        self.clock = ctx.clock
        self.engine = ctx.engine
        self.passwords = Passwords(ctx.hasher or settings.argon2.hasher())
        self.users = UserStore(ctx.engine, ctx.clock, self.passwords)
        self.sessions = SessionStore(
            ctx.engine, ctx.clock, Lifetimes(idle=settings.idle, absolute=settings.absolute)
        )
        self.tokens = TokenStore(ctx.engine, ctx.clock)
        self.limiter = LoginLimiter(
            ctx.clock,
            per_user=Limit(settings.failures_per_user, settings.failure_window),
            per_address=Limit(settings.failures_per_address, settings.failure_window),
        )

    def start(self) -> None:
        """Create the tables (idempotent)."""
        metadata.create_all(self.engine)

    def login(self, username: str, password: SecretStr, client: str) -> LoggedIn:
        """A new session for the right password; raises LoginThrottled or LoginRefused.

        Every refused login costs one argon2 check, whether the name exists or not, so
        neither the answer nor its speed says which names are accounts.
        """
        name = normalize_username(username)
        # What the log may say: a password typed into the name field rarely looks like a name.
        shown = name if valid_username(name) else "(not a user name)"
        throttled = self.limiter.check(name, client)
        if throttled is not None:
            log.warning("login throttled: %s from %s", shown, client)
            raise LoginThrottled(throttled.retry_after_s)
        account = self._check_password(name, password)
        if account is None:
            self.limiter.failed(name, client)
            log.warning("login refused: %s from %s", shown, client)
            raise LoginRefused
        self.limiter.succeeded(name)
        self.sessions.purge_expired()
        session = self.sessions.create(account.id, client)
        log.info("login: %s (%s) from %s", name, account.role.value, client)
        return LoggedIn(account, session)

    def _check_password(self, name: str, password: SecretStr) -> Account | None:
        if len(password.get_secret_value()) > MAX_PASSWORD_LENGTH:
            return None  # no account has one this long; do not spend argon2 on it
        found = self.users.credentials(name) if valid_username(name) else None
        if found is None:
            self.passwords.waste_time(password)
            return None
        account, stored = found
        checked = self.passwords.check(stored, password)
        if not checked.ok or not account.active:
            return None
        if checked.rehashed is not None:
            self.users.replace_hash(account.id, stored, checked.rehashed)
            log.info("password re-hashed with the current parameters: %s", name)
        return account

    def logout(self, session_token: str, username: str) -> None:
        if self.sessions.end(session_token):
            log.info("logout: %s", username)
