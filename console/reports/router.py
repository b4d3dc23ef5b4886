"""GET /api/reports/{site}/{period}: a site's report as JSON, printable HTML or CSV.

``date`` picks the period containing that site-local day (default: today at the site);
``format`` picks the form. The JSON is the ``ReportOut`` model, so /openapi.json
describes it; HTML and CSV are the same figures printed.
"""

from __future__ import annotations

from datetime import date as Date  # noqa: N812 - the query parameter is called "date"
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import HTMLResponse, Response

from console.reports.compute import ReportBuilder, UnknownSiteError
from console.reports.csv_export import render_csv
from console.reports.html import render_html
from console.reports.model import ReportOut
from console.reports.periods import PeriodKind
from console.schemas import ErrorOut

CSV_TYPE = "text/csv; charset=utf-8"


class ReportFormat(StrEnum):
    JSON = "json"
    HTML = "html"
    CSV = "csv"


_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The report: JSON (ReportOut), a printable HTML page, or CSV "
        "(UTF-8 with BOM, one section per table).",
        "content": {"text/html": {}, "text/csv": {}},
    },
    404: {"model": ErrorOut},
}


def build_reports_router(reports: ReportBuilder) -> APIRouter:
    """The report routes, under /api, computing with ``reports``."""
    router = APIRouter(prefix="/api", tags=["reports"])

    @router.get("/reports/{site}/{period}", response_model=ReportOut, responses=_RESPONSES)
    def report(
        site: str,
        period: PeriodKind,
        date: Annotated[
            Date | None, Query(description="a site-local day in the period (default: today)")
        ] = None,
        fmt: Annotated[ReportFormat, Query(alias="format")] = ReportFormat.JSON,
    ) -> ReportOut | Response:
        """A site's daily, weekly (Monday to Sunday), monthly or quarterly report:
        inspections, hazards, each room's climate, and alarms with time to acknowledge."""
        try:
            built = reports.build(site, period, date)
        except UnknownSiteError:
            raise HTTPException(404, f"unknown site {site!r}") from None
        if fmt is ReportFormat.HTML:
            return HTMLResponse(render_html(built))
        if fmt is ReportFormat.CSV:
            name = f"lantai-{site}-{period.value}-{built.period.slug}.csv"
            return Response(
                render_csv(built),
                media_type=CSV_TYPE,
                headers={"Content-Disposition": f'attachment; filename="{name}"'},
            )
        return built

    return router
