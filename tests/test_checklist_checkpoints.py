"""The printable QR checkpoint sheet over real HTTP: one code per stack room, grouped by
floor, each encoding the checklist app's address for that room, names escaped."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import qrcode
import qrcode.constants
from fastapi import FastAPI

from console.checkpoints import build_checkpoints_router, checkpoint_url
from sensors.facility import Facility, load_facility
from tests.console_server import serve

PUBLIC_URL = "https://lantai.example.org/"  # a trailing slash, as people type it
CARD = re.compile(
    r'<article class="card" data-room="([^"]+)" data-url="([^"]+)">(.*?)</article>', re.DOTALL
)
# SvgPathImage draws each dark module as its own unit square: "M<x>,<y>H<x+1>V<y+1>H<x>z".
MODULE = re.compile(r"M(\d+),(\d+)H\d+V\d+H\d+z")


@pytest.fixture
def sheet(facility: Facility) -> Iterator[httpx.Client]:
    app = FastAPI()
    app.include_router(build_checkpoints_router(facility, PUBLIC_URL))
    with serve(app) as url, httpx.Client(base_url=url, timeout=10) as client:
        yield client


def dark_modules(svg: str) -> set[tuple[int, int]]:
    path = re.search(r'<path d="([^"]+)"', svg)
    assert path is not None, svg[:200]
    return {(int(x), int(y)) for x, y in MODULE.findall(path.group(1))}


def expected_modules(data: str) -> set[tuple[int, int]]:
    """The QR code of ``data`` (same error correction and quiet zone), module by module."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    code.add_data(data)
    code.make(fit=True)
    return {(x, y) for y, row in enumerate(code.get_matrix()) for x, dark in enumerate(row) if dark}


def test_one_code_per_room_each_opening_that_room_in_the_app(
    sheet: httpx.Client, facility: Facility
) -> None:
    response = sheet.get("/checkpoints/yunxi")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    page = response.text
    cards = CARD.findall(page)
    rooms = [room.id for (site, _), room in facility.rooms.items() if site == "yunxi"]
    assert [room for room, _, _ in cards] == rooms
    for room, url, body in cards:
        assert url == f"https://lantai.example.org/app/#/checkpoint/yunxi/{room}"
        assert f'<p class="url">{url}</p>' in body  # printed, for a code that will not scan
        assert dark_modules(body) == expected_modules(url), room
    # Grouped by floor, in the facility's order, names in both languages.
    assert page.index("二层库区 · ") < page.index('data-room="B2-01"') < page.index("三层库区 · ")
    assert '<span class="name-zh">第三纸质档案库</span>' in page
    assert '<span class="name-en" lang="en">Paper stack 3</span>' in page
    assert "<h1>云溪市档案馆 · 巡查点二维码</h1>" in page


def test_an_unknown_site_is_a_404(sheet: httpx.Client) -> None:
    response = sheet.get("/checkpoints/nowhere")
    assert (response.status_code, response.json()) == (404, {"detail": "unknown site 'nowhere'"})


def test_names_from_the_facility_file_are_escaped(tmp_path: Path) -> None:
    config = tmp_path / "site.yaml"
    config.write_text(
        """
sites:
  - id: s1
    name: {zh: "<i>档案馆</i>", en: "Archive & Co"}
    buildings:
      - id: main
        name: {zh: 主馆, en: Main}
        floors:
          - id: F1
            name: {zh: "一层", en: "Ground <floor>"}
            rooms:
              - id: R1
                name: {zh: "<script>alert(1)</script>", en: "Stack \\"1\\""}
                class: paper
""",
        encoding="utf-8",
    )
    app = FastAPI()
    app.include_router(build_checkpoints_router(load_facility(config), "http://x"))
    with serve(app) as url:
        page = httpx.get(f"{url}/checkpoints/s1", timeout=10).text
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;i&gt;档案馆&lt;/i&gt;" in page
    assert "Archive &amp; Co" in page
    assert "Ground &lt;floor&gt;" in page
    assert "Stack &quot;1&quot;" in page


def test_checkpoint_urls_quote_what_a_url_cannot_hold() -> None:
    assert checkpoint_url("http://h:8080", "yunxi", "B2-01") == (
        "http://h:8080/app/#/checkpoint/yunxi/B2-01"
    )
    # Ids are [A-Za-z0-9_-] by the facility's rules; the quoting is a second line of defence.
    assert checkpoint_url("http://h/", "a b", "r/1") == "http://h/app/#/checkpoint/a%20b/r%2F1"
