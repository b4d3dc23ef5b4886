"""FastAPI dependencies: who is asking (401), may they (403), and may they see this site.

    gate = Gate(auth)
    @router.post("/alarms/{alarm_id}/ack")
    def ack(alarm_id: int, who: Principal = Depends(gate.require(Permission.ACK))):
        require_site(who, alarm.site)

(A default, not ``Annotated[Principal, Depends(gate...)]``: with postponed annotations
FastAPI resolves annotations in the module's globals, and ``gate`` is a local.)

The CSRF check lives in ``current_principal`` itself, so no route that asks who its caller
is can forget it: a change made with the session cookie needs the ``X-CSRF-Token`` header.
A request with ``Authorization: Bearer`` is a machine's and is judged by its token alone,
never by a cookie that happens to ride along.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request
from fastapi.responses import RedirectResponse
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from console.auth.csrf import CSRF_HEADER, SAFE_METHODS, csrf_matches
from console.auth.roles import Permission, Principal
from console.auth.service import AuthService
from console.schemas import ErrorOut

SESSION_COOKIE = "lantai_session"

# For routes' `responses=`: the refusals every protected route may answer with.
AUTH_ERRORS: dict[int | str, dict[str, Any]] = {401: {"model": ErrorOut}, 403: {"model": ErrorOut}}

NOT_LOGGED_IN = "请先登录 / log in first"
BAD_CSRF = "缺少或错误的 CSRF 令牌，请刷新页面 / CSRF token missing or wrong: reload the page"


def unauthorized(detail: str = NOT_LOGGED_IN) -> HTTPException:
    # RFC 9110 §15.5.2: a 401 names a scheme. Bearer, so a browser shows no password box.
    return HTTPException(401, detail, headers={"WWW-Authenticate": 'Bearer realm="lantai"'})


def login_redirect(request: Request) -> RedirectResponse:
    """To the login page, which comes back here (path and query) once logged in."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(here, safe='')}", status_code=303)


def require_site(principal: Principal, site: str) -> None:
    """Raise 403 unless ``site`` is granted to ``principal``."""
    if not principal.sees(site):
        raise HTTPException(403, f"无权访问站点 {site} / site {site} is not granted to you")


class Gate:
    """The dependencies of one AuthService."""

    def __init__(self, auth: AuthService) -> None:
        self._auth = auth
        # Declared as security schemes so the OpenAPI document says how each route is
        # entered; neither refuses by itself (current_principal decides).
        bearer = HTTPBearer(
            auto_error=False, scheme_name="apiToken", description="An API token (lantai_…)."
        )
        cookie = APIKeyCookie(
            name=SESSION_COOKIE,
            auto_error=False,
            scheme_name="session",
            description=f"The login session; changes also need the {CSRF_HEADER} header.",
        )

        # Dependencies as defaults, not Annotated: with postponed annotations FastAPI
        # reads an annotation in the module's globals, where `bearer` does not exist.
        def current_principal(
            request: Request,
            token: HTTPAuthorizationCredentials | None = Depends(bearer),  # noqa: B008
            session: str | None = Depends(cookie),
        ) -> Principal:
            return self._principal(request, token, session)

        self.current_principal: Callable[..., Principal] = current_principal

    def require(
        self, permission: Permission, *alternatives: Permission
    ) -> Callable[..., Principal]:
        """A dependency: the caller, if their role has ``permission`` (or one of the
        ``alternatives``: a task list is a guard's work and a viewer's reading); else 403."""
        accepted = (permission, *alternatives)
        names = " | ".join(p.value for p in accepted)

        def permitted(
            principal: Principal = Depends(self.current_principal),  # noqa: B008
        ) -> Principal:
            if not any(principal.can(p) for p in accepted):
                raise HTTPException(
                    403,
                    f"{principal.role.value} 角色无此权限 ({names}) / "
                    f"a {principal.role.value} may not do this ({names})",
                )
            return principal

        return permitted

    def signed_in(self, request: Request) -> Principal | None:
        """The person whose session cookie came with a page request, or None: for page
        routes, which answer a stranger with the login page rather than a 401."""
        return self._by_session(request.cookies.get(SESSION_COOKIE))

    def identify(self, request: Request) -> Principal | None:
        """Who sent ``request``, resolved afresh on each call (None: nobody, or nobody any
        more). No CSRF check: for reads that outlive the check made when they began (the
        alarm stream) and for routes open to strangers that show a reader more."""
        header = request.headers.get("authorization")
        if header is not None:  # a machine: its token or nothing, as in current_principal
            scheme, _, secret = header.partition(" ")
            return self._by_token(secret.strip()) if scheme.lower() == "bearer" else None
        return self._by_session(request.cookies.get(SESSION_COOKIE))

    def _by_token(self, secret: str | None) -> Principal | None:
        found = None if secret is None else self._auth.tokens.resolve(secret)
        return None if found is None else found.principal()

    def _by_session(self, session: str | None) -> Principal | None:
        account = self._auth.sessions.resolve(session) if session else None
        return None if account is None else account.principal()

    def _principal(
        self,
        request: Request,
        token: HTTPAuthorizationCredentials | None,
        session: str | None,
    ) -> Principal:
        if "authorization" in request.headers:
            # A machine: its token or nothing. Not Bearer (say Basic) is refused too.
            machine = self._by_token(None if token is None else token.credentials)
            if machine is None:
                raise unauthorized("API 令牌无效或已吊销 / the API token is unknown or revoked")
            return machine
        if not session:
            raise unauthorized()
        person = self._by_session(session)
        if person is None:
            raise unauthorized("登录已过期，请重新登录 / your session has ended: log in again")
        if request.method not in SAFE_METHODS and not csrf_matches(
            session, request.headers.get(CSRF_HEADER)
        ):
            raise HTTPException(403, BAD_CSRF)
        return person
