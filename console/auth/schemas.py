"""The JSON shapes of /api/auth: what the login page sends and what it is told."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from console.auth.roles import Credential, Language, Permission, Principal, Role


class LoginIn(BaseModel):
    """A login. The password has no length rule here: a validation error would echo it."""

    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=200)
    password: SecretStr


class LanguageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    language: Language


class PrincipalOut(BaseModel):
    """Who is logged in, and what they may do (the page hides what they may not)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    username: str
    display_name: str
    role: Role
    # The granted sites; with all_sites, every site (an admin with no list).
    sites: list[str]
    all_sites: bool
    language: Language
    permissions: list[Permission]
    credential: Credential

    @classmethod
    def of(cls, principal: Principal) -> PrincipalOut:
        return cls(
            username=principal.username,
            display_name=principal.display_name,
            role=principal.role,
            sites=sorted(principal.sites),
            all_sites=principal.all_sites,
            language=principal.language,
            permissions=sorted(principal.permissions),
            credential=principal.credential,
        )


class SessionOut(BaseModel):
    """The caller, and the CSRF token their page sends with every change (none for an
    API token, which needs none)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    user: PrincipalOut
    csrf_token: str | None
    expires_at: datetime | None = None  # the session's absolute end, on login
