"""The console app factory: the JSON API, the alarm stream and the desk's page.

No app exists at import time; ``create_app`` builds one per context, so the service and
each test get their own, wired to their own stores.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from console.api import build_router
from console.auth import (
    AuthService,
    Gate,
    Permission,
    Principal,
    build_auth_router,
    login_redirect,
)
from console.auth.dependencies import AUTH_ERRORS, require_site
from console.checkpoints import build_checkpoints_router
from console.context import AlarmReader, ConsoleContext, HistoryReader, ReadingsReader
from console.inspections_api import build_inspections_router
from console.metrics_route import build_metrics_router
from console.reports.router import build_reports_router
from console.request_errors import describe_request_errors
from console.stream import describe_stream

__all__ = [
    "AlarmReader",
    "ConsoleContext",
    "HistoryReader",
    "ReadingsReader",
    "create_app",
    "package_version",
]

STATIC_DIR = Path(__file__).with_name("static")
CHECKLIST_APP_DIR = STATIC_DIR / "app"

# The page is small and changes with each release; revalidating it costs one request.
_NO_CACHE = {"Cache-Control": "no-cache"}


def package_version() -> str:
    """Lantai's installed version, for the OpenAPI document."""
    try:
        return version("lantai")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "0+unknown"


class _ConsoleApp(FastAPI):
    """FastAPI, with the alarm stream's events described in the OpenAPI document."""

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is None:
            document = super().openapi()  # fills and caches self.openapi_schema
            describe_stream(document)
            describe_request_errors(document)
        return super().openapi()


def create_app(ctx: ConsoleContext) -> FastAPI:
    """A console app reading from ``ctx``."""
    app = _ConsoleApp(
        title="Lantai console",
        version=package_version(),
        summary="The security desk's view of an archive: rooms, alarms, quarantine.",
        # The interactive docs load their scripts from a CDN, which a desk network that
        # is cut off from the internet cannot reach; /openapi.json is what tools read.
        docs_url=None,
        redoc_url=None,
    )
    # Without accounts the console serves only what needs no person (see console.api).
    gate = None if ctx.auth is None else Gate(ctx.auth)
    app.include_router(build_router(ctx, gate))
    if ctx.auth is not None and gate is not None:
        _add_accounts_and_inspections(app, ctx, ctx.auth, gate)
        _add_desk_page(app, gate)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


def _add_desk_page(app: FastAPI, gate: Gate) -> None:
    @app.get("/", include_in_schema=False, response_model=None)
    def index(request: Request) -> FileResponse | RedirectResponse:
        """The desk for a reader; the login page for a stranger, and a guard's phone goes
        to the checklist app (a guard's role reads no more than their own tasks)."""
        who = gate.signed_in(request)
        if who is None:
            return login_redirect(request)
        if not who.can(Permission.READ):
            return RedirectResponse("/app/", status_code=303)
        return FileResponse(STATIC_DIR / "index.html", headers=_NO_CACHE)


def _add_accounts_and_inspections(
    app: FastAPI, ctx: ConsoleContext, auth: AuthService, gate: Gate | None = None
) -> None:
    """Login, and what needs a person: the checklist app and its API, reports, checkpoints."""
    gate = gate or Gate(auth)
    # A console published at an https address gets Secure cookies whatever its proxy says.
    https = ctx.public_url.startswith("https://")
    app.include_router(build_auth_router(auth, gate, published_over_https=https))

    # A default, not Annotated: ``gate`` is a local (see console.auth.dependencies).
    reader = Depends(gate.require(Permission.READ))

    def site_reader(site: str, who: Principal = reader) -> None:
        """For routes with a {site} in their path: a reader of that site."""
        require_site(who, site)

    if ctx.inspections is not None:
        app.include_router(build_inspections_router(ctx.inspections, gate, ctx.alarms))
    if ctx.metrics is not None:
        app.include_router(build_metrics_router(ctx.metrics, gate))
    if ctx.reports is not None:
        app.include_router(
            build_reports_router(ctx.reports),
            dependencies=[Depends(site_reader)],
            responses=AUTH_ERRORS,
        )
    app.include_router(
        build_checkpoints_router(ctx.facility, ctx.public_url),
        dependencies=[Depends(site_reader)],
    )

    # The phone app's shell is public (it holds no data and must load offline from the
    # service worker's cache); everything it shows comes from the API behind the login.
    @app.get("/app", include_in_schema=False)
    def checklist_app_root() -> RedirectResponse:
        return RedirectResponse("/app/")

    app.mount("/app", StaticFiles(directory=CHECKLIST_APP_DIR, html=True), name="checklist-app")
