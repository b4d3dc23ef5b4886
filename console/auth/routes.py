"""/api/auth (login, logout, me, language) and the login page at /login."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.responses import FileResponse

from console.auth.csrf import CSRF_COOKIE, CSRF_HEADER, csrf_matches, csrf_token
from console.auth.dependencies import AUTH_ERRORS, BAD_CSRF, SESSION_COOKIE, Gate
from console.auth.roles import Credential, Principal
from console.auth.schemas import LanguageIn, LoginIn, PrincipalOut, SessionOut
from console.auth.service import AuthService, LoginRefused, LoginThrottled
from console.auth.settings import CookieSecurity
from console.schemas import ErrorOut

LOGIN_PAGE = Path(__file__).resolve().parent.parent / "static" / "login.html"
WRONG_LOGIN = "用户名或密码错误 / wrong user name or password"

_PAGE_HEADERS = {
    "Cache-Control": "no-cache",
    # The login page loads only its own script and style, and no other site may frame
    # it (a framed login is how clickjacking steals a click or a password).
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
_LOGIN_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut},
    415: {"model": ErrorOut},
    429: {"model": ErrorOut, "description": "Too many failed logins; see Retry-After."},
}


def build_auth_router(
    auth: AuthService, gate: Gate | None = None, *, published_over_https: bool = False
) -> APIRouter:
    """The accounts routes on ``auth``; pass the app's ``gate`` to share it.
    ``published_over_https``: the console's public address is https, so its cookies are
    Secure even when the request reached it as plain http (a TLS proxy that uvicorn does
    not trust, or that sends no X-Forwarded-Proto)."""
    router = APIRouter(tags=["auth"])

    @router.get("/login", include_in_schema=False)
    def login_page() -> FileResponse:
        return FileResponse(LOGIN_PAGE, headers=_PAGE_HEADERS)

    _add_login_routes(router, auth, published_over_https=published_over_https)
    _add_me_routes(router, auth, gate or Gate(auth))
    return router


def _json_only(request: Request) -> None:
    """Refuse a login that is not JSON, before its body is parsed: a form on another site
    can post text/plain or form data without asking, never JSON; and FastAPI's 422 for a
    body it cannot read would echo that body, password included."""
    kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if kind != "application/json":
        raise HTTPException(415, "登录请求须为 JSON / a login must be sent as JSON")


def _add_login_routes(router: APIRouter, auth: AuthService, *, published_over_https: bool) -> None:
    @router.post("/api/auth/login", responses=_LOGIN_ERRORS, dependencies=[Depends(_json_only)])
    def login(body: LoginIn, request: Request, response: Response) -> SessionOut:
        """Log in with a user name and password: sets the session cookie (HttpOnly) and
        the CSRF cookie, and returns the user and the CSRF token."""
        client = request.client.host if request.client is not None else "unknown"
        try:
            done = auth.login(body.username, body.password, client)
        except LoginThrottled as exc:
            raise HTTPException(
                429,
                f"登录失败次数过多，请 {exc.retry_after_s} 秒后再试 / too many failed logins: "
                f"try again in {exc.retry_after_s} s",
                headers={"Retry-After": str(exc.retry_after_s)},
            ) from exc
        except LoginRefused as exc:
            raise HTTPException(401, WRONG_LOGIN) from exc
        # A fresh token on every login: a session id planted before it (fixation) is gone.
        previous = request.cookies.get(SESSION_COOKIE)
        if previous:
            auth.sessions.end(previous)
        lifetime = int((done.session.expires_at - auth.clock.now()).total_seconds())
        secure = published_over_https or _secure_request(auth, request)
        _set_cookies(response, done.session.token, lifetime, secure=secure)
        return SessionOut(
            user=PrincipalOut.of(done.account.principal()),
            csrf_token=done.session.csrf,
            expires_at=done.session.expires_at,
        )

    @router.post("/api/auth/logout", status_code=204, responses={403: {"model": ErrorOut}})
    def logout(request: Request, response: Response) -> None:
        """End the session and clear the cookies. Without a live session it only clears
        them; with one, it needs the CSRF header like any change."""
        token = request.cookies.get(SESSION_COOKIE)
        account = auth.sessions.resolve(token) if token else None
        if token and account is not None:
            if not csrf_matches(token, request.headers.get(CSRF_HEADER)):
                raise HTTPException(403, BAD_CSRF)
            auth.logout(token, account.username)
        for name in (SESSION_COOKIE, CSRF_COOKIE):
            response.delete_cookie(name, path="/", samesite="strict")


def _add_me_routes(router: APIRouter, auth: AuthService, gate: Gate) -> None:
    # A default, not Annotated: postponed annotations are read in the module's globals.
    caller = Depends(gate.current_principal)

    @router.get("/api/auth/me", responses=AUTH_ERRORS)
    def me(request: Request, who: Principal = caller) -> SessionOut:
        """Who is logged in, with the CSRF token for their page."""
        return _session_out(who, request)

    @router.put("/api/auth/me/language", responses={**AUTH_ERRORS, 400: {"model": ErrorOut}})
    def set_language(body: LanguageIn, request: Request, who: Principal = caller) -> SessionOut:
        """Keep the caller's language (zh-CN or en) with their account."""
        if who.credential is not Credential.SESSION:
            raise HTTPException(400, "API 令牌没有语言设置 / an API token has no language")
        auth.users.set_language(who.username, body.language)
        return _session_out(dataclasses.replace(who, language=body.language), request)


def _secure_request(auth: AuthService, request: Request) -> bool:
    """Whether the settings or the request itself (https as uvicorn sees it) ask for Secure."""
    return auth.settings.cookie_security is CookieSecurity.ALWAYS or request.url.scheme == "https"


def _set_cookies(response: Response, token: str, max_age: int, *, secure: bool) -> None:
    common: dict[str, Any] = {"max_age": max_age, "path": "/", "secure": secure}
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict", **common)
    # Readable by the page's script, which copies it into the X-CSRF-Token header.
    response.set_cookie(CSRF_COOKIE, csrf_token(token), httponly=False, samesite="strict", **common)


def _session_out(who: Principal, request: Request) -> SessionOut:
    token = request.cookies.get(SESSION_COOKIE)
    csrf = csrf_token(token) if token and who.credential is Credential.SESSION else None
    return SessionOut(user=PrincipalOut.of(who), csrf_token=csrf)
