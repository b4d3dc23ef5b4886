"""Printable QR checkpoint sheets: one QR code per stack room, to stick beside its door.

A guard on patrol scans the room's code with the phone's camera; the code holds the
checklist app's address for that room (``<public_url>/app/#/checkpoint/<site>/<room>``),
which opens the room's open task and records the scan as where the sign-off was made.
The codes are drawn as inline SVG on the server (the ``qrcode`` package), so the sheet
prints sharp at any size and needs nothing from the internet.
"""

from __future__ import annotations

from html import escape
from urllib.parse import quote

import qrcode
import qrcode.constants
import qrcode.image.svg
from fastapi import APIRouter, HTTPException
from fastapi.responses import HTMLResponse

from sensors.facility import Facility, RoomInfo, SiteInfo

__all__ = ["build_checkpoints_router", "checkpoint_url", "qr_svg"]

# M (15 % of the code may be lost) survives a scuffed or dusty label by a stack door
# without making the code too dense to read from arm's length in a dim corridor.
_ERROR_CORRECTION = qrcode.constants.ERROR_CORRECT_M


def checkpoint_url(public_url: str, site: str, room: str) -> str:
    """The app's address for one room's checkpoint, as its QR code encodes it."""
    base = public_url.rstrip("/")
    return f"{base}/app/#/checkpoint/{quote(site, safe='')}/{quote(room, safe='')}"


def qr_svg(data: str) -> str:
    """``data`` as a QR code, an inline ``<svg>`` element that scales to its box."""
    code = qrcode.QRCode(
        error_correction=_ERROR_CORRECTION,
        border=4,  # the quiet zone the QR standard asks for
        image_factory=qrcode.image.svg.SvgPathImage,
    )
    code.add_data(data)
    code.make(fit=True)
    # The drawing says its size in millimetres; the sheet's CSS overrides that.
    svg: str = code.make_image().to_string(encoding="unicode")
    return svg


def build_checkpoints_router(facility: Facility, public_url: str) -> APIRouter:
    """GET /checkpoints/{site}: the printable sheet of a site's room checkpoints."""
    router = APIRouter()

    # A page to print, not part of the API: kept out of the OpenAPI document.
    @router.get("/checkpoints/{site}", response_class=HTMLResponse, include_in_schema=False)
    def checkpoint_sheet(site: str) -> HTMLResponse:
        """One QR code per stack room of ``site``, grouped by floor, ready to print."""
        info = facility.sites.get(site)
        if info is None:
            raise HTTPException(404, f"unknown site {site!r}")
        rooms = [room for (s, _), room in facility.rooms.items() if s == site]
        return HTMLResponse(render_sheet(info, rooms, public_url))

    return router


def render_sheet(site: SiteInfo, rooms: list[RoomInfo], public_url: str) -> str:
    """The whole printable page; every name is escaped, since it comes from config."""
    sections = []
    for building, floor_id, floor_name in site.floors:
        on_floor = [r for r in rooms if r.building == building and r.floor == floor_id]
        if not on_floor:
            continue
        cards = "\n".join(_card(site, room, public_url) for room in on_floor)
        sections.append(
            f'<section class="floor"><h2>{escape(floor_name.zh)} · '
            f'<span lang="en">{escape(floor_name.en)}</span></h2>'
            f'<div class="cards">{cards}</div></section>'
        )
    title = f"{escape(site.name.zh)} · 巡查点二维码"
    return _PAGE.format(
        title=title,
        site_zh=escape(site.name.zh),
        site_en=escape(site.name.en),
        sections="\n".join(sections),
    )


def _card(site: SiteInfo, room: RoomInfo, public_url: str) -> str:
    url = checkpoint_url(public_url, site.id, room.id)
    return (
        f'<article class="card" data-room="{escape(room.id)}" data-url="{escape(url)}">'
        f'<div class="label"><span class="room-id">{escape(room.id)}</span>'
        f'<span class="name-zh">{escape(room.name.zh)}</span>'
        f'<span class="name-en" lang="en">{escape(room.name.en)}</span></div>'
        f'<div class="qr">{qr_svg(url)}</div>'
        '<p class="how">巡查时用手机扫码签到<br><span lang="en">Scan with your phone on patrol'
        "</span></p>"
        # Printed too: a guard whose camera will not read a worn code can type it.
        f'<p class="url">{escape(url)}</p>'
        "</article>"
    )


# Two cards across and three down fill an A4 sheet with codes about 6 cm wide: readable
# from a metre away by a phone camera. Black on white only, for any office printer.
_PAGE = """<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
  @page {{ size: A4; margin: 12mm; }}
  * {{ box-sizing: border-box; }}
  body {{ margin: 0; padding: 1rem; color: #000; background: #fff;
    font-family: "Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei",
      system-ui, sans-serif; }}
  header h1 {{ margin: 0 0 0.2rem; font-size: 1.6rem; }}
  header p {{ margin: 0 0 1rem; }}
  h2 {{ font-size: 1.2rem; margin: 1rem 0 0.5rem; }}
  .cards {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(80mm, 1fr));
    gap: 6mm; }}
  .card {{ border: 2px solid #000; border-radius: 4mm; padding: 4mm; text-align: center;
    break-inside: avoid; page-break-inside: avoid; }}
  .label {{ display: flex; flex-direction: column; gap: 1mm; }}
  .room-id {{ font-size: 1.6rem; font-weight: 700; letter-spacing: 0.05em; }}
  .name-zh {{ font-size: 1.3rem; font-weight: 600; }}
  .name-en {{ font-size: 1rem; }}
  .qr svg {{ width: 60mm; height: 60mm; display: block; margin: 3mm auto; }}
  .how {{ margin: 0; font-size: 0.95rem; }}
  .url {{ margin: 2mm 0 0; font-family: monospace; font-size: 0.7rem; word-break: break-all; }}
  @media print {{ body {{ padding: 0; }} .no-print {{ display: none; }} }}
</style>
</head>
<body>
<header>
  <h1>{site_zh} · 巡查点二维码</h1>
  <p lang="en">{site_en} · Patrol checkpoints</p>
  <p class="no-print">打印后贴在各库房门旁。<span lang="en">Print and stick each code beside
  its room's door.</span></p>
</header>
{sections}
</body>
</html>
"""
