"""Accounts, roles and login for the console: argon2id passwords, server-side sessions in
HttpOnly SameSite=Strict cookies, CSRF on every change, login throttling, API tokens for
machines, and the FastAPI dependencies that check them (issue 6, "Accounts and roles").
"""

from __future__ import annotations

from console.auth.api_tokens import ApiToken, IssuedToken, TokenStore
from console.auth.csrf import CSRF_COOKIE, CSRF_HEADER
from console.auth.dependencies import (
    AUTH_ERRORS,
    SESSION_COOKIE,
    Gate,
    login_redirect,
    require_site,
)
from console.auth.roles import (
    ROLE_PERMISSIONS,
    SHORT_SHELVE,
    Credential,
    Language,
    Permission,
    Principal,
    Role,
    shelve_permission,
)
from console.auth.routes import build_auth_router
from console.auth.service import AuthContext, AuthService, LoginRefused, LoginThrottled
from console.auth.settings import Argon2Settings, AuthSettings, CookieSecurity
from console.auth.users import Account, AccountRefused, UserStore

__all__ = [
    "AUTH_ERRORS",
    "CSRF_COOKIE",
    "CSRF_HEADER",
    "ROLE_PERMISSIONS",
    "SESSION_COOKIE",
    "SHORT_SHELVE",
    "Account",
    "AccountRefused",
    "ApiToken",
    "Argon2Settings",
    "AuthContext",
    "AuthService",
    "AuthSettings",
    "CookieSecurity",
    "Credential",
    "Gate",
    "IssuedToken",
    "Language",
    "LoginRefused",
    "LoginThrottled",
    "Permission",
    "Principal",
    "Role",
    "TokenStore",
    "UserStore",
    "build_auth_router",
    "login_redirect",
    "require_site",
    "shelve_permission",
]
