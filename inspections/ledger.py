"""The hazard ledger (隐患台账) as CSV: one row per hazard, every step of its closed loop.

UTF-8 with a byte-order mark, because Excel on a Chinese Windows desktop reads a CSV
without one as GBK and shows the Chinese as mojibake. Times are the site's local time:
the ledger is signed and filed on paper, where UTC means nothing.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from inspections.alarms import GRADE_TEXT, place_names
from inspections.models import Hazard, HazardLogEntry, HazardState
from sensors.facility import Facility

STATE_TEXT = {
    HazardState.FOUND: ("已发现", "found"),
    HazardState.ASSIGNED: ("整改中", "assigned"),
    HazardState.RECTIFIED: ("已整改待复查", "rectified"),
    HazardState.ACCEPTED: ("复查通过", "accepted"),
    HazardState.FILED: ("已归档", "filed"),
}

HEADER = (
    "编号 No.",
    "地点 Place",
    "隐患 Hazard",
    "等级 Grade",
    "发现人 Found by",
    "发现时间 Found at",
    "情况 Note",
    "责任人 Owner",
    "整改期限 Deadline",
    "整改情况 Rectification",
    "整改人 Rectified by",
    "整改时间 Rectified at",
    "复查人 Re-inspected by",
    "复查时间 Accepted at",
    "归档时间 Filed at",
    "状态 State",
)


def ledger_csv(hazards: Sequence[Hazard], facility: Facility) -> bytes:
    """The ledger of ``hazards`` as CSV bytes (UTF-8 with BOM, CRLF rows as Excel writes)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    for hazard in hazards:
        zone = facility.sites[hazard.site].timezone if hazard.site in facility.sites else None
        writer.writerow(_row(hazard, facility, zone))
    return out.getvalue().encode("utf-8-sig")


def _row(hazard: Hazard, facility: Facility, zone: ZoneInfo | None) -> list[str]:
    zh, en = place_names(facility, hazard.site, hazard.room, None)
    grade_zh, grade_en = GRADE_TEXT[hazard.grade]
    state_zh, state_en = STATE_TEXT[hazard.state]
    rectified = _last(hazard.log, HazardState.RECTIFIED)
    accepted = _last(hazard.log, HazardState.ACCEPTED)
    filed = _last(hazard.log, HazardState.FILED)
    return [
        str(hazard.id),
        f"{zh} / {en}" if zh != en else zh,
        f"{hazard.title_zh} / {hazard.title_en}",
        f"{grade_zh} / {grade_en}",
        hazard.found_by,
        _local(hazard.found_at, zone),
        hazard.note,
        hazard.owner or "",
        _local(hazard.deadline, zone),
        rectified.note if rectified else "",
        rectified.by if rectified else "",
        _local(rectified.at if rectified else None, zone),
        accepted.by if accepted else "",
        _local(accepted.at if accepted else None, zone),
        _local(filed.at if filed else None, zone),
        f"{state_zh} / {state_en}",
    ]


def _last(log: Sequence[HazardLogEntry], state: HazardState) -> HazardLogEntry | None:
    return next((entry for entry in reversed(log) if entry.state is state), None)


def _local(when: datetime | None, zone: ZoneInfo | None) -> str:
    if when is None:
        return ""
    return f"{when.astimezone(zone):%Y-%m-%d %H:%M}"
