"""/api/sops: read the standard operating procedures; a supervisor edits them.

    GET /api/sops                  the current procedure of every category
    GET /api/sops/{category}       the current one and every earlier version
    PUT /api/sops/{category}       a new version (SOP_EDIT), naming the version it replaces

Reading needs ``read`` (the desk) or ``inspect`` (a guard at the door). The procedures
are the archive's, not a site's: one set serves every site.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from console.auth import AUTH_ERRORS, Principal
from console.context import ConsoleContext
from console.desk_access import DeskAccess
from console.schemas import ErrorOut, LocalText, SopOut
from console.sop_defaults import SopText
from console.sop_tables import TITLE_LENGTH
from console.sops import Sop, SopConflict, shipped_sop
from sensors.events import Category

# Long enough for any real procedure; short enough that a paste of a whole manual is refused.
TEXT_LENGTH = 20_000

_ERRORS: dict[int | str, dict[str, Any]] = {
    **AUTH_ERRORS,
    **{code: {"model": ErrorOut} for code in (409, 503)},
}


class SopTitleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    zh: str = Field(min_length=1, max_length=TITLE_LENGTH, pattern=r"\S")
    en: str = Field(min_length=1, max_length=TITLE_LENGTH, pattern=r"\S")


class SopTextIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    zh: str = Field(min_length=1, max_length=TEXT_LENGTH, pattern=r"\S")
    en: str = Field(min_length=1, max_length=TEXT_LENGTH, pattern=r"\S")


class SopIn(BaseModel):
    """A new version of a procedure, in both languages."""

    model_config = ConfigDict(extra="forbid")
    version: int = Field(
        ge=0,
        description="the version this edit replaces (the one the editor started from); "
        "409 if somebody saved another since",
    )
    title: SopTitleIn
    text: SopTextIn = Field(description="numbered steps, one per line (plain text)")
    note: str = Field(default="", max_length=500, description="why it was changed")


class SopDetailOut(BaseModel):
    """A category's current procedure and every earlier version, newest first."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    sop: SopOut
    history: list[SopOut]


def sop_out(sop: Sop) -> SopOut:
    text = sop.text
    return SopOut(
        category=sop.category,
        version=sop.version,
        title=LocalText(zh=text.title_zh, en=text.title_en),
        text=LocalText(zh=text.text_zh, en=text.text_en),
        note=sop.note,
        edited_by=sop.edited_by,
        edited_at=sop.edited_at,
        shipped=sop.shipped,
    )


def current_sop(ctx: ConsoleContext, category: Category) -> SopOut:
    """The procedure in force for ``category`` (the shipped one without a store)."""
    return sop_out(shipped_sop(category) if ctx.sops is None else ctx.sops.current(category))


def add_sop_routes(router: APIRouter, ctx: ConsoleContext, access: DeskAccess) -> None:
    @router.get("/sops", responses=AUTH_ERRORS, dependencies=[access.sop_reader])
    def sops() -> list[SopOut]:
        """The current procedure of every alarm category."""
        if ctx.sops is None:
            return [sop_out(shipped_sop(c)) for c in Category]
        return [sop_out(s) for s in ctx.sops.every_current()]

    @router.get("/sops/{category}", responses=AUTH_ERRORS, dependencies=[access.sop_reader])
    def sop(category: Category) -> SopDetailOut:
        """A category's procedure, with the versions it replaced."""
        versions = [shipped_sop(category)] if ctx.sops is None else ctx.sops.history(category)
        return SopDetailOut(sop=sop_out(versions[0]), history=[sop_out(v) for v in versions[1:]])

    @router.put("/sops/{category}", responses=_ERRORS)
    def edit_sop(category: Category, body: SopIn, who: Principal = access.sop_editor) -> SopOut:
        """Save a new version of a category's procedure (the earlier ones are kept)."""
        if ctx.sops is None:
            raise HTTPException(
                503, "本控制台的操作规程只读 / this console's procedures are read-only"
            )
        text = SopText(
            title_zh=body.title.zh.strip(),
            title_en=body.title.en.strip(),
            text_zh=body.text.zh.strip(),
            text_en=body.text.en.strip(),
        )
        try:
            saved = ctx.sops.save(
                category, text, replaces=body.version, by=who.username, note=body.note.strip()
            )
        except SopConflict as exc:
            raise HTTPException(
                409,
                f"操作规程已被他人修改（当前第 {exc.current} 版），请刷新后再改 / "
                f"the procedure was changed meanwhile (now version {exc.current}): "
                "reload it and edit again",
            ) from exc
        return sop_out(saved)
