"""The standard operating procedures (SOPs): one per alarm category, versioned.

The desk shows the procedure of an alarm's category beside the alarm; a supervisor edits
it. Until somebody does, a category has the procedure Lantai ships (console/sop_defaults.py,
version 0). Every edit adds a version with who made it and when, and names the version it
replaces: a supervisor who edited an older copy gets a conflict, not a silent overwrite.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, Row

from console.sop_defaults import DEFAULT_SOPS, SopText
from console.sop_tables import metadata, sop_versions
from sensors.clock import Clock
from sensors.events import Category

log = logging.getLogger("lantai.console")

SHIPPED_VERSION = 0


@dataclass(frozen=True, slots=True)
class Sop:
    """One version of a category's procedure."""

    category: Category
    version: int
    text: SopText
    note: str  # why this version was written
    edited_by: str | None  # None: the procedure Lantai shipped
    edited_at: datetime | None

    @property
    def shipped(self) -> bool:
        return self.edited_by is None


class SopConflict(Exception):  # noqa: N818 - reads as "the edit met a conflict"
    """The edit names a version that is no longer the current one."""

    def __init__(self, category: Category, current: int, replaces: int) -> None:
        super().__init__(f"{category} is at version {current}, not {replaces}")
        self.category = category
        self.current = current
        self.replaces = replaces


def shipped_sop(category: Category, defaults: Mapping[Category, SopText] = DEFAULT_SOPS) -> Sop:
    """The procedure Lantai ships for ``category``."""
    return Sop(category, SHIPPED_VERSION, defaults[category], "", None, None)


class SopStore:
    """The procedures' versions in the state database."""

    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        defaults: Mapping[Category, SopText] = DEFAULT_SOPS,
    ) -> None:
        missing = set(Category) - set(defaults)
        if missing:
            raise ValueError(f"no default procedure for {sorted(missing)}")
        self._engine = engine
        self._clock = clock
        self._defaults = defaults

    def start(self) -> None:
        """Create the table (idempotent)."""
        metadata.create_all(self._engine)

    def current(self, category: Category) -> Sop:
        with self._engine.connect() as conn:
            return self._current(conn, category)

    def every_current(self) -> list[Sop]:
        """The current procedure of every category, in the categories' order."""
        with self._engine.connect() as conn:
            newest = (
                sa.select(sop_versions.c.category, sa.func.max(sop_versions.c.version).label("v"))
                .group_by(sop_versions.c.category)
                .subquery()
            )
            rows = conn.execute(
                sa.select(sop_versions).join(
                    newest,
                    sa.and_(
                        sop_versions.c.category == newest.c.category,
                        sop_versions.c.version == newest.c.v,
                    ),
                )
            ).all()
        edited = {Category(row.category): _sop(row) for row in rows}
        return [edited.get(c) or shipped_sop(c, self._defaults) for c in Category]

    def history(self, category: Category) -> list[Sop]:
        """Every version of the category's procedure, newest first, the shipped one last."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                sa.select(sop_versions)
                .where(sop_versions.c.category == category.value)
                .order_by(sop_versions.c.version.desc())
            ).all()
        return [_sop(row) for row in rows] or [shipped_sop(category, self._defaults)]

    def save(self, category: Category, text: SopText, *, replaces: int, by: str, note: str) -> Sop:
        """A new version replacing version ``replaces``; raises SopConflict when that is
        not the current one (somebody else saved first)."""
        # UTC: SQLite keeps a time's digits, not its zone.
        now = self._clock.now().astimezone(UTC)
        try:
            with self._engine.begin() as conn:
                current = self._current(conn, category)
                if current.version != replaces:
                    raise SopConflict(category, current.version, replaces)
                if current.shipped:
                    # Keep exactly what this first edit replaces (see sop_tables).
                    conn.execute(sop_versions.insert().values(**_row(current)))
                saved = Sop(category, current.version + 1, text, note, by, now)
                conn.execute(sop_versions.insert().values(**_row(saved)))
        except sa.exc.IntegrityError as exc:  # the same version saved at the same moment
            raise SopConflict(category, replaces + 1, replaces) from exc
        log.info("SOP %s: version %d by %s", category.value, saved.version, by)
        return saved

    def _current(self, conn: Connection, category: Category) -> Sop:
        row = conn.execute(
            sa.select(sop_versions)
            .where(sop_versions.c.category == category.value)
            .order_by(sop_versions.c.version.desc())
            .limit(1)
        ).first()
        return shipped_sop(category, self._defaults) if row is None else _sop(row)


def _row(sop: Sop) -> dict[str, object]:
    return {
        "category": sop.category.value,
        "version": sop.version,
        "title_zh": sop.text.title_zh,
        "title_en": sop.text.title_en,
        "text_zh": sop.text.text_zh,
        "text_en": sop.text.text_en,
        "note": sop.note,
        "edited_by": sop.edited_by,
        "edited_at": sop.edited_at,
    }


def _sop(row: Row[tuple[object, ...]]) -> Sop:
    edited_at = row.edited_at
    if isinstance(edited_at, datetime) and edited_at.tzinfo is None:
        edited_at = edited_at.replace(tzinfo=UTC)  # SQLite gives it back without a zone
    return Sop(
        category=Category(row.category),
        version=row.version,
        text=SopText(row.title_zh, row.title_en, row.text_zh, row.text_en),
        note=row.note,
        edited_by=row.edited_by,
        edited_at=edited_at,
    )
