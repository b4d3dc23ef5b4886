"""Shared parts of the accounts tests (no tests here): a cheap argon2 for speed, accounts
on a real state database, and a real HTTP server with the auth routes and a few
protected routes wired the way the console will wire them.

    with auth_server(tmp_path, clock) as server:
        server.add("zhao", Role.OPERATOR, ["yunxi"])
        client = server.login("zhao")          # an httpx client holding the cookies
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from argon2 import PasswordHasher
from argon2.profiles import CHEAPEST
from fastapi import Depends, FastAPI, Request
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from pydantic import SecretStr
from sqlalchemy.engine import Engine

from alerts.tables import create_state_engine
from console.auth import (
    CSRF_COOKIE,
    CSRF_HEADER,
    AuthContext,
    AuthService,
    AuthSettings,
    Gate,
    Permission,
    Principal,
    Role,
    build_auth_router,
    login_redirect,
    require_site,
)
from sensors.clock import FakeClock
from tests.console_server import serve
from tests.postgres_server import postgres_url

STATIC_DIR = Path(__file__).resolve().parent.parent / "console" / "static"
# Long enough for the rules; every test account has it unless a test says otherwise.
PASSWORD = "correct horse battery staple"  # noqa: S105 - a test account's


def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A state database URL for a test parametrised "sqlite" / "postgresql"; the latter
    takes a fresh schema (the ``pg_schema`` fixture), or skips when no server answers."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    return postgres_url(request.getfixturevalue("pg_schema"))


def cheap_hasher() -> PasswordHasher:
    """argon2id at its lowest cost: the tests hash hundreds of times."""
    return PasswordHasher.from_parameters(CHEAPEST)


def auth_service(
    engine: Engine, clock: FakeClock, settings: AuthSettings | None = None
) -> AuthService:
    auth = AuthService(
        AuthContext(
            engine=engine, clock=clock, settings=settings or AuthSettings(), hasher=cheap_hasher()
        )
    )
    auth.start()
    return auth


def probe_app(auth: AuthService) -> FastAPI:
    """The auth routes, plus protected routes as the lead will wire the console's own."""
    app = FastAPI()
    gate = Gate(auth)
    app.include_router(build_auth_router(auth, gate))
    reader = Depends(gate.require(Permission.READ))
    acker = Depends(gate.require(Permission.ACK))

    @app.get("/api/probe/rooms/{site}")
    def rooms(site: str, who: Principal = reader) -> dict[str, str]:
        require_site(who, site)
        return {"site": site, "by": who.username}

    @app.post("/api/probe/ack")
    def ack(who: Principal = acker) -> dict[str, str]:
        return {"by": who.username, "credential": who.credential.value}

    @app.put("/api/probe/ack")
    def ack_again(who: Principal = acker) -> dict[str, str]:
        return {"by": who.username}

    @app.delete("/api/probe/ack")
    def unack(who: Principal = acker) -> dict[str, str]:
        return {"by": who.username}

    @app.get("/probe-page", response_model=None)
    def page(request: Request) -> RedirectResponse | dict[str, str]:
        who = gate.signed_in(request)
        if who is None:
            return login_redirect(request)
        return {"page for": who.username}

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


@dataclass
class AuthServer:
    """A running console with accounts: the service behind it, and ways to log in."""

    auth: AuthService
    clock: FakeClock
    url: str

    def add(
        self,
        username: str,
        role: Role,
        sites: Sequence[str] = ("yunxi",),
        password: str = PASSWORD,
    ) -> None:
        self.auth.users.add(username, SecretStr(password), role, sites)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10)

    def login(self, username: str, password: str = PASSWORD) -> httpx.Client:
        """A client logged in as ``username`` (its cookie jar holds the session)."""
        client = self.client()
        response = client.post("/api/auth/login", json={"username": username, "password": password})
        assert response.status_code == 200, response.text
        return client


def csrf_headers(client: httpx.Client) -> dict[str, str]:
    """The header a page sends with a change: the CSRF cookie's value, as app.js would."""
    value = client.cookies.get(CSRF_COOKIE)
    assert value, "no CSRF cookie: not logged in?"
    return {CSRF_HEADER: value}


@contextmanager
def auth_server(
    tmp_path: Path,
    clock: FakeClock,
    settings: AuthSettings | None = None,
    *,
    url: str | None = None,
) -> Iterator[AuthServer]:
    """Accounts on a state database (SQLite in ``tmp_path`` unless ``url``), served."""
    engine = create_state_engine(url or f"sqlite:///{tmp_path / 'state.db'}")
    try:
        auth = auth_service(engine, clock, settings)
        with serve(probe_app(auth)) as base:
            yield AuthServer(auth, clock, base)
    finally:
        engine.dispose()
