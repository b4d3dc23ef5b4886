"""GET /api/reports/{site}/{period} over a real server and real stores: JSON, printable
HTML (the quarterly one with the 季考核 sign-off), CSV that parses back, and the page
printed to an A4 PDF by headless Chromium.

The week of tests/test_reports_inspections.py, with B2-01's Monday climate of
tests/test_reports.py (a quarter of the day above 60 %RH) and two alarms.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from alerts.models import Via
from alerts.store import AlarmStore
from console.reports.compute import ReportBuilder
from console.reports.labels import CATEGORY
from console.reports.router import build_reports_router
from inspections.models import HazardGrade, HazardState
from sensors.clock import FakeClock
from sensors.events import Category, Severity
from sensors.facility import Facility
from tests.console_server import serve
from tests.test_reports import Climate
from tests.test_reports_inspections import (
    LAST_WEEK,
    Archive,
    a_week,
    day,
    local,
)
from tests.test_reports_inspections import (
    archive as archive,  # noqa: PLC0414 - the fixture, used by name
)
from tests.test_reports_inspections import (
    clock as clock,  # noqa: PLC0414 - the fixture, used by name
)

SIGN_OFF = "季考核意见与签字"


@dataclass
class Served:
    url: str
    archive: Archive
    ids: dict[str, int]

    def get(self, path: str, **params: str) -> httpx.Response:
        return httpx.get(f"{self.url}{path}", params=params, timeout=30)


@pytest.fixture
def served(archive: Archive) -> Iterator[Served]:
    console = archive.console
    ids = a_week(archive)  # leaves the clock at Friday 09:00
    now = console.clock.now()
    climate = Climate(console)
    climate.steady("B2-01", local(day(0), 0), local(day(0), 18), 20.0, 50.0)
    climate.steady("B2-01", local(day(0), 18), local(day(1), 0), 20.0, 65.0)
    climate.steady("B2-01", local(day(1), 0), local(day(1), 0, 1), 20.0, 50.0)
    archive.hazard(  # a title that must come out as text, never as markup
        ("<b>门锁</b> & 钥匙", "<script>alert(1)</script>"),
        HazardGrade.DANGER,
        [(local(day(2), 15), HazardState.FOUND)],
    )
    console.clock.set(local(day(1), 3))
    fire = console.raise_alarm("fire:yunxi:B2-01", "B2-01").alarm.id
    console.clock.set(local(day(1), 3, 2))
    console.service.ack(fire, "zhao", Via.CONSOLE)
    console.clock.set(local(day(1), 4))
    console.raise_alarm(
        "sensor_silent:yunxi:b203-th2", "B2-03", category=Category.TROUBLE, severity=Severity.LOW
    )
    console.clock.set(now)
    builder = ReportBuilder(
        console.facility,
        console.clock,
        console.readings,
        AlarmStore(console.alarms.engine),
        archive.store,
    )
    app = FastAPI()
    app.include_router(build_reports_router(builder))
    with serve(app) as url:
        yield Served(url, archive, ids)


def test_the_json_report_is_the_model_with_every_section(served: Served) -> None:
    got = served.get("/api/reports/yunxi/weekly", date="2026-01-07")
    assert got.status_code == 200
    assert got.headers["content-type"] == "application/json"
    report = got.json()
    assert report["period"]["slug"] == "2026-W02"
    assert report["period"]["start"] == "2026-01-04T16:00:00Z"
    assert report["as_of"] == "2026-01-09T01:00:00Z"  # Friday 09:00 in Shanghai
    assert report["complete"] is False
    assert report["inspections"]["total"]["missed"] == 1
    assert report["hazards"]["total"]["opened"] == 3
    room = next(r for r in report["rooms"] if r["room"] == "B2-01")
    # Monday 18:00–24:00 above 60 %RH, out of Monday plus ten minutes of Tuesday's sample.
    assert room["humidity_within"] == pytest.approx(1 - 6 * 3600 / (86_400 + 600))
    assert report["alarms"]["total"]["count"] == 2
    assert report["alarms"]["total"]["max_ack_s"] == 120


def test_without_a_date_the_period_is_the_one_running_at_the_site(served: Served) -> None:
    got = served.get("/api/reports/yunxi/daily").json()
    assert got["period"]["first_day"] == "2026-01-09"  # Friday, though UTC says 01:00 Fri too
    served.archive.console.clock.set(local(day(4), 23, 30))  # 15:30 UTC, still Friday here
    assert served.get("/api/reports/yunxi/daily").json()["period"]["first_day"] == "2026-01-09"


def test_the_html_is_bilingual_escaped_and_signed_only_each_quarter(served: Served) -> None:
    weekly = served.get("/api/reports/yunxi/weekly", date="2026-01-07", format="html")
    quarterly = served.get("/api/reports/yunxi/quarterly", date="2026-01-07", format="html")
    assert weekly.status_code == quarterly.status_code == 200
    assert weekly.headers["content-type"] == "text/html; charset=utf-8"
    page = weekly.text
    assert "安全检查周报" in page
    assert "Weekly inspection and safety report" in page
    assert page.index("漏检") < page.index("Missed")  # Chinese first
    assert "第一纸质档案库" in page
    assert "Paper stack 1" in page
    assert "@page" in page  # the print style sheet is inline
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;b&gt;门锁&lt;/b&gt; &amp; 钥匙" in page
    assert SIGN_OFF not in page
    signed = quarterly.text
    assert "安全考核季报" in signed
    assert "2026年第1季度" in signed
    block = signed[signed.index(SIGN_OFF) :]
    for role in ("巡查人", "Inspector", "库房管理员", "Stack manager", "馆领导", "Leadership"):
        assert role in block
    assert block.count("日期") == 3  # a date line for each signatory
    assert block.count("class='line'") == 6


def sections(body: bytes) -> dict[str, list[list[str]]]:
    """The CSV's sections by title: the header row then the data rows."""
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))
    found: dict[str, list[list[str]]] = {}
    title: str | None = None
    for row in rows:
        if not row:
            title = None
        elif title is None:
            title = row[0]
            found[title] = []
        else:
            found[title].append(row)
    return found


def column(section: list[list[str]], name: str, key: str) -> str:
    """The cell in column ``name`` (its code, after the Chinese) of the row whose first cell
    is ``key``."""
    header = [h.split(" ")[-1] for h in section[0]]
    row = next(r for r in section[1:] if r[0] == key)
    return row[header.index(name)]


def test_the_csv_parses_back_into_one_section_per_table(served: Served) -> None:
    got = served.get("/api/reports/yunxi/weekly", date="2026-01-07", format="csv")
    assert got.status_code == 200
    assert got.headers["content-type"] == "text/csv; charset=utf-8"
    assert got.headers["content-disposition"] == (
        'attachment; filename="lantai-yunxi-weekly-2026-W02.csv"'
    )
    found = sections(got.content)
    assert list(found) == [
        "报告 Report",
        "巡查检查 Inspections",
        "漏检与逾期任务 Missed and late tasks",
        "安全隐患 Hazards",
        "未闭环隐患 Open hazards",
        "库房环境 Stack climate",
        "告警 Alarms",
    ]
    assert column(found["报告 Report"], "value", "报告期 period") == "2026-W02"
    assert column(found["报告 Report"], "value", "开始 start") == "2026-01-05T00:00:00+08:00"
    assert column(found["巡查检查 Inspections"], "missed", "daily") == "1"
    assert column(found["巡查检查 Inspections"], "total", "all") == "7"
    tasks = found["漏检与逾期任务 Missed and late tasks"]
    assert [r[1].split(" ")[0] for r in tasks[1:]] == ["missed", "late"]
    assert column(tasks, "late_by_s", str(served.ids["late"])) == "3600"
    assert column(found["安全隐患 Hazards"], "overdue", "high") == "1"
    open_hazards = found["未闭环隐患 Open hazards"]
    assert "<script>alert(1)</script>" in [r[3] for r in open_hazards]  # CSV is data, not markup
    climate = found["库房环境 Stack climate"]
    assert column(climate, "name_zh", "B2-01") == "第一纸质档案库"
    assert float(column(climate, "humidity_within", "B2-01")) == pytest.approx(
        1 - 6 * 3600 / 87_000, abs=1e-6
    )
    assert column(climate, "rh_swing", "B2-01") == "15"
    assert column(climate, "rh_swing_allowed", "B2-01") == "10"
    assert column(climate, "samples", "B3-04") == "0"
    assert column(climate, "within_limits", "B3-04") == ""  # no data, no figure
    alarms = found["告警 Alarms"]
    assert column(alarms, "count", "fire") == "1"
    assert column(alarms, "max_ack_s", "fire") == "120"
    assert column(alarms, "unacknowledged", "all") == "1"


def test_an_unknown_site_a_bad_period_and_a_bad_date_are_refused(served: Served) -> None:
    unknown = served.get("/api/reports/nowhere/weekly")
    assert unknown.status_code == 404
    assert unknown.json() == {"detail": "unknown site 'nowhere'"}
    assert served.get("/api/reports/yunxi/yearly").status_code == 422
    assert served.get("/api/reports/yunxi/weekly", date="2026-13-01").status_code == 422
    assert served.get("/api/reports/yunxi/weekly", format="pdf").status_code == 422


def test_last_weeks_csv_is_complete_and_named_for_its_week(served: Served) -> None:
    got = served.get("/api/reports/yunxi/weekly", date=LAST_WEEK.isoformat(), format="csv")
    assert 'filename="lantai-yunxi-weekly-2026-W01.csv"' in got.headers["content-disposition"]
    assert column(sections(got.content)["报告 Report"], "value", "已结束 complete") == "1"


def test_the_openapi_document_describes_the_report_and_its_forms(
    archive: Archive, facility: Facility, clock: FakeClock
) -> None:
    console = archive.console
    builder = ReportBuilder(facility, clock, console.readings, AlarmStore(console.alarms.engine))
    app = FastAPI()
    app.include_router(build_reports_router(builder))
    operation = app.openapi()["paths"]["/api/reports/{site}/{period}"]["get"]
    content = operation["responses"]["200"]["content"]
    assert content["application/json"]["schema"] == {"$ref": "#/components/schemas/ReportOut"}
    assert set(content) == {"application/json", "text/html", "text/csv"}
    params = {p["name"]: p for p in operation["parameters"]}
    assert set(params) == {"site", "period", "date", "format"}
    assert params["period"]["schema"]["$ref"] == "#/components/schemas/PeriodKind"


def test_every_alarm_category_has_words() -> None:
    assert set(CATEGORY) == set(Category)


@pytest.mark.browser
def test_the_quarterly_report_prints_on_a4_in_chromium(
    served: Served,
    tmp_path: Path,
    browser: Any,
) -> None:
    url = f"{served.url}/api/reports/yunxi/quarterly?date=2026-01-07&format=html"
    # A page as wide as A4's printable width (210 mm − 2 × 12 mm margins, 96 px/in): no
    # table may stick out of it, or the printout would cut it off.
    printable_px = int((210 - 24) / 25.4 * 96)
    context = browser.new_context(viewport={"width": printable_px, "height": 1000})
    try:
        page = context.new_page()
        page.goto(url)
        page.emulate_media(media="print")
        widths = page.evaluate(
            "() => [document.documentElement.scrollWidth,"
            " ...[...document.querySelectorAll('table')].map(t => t.scrollWidth)]"
        )
        assert max(widths) <= printable_px
        signatures = page.locator(".signatures")
        assert signatures.is_visible()
        assert "馆领导" in signatures.inner_text()
        pdf = page.pdf(prefer_css_page_size=True, print_background=True)
    finally:
        context.close()
    assert pdf.startswith(b"%PDF")
    (tmp_path / "quarterly.pdf").write_bytes(pdf)
    # Every page is A4 (595 × 842 points).
    boxes = re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf)
    assert boxes
    assert {(round(float(w)), round(float(h))) for w, h in boxes} == {(595, 842)}
