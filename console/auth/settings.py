"""The accounts section of the settings file (``auth:``), validated once at the edge.

Every field has a safe default, so a settings file without ``auth:`` runs as is; the
figures are there to tune a small machine's argon2 cost or a site's shift length.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

from argon2 import PasswordHasher, Type
from pydantic import BaseModel, ConfigDict, Field


class CookieSecurity(StrEnum):
    """When the session cookies carry the ``Secure`` flag."""

    # Secure when the request came over https, as uvicorn sees it (it honours
    # X-Forwarded-Proto from the proxies it trusts), or when console.public_url is https:
    # the demo on http://127.0.0.1 works, and a console behind TLS gets Secure cookies
    # without a setting.
    AUTO = "auto"
    # Always Secure: for a proxy that terminates TLS but does not say so.
    ALWAYS = "always"


class Argon2Settings(BaseModel):
    """argon2id cost. Changing it re-hashes each account at its next login."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # RFC 9106 §4, second recommended option (64 MiB, 3 passes, 4 lanes): ~0.1 s on a
    # desk PC; halve memory_kib on a single-board computer rather than the passes.
    time_cost: int = Field(default=3, ge=1, le=20)
    memory_kib: int = Field(default=65_536, ge=8_192, le=1_048_576)
    parallelism: int = Field(default=4, ge=1, le=16)

    def hasher(self) -> PasswordHasher:
        return PasswordHasher(
            time_cost=self.time_cost,
            memory_cost=self.memory_kib,
            parallelism=self.parallelism,
            type=Type.ID,
        )


class AuthSettings(BaseModel):
    """Sessions, login throttling and password hashing."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cookie_security: CookieSecurity = CookieSecurity.AUTO
    # A session ends after this long without a request. The desk page polls every few
    # seconds, so this catches a closed browser, not a quiet night at the desk.
    idle_minutes: int = Field(default=60, ge=5, le=24 * 60)
    # ...and this long after login whatever happens: a 12 h shift plus its handover, so
    # each shift logs in as itself.
    absolute_hours: int = Field(default=13, ge=1, le=24 * 7)
    # Failed logins allowed per user name, and per client address, within the window.
    # An address gets more: a desk's PCs may share one behind NAT.
    failures_per_user: int = Field(default=5, ge=1, le=100)
    failures_per_address: int = Field(default=20, ge=1, le=1000)
    failure_window_minutes: int = Field(default=15, ge=1, le=24 * 60)
    argon2: Argon2Settings = Argon2Settings()

    @property
    def idle(self) -> timedelta:
        return timedelta(minutes=self.idle_minutes)

    @property
    def absolute(self) -> timedelta:
        return timedelta(hours=self.absolute_hours)

    @property
    def failure_window(self) -> timedelta:
        return timedelta(minutes=self.failure_window_minutes)
