"""The report as CSV: one section per table, for a spreadsheet or the archive's own ledger.

UTF-8 with a byte-order mark, because Excel on a Chinese Windows reads a CSV without one
as GBK and garbles every name. A section is a title row, a header row and its rows,
followed by an empty row. Codes stay codes (``fire``, ``weekly``) beside their words, shares
are fractions 0…1, durations seconds, and times are site-local ISO 8601 with the offset.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from console.reports.labels import (
    CADENCE,
    CATEGORY,
    HAZARD_GRADE,
    HAZARD_STATE,
    SEVERITY,
    TASK_STATUS,
    both,
)
from console.reports.model import ReportOut, SwingOut

Cell = str | int | float | None
Section = tuple[str, Sequence[str], list[list[Cell]]]


def render_csv(report: ReportOut) -> bytes:
    """Every table of the report, in the order of the HTML page, as UTF-8 with BOM."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for title, header, rows in sections(report):
        writer.writerow([title])
        writer.writerow(header)
        writer.writerows([_cell(value) for value in row] for row in rows)
        writer.writerow([])
    return buffer.getvalue().encode("utf-8-sig")


def sections(report: ReportOut) -> list[Section]:
    tz = ZoneInfo(report.period.timezone)
    out: list[Section] = [_summary(report, tz)]
    if report.inspections is not None:
        tasks = report.inspections
        out.append(
            (
                "巡查检查 Inspections",
                ["类别 cadence", "名称 name", "应检 total", "按时 on_time", "逾期补做 late",
                 "漏检 missed", "进行中 open"],
                [
                    [c.cadence, both(CADENCE.get(c.cadence, (c.cadence, c.cadence))), c.total,
                     c.on_time, c.late, c.missed, c.open]
                    for c in [*tasks.by_cadence, tasks.total]
                ],
            )
        )  # fmt: skip
        out.append(
            (
                "漏检与逾期任务 Missed and late tasks",
                ["编号 id", "状态 status", "类别 cadence", "库房 room", "楼层 floor",
                 "任务 title_zh", "Task title_en", "开始 window_start", "截止 window_end",
                 "签字人 signed_by", "签字时间 signed_at", "逾期秒数 late_by_s"],
                [
                    [t.id, f"{t.status.value} {both(TASK_STATUS[t.status])}", t.cadence, t.room,
                     t.floor, t.title.zh, t.title.en, _time(t.window_start, tz),
                     _time(t.window_end, tz), t.signed_by, _time(t.signed_at, tz), t.late_by_s]
                    for t in [*tasks.missed, *tasks.late]
                ],
            )
        )  # fmt: skip
    if report.hazards is not None:
        hazards = report.hazards
        out.append(
            (
                "安全隐患 Hazards",
                ["等级 grade", "名称 name", "新发现 opened", "已闭环 closed",
                 "未闭环 still_open", "逾期 overdue"],
                [
                    [c.grade.value if c.grade else "all",
                     both(HAZARD_GRADE[c.grade]) if c.grade else "合计 Total",
                     c.opened, c.closed, c.still_open, c.overdue]
                    for c in [*hazards.by_grade, hazards.total]
                ],
            )
        )  # fmt: skip
        out.append(
            (
                "未闭环隐患 Open hazards",
                ["编号 id", "等级 grade", "隐患 title_zh", "Hazard title_en", "库房 room",
                 "状态 state", "发现时间 found_at", "责任人 owner", "整改期限 deadline",
                 "逾期 overdue"],
                [
                    [h.id, f"{h.grade.value} {both(HAZARD_GRADE[h.grade])}", h.title.zh,
                     h.title.en, h.room, f"{h.state.value} {both(HAZARD_STATE[h.state])}",
                     _time(h.found_at, tz), h.owner, _time(h.deadline, tz), int(h.overdue)]
                    for h in hazards.open
                ],
            )
        )  # fmt: skip
    out.append(
        (
            "库房环境 Stack climate",
            ["库房 room", "名称 name_zh", "Name name_en", "类别 class", "温度下限 t_min",
             "温度上限 t_max", "湿度下限 rh_min", "湿度上限 rh_max", "样本数 samples",
             "数据覆盖 coverage", "缺测秒数 gap_s", "缺测次数 gap_count",
             "达标时间 within_limits", "温度达标 temperature_within",
             "湿度达标 humidity_within", "温度最大日较差 t_swing", "允许 t_swing_allowed",
             "日期 t_swing_day", "超限天数 t_days_over", "湿度最大日较差 rh_swing",
             "允许 rh_swing_allowed", "日期 rh_swing_day", "超限天数 rh_days_over",
             "TWPI twpi", "TWPI 评级 twpi_rating", "霉菌指数最大 mold_index_max",
             "霉变风险 mold_rating"],
            [
                [r.room, r.name.zh, r.name.en, r.room_class, r.temperature_limits.min,
                 r.temperature_limits.max, r.humidity_limits.min, r.humidity_limits.max,
                 r.samples, r.coverage, r.gap_s, r.gap_count, r.within_limits,
                 r.temperature_within, r.humidity_within, *_swing(r.temperature_swing),
                 *_swing(r.humidity_swing), r.twpi, r.twpi_rating, r.mold_index_max,
                 r.mold_rating]
                for r in report.rooms
            ],
        )
    )  # fmt: skip
    alarms = report.alarms
    out.append(
        (
            "告警 Alarms",
            ["类别 category", "级别 severity", "名称 name", "次数 count", "已确认 acknowledged",
             "未确认 unacknowledged", "维护窗口 suppressed", "确认用时中位数秒 median_ack_s",
             "最长确认用时秒 max_ack_s"],
            [
                *(
                    [g.category.value, g.severity.value,
                     f"{both(CATEGORY[g.category])} · {both(SEVERITY[g.severity])}", g.count,
                     g.acknowledged, g.unacknowledged, g.suppressed, g.median_ack_s, g.max_ack_s]
                    for g in alarms.groups
                ),
                ["all", "all", "合计 Total", alarms.total.count, alarms.total.acknowledged,
                 alarms.total.unacknowledged, alarms.total.suppressed, alarms.total.median_ack_s,
                 alarms.total.max_ack_s],
            ],
        )
    )  # fmt: skip
    return out


def _summary(report: ReportOut, tz: ZoneInfo) -> Section:
    period = report.period
    return (
        "报告 Report",
        ["项目 field", "值 value"],
        [
            ["单位 site", report.site],
            ["名称 site_name", both((report.site_name.zh, report.site_name.en))],
            ["报告类型 kind", period.kind.value],
            ["报告期 period", period.slug],
            ["开始 start", _time(period.start, tz)],
            ["结束 end", _time(period.end, tz)],
            ["时区 timezone", period.timezone],
            ["统计截至 as_of", _time(report.as_of, tz)],
            ["已结束 complete", int(report.complete)],
            ["生成时间 generated_at", _time(report.generated_at, tz)],
        ],
    )


def _swing(swing: SwingOut | None) -> list[Cell]:
    if swing is None:
        return [None, None, None, None]
    return [swing.swing, swing.allowed, swing.day.isoformat(), swing.days_over]


def _time(at: datetime | None, tz: ZoneInfo) -> str | None:
    return None if at is None else at.astimezone(tz).isoformat()


def _cell(value: object) -> str:
    """Empty for no value; a float to six decimals at most, never in e-notation (which a
    spreadsheet may read as text), with a dot and no thousands separator."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6f}".rstrip("0").rstrip(".")
    return str(value)
