"""Accounts, sessions and API tokens in the state database, on SQLite and (when one
answers) PostgreSQL: argon2id hashes and re-hashing, refusals, session lifetimes on the
fake clock, and tokens that are stored hashed and can be revoked.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from pydantic import SecretStr
from sqlalchemy.engine import Engine

from alerts.tables import create_state_engine
from console.auth import (
    AccountRefused,
    AuthContext,
    AuthService,
    AuthSettings,
    Credential,
    Language,
    LoginRefused,
    Role,
)
from console.auth.csrf import csrf_matches, csrf_token
from console.auth.passwords import PasswordRefused
from console.auth.tables import api_tokens, sessions, users
from console.auth.token_digest import digest
from sensors.clock import FakeClock
from tests.test_alerts import pg_schema  # noqa: F401 - a fixture
from tests.test_auth_support import PASSWORD, auth_service, state_url

T0 = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)
ARGON2ID = re.compile(r"\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture(params=["sqlite", "postgresql"])
def state_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """The state database on SQLite, and on PostgreSQL when a test server answers."""
    engine = create_state_engine(state_url(request, tmp_path))
    yield engine
    engine.dispose()


@pytest.fixture
def auth(state_engine: Engine, clock: FakeClock) -> AuthService:
    return auth_service(state_engine, clock)


def secret(text: str = PASSWORD) -> SecretStr:
    return SecretStr(text)


def stored_hash(engine: Engine, username: str) -> str:
    with engine.connect() as conn:
        value: str = conn.execute(
            sa.select(users.c.password_hash).where(users.c.username == username)
        ).scalar_one()
        return value


# --- accounts -------------------------------------------------------------------------------


def test_an_account_is_stored_with_its_sites_and_an_argon2id_hash(
    auth: AuthService, state_engine: Engine
) -> None:
    account = auth.users.add(
        "Zhao.Min",  # kept in lower case
        secret(),
        Role.OPERATOR,
        ["yunxi", "qingshan"],
        display_name="赵敏",
        language=Language.EN,
    )
    assert account.username == "zhao.min"
    assert account.display_name == "赵敏"
    assert account.sites == {"yunxi", "qingshan"}
    assert account.created_at == account.password_changed_at == T0
    assert auth.users.get("ZHAO.MIN ") == account
    principal = account.principal()
    assert (principal.username, principal.role, principal.language) == (
        "zhao.min",
        Role.OPERATOR,
        Language.EN,
    )
    stored = stored_hash(state_engine, "zhao.min")
    assert PASSWORD not in stored
    assert ARGON2ID.fullmatch(stored), stored


def test_the_default_hasher_is_argon2id_at_rfc_9106_low_memory_cost(
    state_engine: Engine, clock: FakeClock
) -> None:
    auth = AuthService(AuthContext(engine=state_engine, clock=clock))  # the real cost
    auth.start()
    auth.users.add("qian", secret(), Role.VIEWER, ["yunxi"])
    match = ARGON2ID.fullmatch(stored_hash(state_engine, "qian"))
    assert match is not None
    assert match.groups() == ("65536", "3", "4")


@pytest.mark.parametrize(
    ("username", "role", "sites", "password", "why"),
    [
        ("zhao min", Role.OPERATOR, ["yunxi"], PASSWORD, "a user name is up to 64"),
        ("token:x", Role.OPERATOR, ["yunxi"], PASSWORD, "a user name is up to 64"),
        ("zhao", Role.OPERATOR, [], PASSWORD, "role operator needs at least one site"),
        ("zhao", Role.GUARD, ["yun xi"], PASSWORD, "not a site id: 'yun xi'"),
        ("zhao", Role.OPERATOR, ["yunxi"], "short one", "at least 12 characters"),
        ("zhao", Role.OPERATOR, ["yunxi"], "x" * 257, "at most 256 characters"),
        ("zhaominzhaomin", Role.OPERATOR, ["yunxi"], "ZhaoMinZhaoMin", "must not be the user"),
    ],
)
def test_refused_accounts_say_why(
    auth: AuthService,
    username: str,
    role: Role,
    sites: list[str],
    password: str,
    why: str,
) -> None:
    with pytest.raises((AccountRefused, PasswordRefused)) as refused:
        auth.users.add(username, secret(password), role, sites)
    assert why in str(refused.value)
    assert " / " in str(refused.value)  # Chinese first, then English
    assert auth.users.list() == []


def test_a_name_is_taken_once(auth: AuthService) -> None:
    auth.users.add("zhao", secret(), Role.OPERATOR, ["yunxi"])
    with pytest.raises(AccountRefused, match="user zhao exists already"):
        auth.users.add("ZHAO", secret(), Role.ADMIN)
    assert [a.role for a in auth.users.list()] == [Role.OPERATOR]


def test_an_admin_may_have_no_sites_meaning_all(auth: AuthService) -> None:
    admin = auth.users.add("root", secret(), Role.ADMIN)
    assert admin.sites == frozenset()
    assert admin.principal().all_sites


# --- login and re-hashing -------------------------------------------------------------------


def test_login_checks_the_password_and_makes_a_session(auth: AuthService) -> None:
    auth.users.add("zhao", secret(), Role.OPERATOR, ["yunxi"])
    done = auth.login(" Zhao", secret(), "10.0.0.7")
    assert done.account.username == "zhao"
    assert done.session.expires_at == T0 + timedelta(hours=13)
    assert csrf_matches(done.session.token, done.session.csrf)
    assert done.session.token not in repr(done)  # the token never reaches a repr
    resolved = auth.sessions.resolve(done.session.token)
    assert resolved is not None
    assert resolved.username == "zhao"
    with pytest.raises(LoginRefused):
        auth.login("zhao", secret(PASSWORD + "!"), "10.0.0.7")
    with pytest.raises(LoginRefused):
        auth.login("nobody", secret(), "10.0.0.7")


def test_only_the_tokens_digest_is_stored(auth: AuthService, state_engine: Engine) -> None:
    auth.users.add("zhao", secret(), Role.OPERATOR, ["yunxi"])
    token = auth.login("zhao", secret(), "10.0.0.7").session.token
    assert len(token) >= 43  # 32 random bytes, base64
    with state_engine.connect() as conn:
        rows = conn.execute(sa.select(sessions)).all()
    assert len(rows) == 1
    assert token not in {str(v) for v in rows[0]}
    assert rows[0].token_hash == digest(token)
    assert rows[0].client == "10.0.0.7"


def test_a_disabled_account_cannot_log_in_and_its_sessions_stop(auth: AuthService) -> None:
    auth.users.add("zhao", secret(), Role.OPERATOR, ["yunxi"])
    token = auth.login("zhao", secret(), "10.0.0.7").session.token
    auth.users.set_active("zhao", False)
    assert auth.sessions.resolve(token) is None
    with pytest.raises(LoginRefused):
        auth.login("zhao", secret(), "10.0.0.7")
    auth.users.set_active("zhao", True)
    assert auth.sessions.resolve(token) is not None


def test_a_hash_made_with_old_parameters_is_replaced_at_login(
    auth: AuthService, state_engine: Engine, clock: FakeClock
) -> None:
    # The account was made when the settings asked for t=1, m=8 MiB...
    old = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
    before = AuthService(AuthContext(engine=state_engine, clock=clock, hasher=old))
    before.users.add("zhao", secret(), Role.OPERATOR, ["yunxi"])
    first = stored_hash(state_engine, "zhao")
    assert "m=8192,t=1,p=1" in first
    # ...and the service now runs with t=2, m=16 MiB: the next login re-hashes.
    now = PasswordHasher(time_cost=2, memory_cost=16384, parallelism=1)
    after = AuthService(AuthContext(engine=state_engine, clock=clock, hasher=now))
    after.login("zhao", secret(), "10.0.0.7")
    second = stored_hash(state_engine, "zhao")
    assert "m=16384,t=2,p=1" in second
    assert second != first
    # The new hash is of the same password, and a second login leaves it alone.
    after.login("zhao", secret(), "10.0.0.7")
    assert stored_hash(state_engine, "zhao") == second
    with pytest.raises(LoginRefused):
        after.login("zhao", secret("wrong password here"), "10.0.0.7")
    # The old parameters still verify it: a rollback of the settings locks nobody out.
    before.login("zhao", secret(), "10.0.0.7")


def test_a_wrong_password_does_not_rehash(
    auth: AuthService, state_engine: Engine, clock: FakeClock
) -> None:
    old = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
    AuthService(AuthContext(engine=state_engine, clock=clock, hasher=old)).users.add(
        "zhao", secret(), Role.OPERATOR, ["yunxi"]
    )
    first = stored_hash(state_engine, "zhao")
    with pytest.raises(LoginRefused):
        auth.login("zhao", secret("not the password"), "10.0.0.7")
    assert stored_hash(state_engine, "zhao") == first


def test_set_password_and_language(auth: AuthService) -> None:
    auth.users.add("zhao", secret(), Role.OPERATOR, ["yunxi"])
    auth.users.set_password("zhao", secret("a new long password"))
    with pytest.raises(LoginRefused):
        auth.login("zhao", secret(), "10.0.0.7")
    assert auth.login("zhao", secret("a new long password"), "10.0.0.7").account.username
    auth.users.set_language("zhao", Language.EN)
    account = auth.users.get("zhao")
    assert account is not None
    assert account.language is Language.EN
    with pytest.raises(AccountRefused, match="no user nobody"):
        auth.users.set_language("nobody", Language.EN)


# --- session lifetimes ----------------------------------------------------------------------


def test_a_session_ends_after_the_idle_limit(auth: AuthService, clock: FakeClock) -> None:
    auth.users.add("zhao", secret(), Role.OPERATOR, ["yunxi"])
    token = auth.login("zhao", secret(), "10.0.0.7").session.token
    # Logged in at 00:00; a request every 50 minutes keeps the session alive...
    for _ in range(5):
        clock.advance(timedelta(minutes=50))
        assert auth.sessions.resolve(token) is not None
    # ...and 60 minutes without one ends it, for good.
    clock.advance(timedelta(minutes=60))
    assert auth.sessions.resolve(token) is None
    clock.set(T0)  # even if the clock went back
    assert auth.sessions.resolve(token) is None


def test_a_session_ends_at_its_absolute_end_however_busy(
    auth: AuthService, clock: FakeClock
) -> None:
    auth.users.add("zhao", secret(), Role.OPERATOR, ["yunxi"])
    token = auth.login("zhao", secret(), "10.0.0.7").session.token
    while clock.now() < T0 + timedelta(hours=13) - timedelta(minutes=2):
        assert auth.sessions.resolve(token) is not None
        clock.advance(timedelta(minutes=30))
    clock.set(T0 + timedelta(hours=13) - timedelta(seconds=1))
    assert auth.sessions.resolve(token) is not None
    clock.advance(1)
    assert auth.sessions.resolve(token) is None


def test_lifetimes_come_from_the_settings(state_engine: Engine, clock: FakeClock) -> None:
    auth = auth_service(state_engine, clock, AuthSettings(idle_minutes=5, absolute_hours=1))
    auth.users.add("zhao", secret(), Role.OPERATOR, ["yunxi"])
    done = auth.login("zhao", secret(), "10.0.0.7")
    assert done.session.expires_at == T0 + timedelta(hours=1)
    clock.advance(timedelta(minutes=4, seconds=59))
    assert auth.sessions.resolve(done.session.token) is not None
    clock.advance(timedelta(minutes=5))
    assert auth.sessions.resolve(done.session.token) is None


def test_lookups_write_last_seen_at_most_once_a_minute(
    auth: AuthService, state_engine: Engine, clock: FakeClock
) -> None:
    auth.users.add("zhao", secret(), Role.OPERATOR, ["yunxi"])
    token = auth.login("zhao", secret(), "10.0.0.7").session.token

    def last_seen() -> datetime:
        with state_engine.connect() as conn:
            value: datetime = conn.execute(sa.select(sessions.c.last_seen_at)).scalar_one()
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    clock.advance(30)
    assert auth.sessions.resolve(token) is not None
    assert last_seen() == T0
    clock.advance(31)
    assert auth.sessions.resolve(token) is not None
    assert last_seen() == T0 + timedelta(seconds=61)


def test_logout_and_purge(auth: AuthService, state_engine: Engine, clock: FakeClock) -> None:
    auth.users.add("zhao", secret(), Role.OPERATOR, ["yunxi"])
    first = auth.login("zhao", secret(), "10.0.0.7").session.token
    second = auth.login("zhao", secret(), "10.0.0.8").session.token
    auth.logout(first, "zhao")
    assert auth.sessions.resolve(first) is None
    assert auth.sessions.resolve(second) is not None
    clock.advance(timedelta(hours=2))  # idle: second has expired, but is still a row
    assert auth.sessions.purge_expired() == 1
    with state_engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(sessions)).scalar_one() == 0


def test_csrf_token_is_bound_to_its_session() -> None:
    assert csrf_token("a") == csrf_token("a")
    assert csrf_token("a") != csrf_token("b")
    assert csrf_matches("a", csrf_token("a"))
    assert not csrf_matches("a", csrf_token("b"))
    assert not csrf_matches("a", None)
    assert not csrf_matches("a", "")


# --- API tokens -----------------------------------------------------------------------------


def test_an_api_token_is_shown_once_stored_hashed_and_revocable(
    auth: AuthService, state_engine: Engine, clock: FakeClock
) -> None:
    issued = auth.tokens.create("bms-bridge", Role.OPERATOR, ["yunxi"], created_by="root")
    assert issued.secret.startswith("lantai_")
    assert issued.secret not in repr(issued)
    with state_engine.connect() as conn:
        row = conn.execute(sa.select(api_tokens)).one()
    assert issued.secret not in {str(v) for v in row}
    assert row.token_hash == digest(issued.secret)

    found = auth.tokens.resolve(issued.secret)
    assert found is not None
    principal = found.principal()
    assert principal.username == "token:bms-bridge"
    assert principal.credential is Credential.TOKEN
    assert (principal.role, principal.sites) == (Role.OPERATOR, frozenset({"yunxi"}))
    assert found.last_used_at == T0
    assert auth.tokens.resolve(issued.secret + "x") is None
    assert auth.tokens.resolve("not-even-prefixed") is None

    clock.advance(10)
    assert auth.tokens.revoke("bms-bridge")
    assert not auth.tokens.revoke("bms-bridge")  # already
    assert auth.tokens.resolve(issued.secret) is None
    assert auth.tokens.list() == []
    [revoked] = auth.tokens.list(include_revoked=True)
    assert revoked.revoked_at == T0 + timedelta(seconds=10)


def test_one_live_token_per_name(auth: AuthService) -> None:
    first = auth.tokens.create("bms", Role.VIEWER, ["yunxi"], created_by="root")
    with pytest.raises(AccountRefused, match="a live token named bms exists"):
        auth.tokens.create("bms", Role.VIEWER, ["yunxi"], created_by="root")
    auth.tokens.revoke("bms")
    second = auth.tokens.create("bms", Role.VIEWER, ["yunxi"], created_by="root")
    assert auth.tokens.resolve(first.secret) is None
    assert auth.tokens.resolve(second.secret) is not None
    with pytest.raises(AccountRefused, match="role viewer needs at least one site"):
        auth.tokens.create("other", Role.VIEWER, [], created_by="root")
    with pytest.raises(AccountRefused, match="a token name is up to 64"):
        auth.tokens.create("Has Space", Role.VIEWER, ["yunxi"], created_by="root")
