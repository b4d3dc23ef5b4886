"""The console app factory: the JSON API, the alarm stream and the desk's page.

No app exists at import time; ``create_app`` builds one per context, so the service and
each test get their own, wired to their own stores.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from console.api import build_router
from console.context import AlarmReader, ConsoleContext, ReadingsReader
from console.stream import describe_stream

__all__ = ["AlarmReader", "ConsoleContext", "ReadingsReader", "create_app", "package_version"]

STATIC_DIR = Path(__file__).with_name("static")

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
            describe_stream(super().openapi())  # fills and caches self.openapi_schema
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
    app.include_router(build_router(ctx))
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", headers=_NO_CACHE)

    return app
