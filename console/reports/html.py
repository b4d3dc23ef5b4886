"""The report as one printable HTML page: Chinese first, English beside it, A4 print CSS.

The page stands alone (the style sheet is inlined), so it can be saved, mailed or printed
to PDF from any browser. The quarterly report ends with the 季考核 sign-off: inspector,
stack manager and leadership, each with a date. Every text from the records is escaped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from html import escape
from pathlib import Path
from zoneinfo import ZoneInfo

from console.reports.labels import (
    CADENCE,
    CATEGORY,
    HAZARD_GRADE,
    HAZARD_STATE,
    RATING,
    SEVERITY,
    TASK_STATUS,
    TWPI_RATING,
    Words,
)
from console.reports.model import (
    AlarmsOut,
    HazardsOut,
    InspectionsOut,
    ReportOut,
    RoomClimateOut,
    SwingOut,
    TaskLineOut,
)
from console.reports.periods import PeriodKind
from console.schemas import LocalText
from rules.preservation import Rating, TwpiRating

STYLE_SHEET = Path(__file__).with_name("report.css")

TITLES: dict[PeriodKind, Words] = {
    PeriodKind.DAILY: ("安全巡查日报", "Daily inspection and safety report"),
    PeriodKind.WEEKLY: ("安全检查周报", "Weekly inspection and safety report"),
    PeriodKind.MONTHLY: ("安全排查月报", "Monthly inspection and safety report"),
    PeriodKind.QUARTERLY: ("安全考核季报", "Quarterly safety assessment report"),
}

# Who signs the 季考核 (issue 5, "Reports"): the one who inspected, the stack manager
# who answers for the stacks, and the leadership who accepts the assessment.
SIGNATORIES: tuple[Words, ...] = (
    ("巡查人", "Inspector"),
    ("库房管理员", "Stack manager"),
    ("馆领导", "Leadership"),
)

_NONE = '<span class="none">—</span>'


def render_html(report: ReportOut) -> str:
    """The whole page for ``report``."""
    tz = ZoneInfo(report.period.timezone)
    title = TITLES[report.period.kind]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="zh-CN">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        (
            f"<title>{escape(report.site_name.zh)} {escape(title[0])} "
            f"{escape(report.period.label.zh)}</title>"
        ),
        f"<style>{STYLE_SHEET.read_text(encoding='utf-8')}</style>",
        "</head>",
        "<body>",
        _header(report, title, tz),
        _inspections(report.inspections, tz),
        _hazards(report.hazards, tz),
        _climate(report.rooms),
        _alarms(report.alarms),
    ]
    if report.period.kind is PeriodKind.QUARTERLY:
        parts.append(_signatures())
    parts += [
        (
            "<footer>兰台 Lantai · "
            f"生成于 Generated {escape(_when(report.generated_at, tz))} ({escape(tz.key)})</footer>"
        ),
        "</body>",
        "</html>",
    ]
    return "\n".join(parts)


# -- sections -------------------------------------------------------------------------


def _header(report: ReportOut, title: Words, tz: ZoneInfo) -> str:
    period = report.period
    rows = [
        (("单位", "Site"), _local(report.site_name)),
        (("报告期", "Period"), _local(period.label)),
        (
            ("起止", "From – to"),
            f"{period.first_day.isoformat()} – {period.last_day.isoformat()} ({escape(tz.key)})",
        ),
    ]
    if not report.complete:
        rows.append(
            (
                ("统计截至", "Figures up to"),
                (
                    f"{escape(_when(report.as_of, tz))} "
                    '<span class="bad">报告期未结束 The period has not ended</span>'
                ),
            )
        )
    meta = "".join(f"<dt>{_words(label)}</dt><dd>{value}</dd>" for label, value in rows)
    return f"<header><h1>{_words(title)}</h1><dl class='meta'>{meta}</dl></header>"


def _inspections(section: InspectionsOut | None, tz: ZoneInfo) -> str:
    heading = _h2(("一、巡查检查", "1. Inspections"))
    if section is None:
        return heading + _note(("未接入巡查记录。", "No inspection records are connected."))
    head = [
        ("类别", "Cadence"),
        ("应检", "Total"),
        ("按时完成", "On time"),
        ("逾期补做", "Late"),
        ("漏检", "Missed"),
        ("进行中", "Open"),
    ]
    rows = [
        [
            _words(CADENCE.get(c.cadence, (c.cadence, c.cadence))),
            _num(c.total),
            _num(c.on_time),
            _num(c.late, bad=c.late > 0),
            _num(c.missed, bad=c.missed > 0),
            _num(c.open),
        ]
        for c in section.by_cadence
    ]
    t = section.total
    rows.append(
        [
            _words(("合计", "Total")),
            _num(t.total),
            _num(t.on_time),
            _num(t.late, bad=t.late > 0),
            _num(t.missed, bad=t.missed > 0),
            _num(t.open),
        ]
    )
    out = heading + _table(head, rows, numeric_from=1)
    for tasks, words in (
        (section.missed, ("漏检任务", "Missed")),
        (section.late, ("逾期任务", "Late")),
    ):
        if tasks:
            out += f"<h3>{_words(words)}</h3>" + _task_table(tasks, tz)
    return out


def _task_table(tasks: Sequence[TaskLineOut], tz: ZoneInfo) -> str:
    head = [
        ("任务", "Task"),
        ("库房/楼层", "Room / floor"),
        ("时限", "Window"),
        ("状态", "Status"),
        ("签字", "Signed"),
    ]
    rows = [
        [
            _local(task.title),
            escape(task.room or task.floor or "—"),
            _window(task, tz),
            _words(TASK_STATUS[task.status]),
            (
                f"{escape(task.signed_by or '')} {escape(_when(task.signed_at, tz))}"
                if task.signed_at is not None
                else _NONE
            ),
        ]
        for task in tasks
    ]
    return _table(head, rows)


def _hazards(section: HazardsOut | None, tz: ZoneInfo) -> str:
    heading = _h2(("二、安全隐患", "2. Hazards"))
    if section is None:
        return heading + _note(("未接入隐患台账。", "No hazard ledger is connected."))
    head = [
        ("等级", "Grade"),
        ("新发现", "Found"),
        ("已验收闭环", "Closed"),
        ("未闭环", "Still open"),
        ("逾期未整改", "Overdue"),
    ]
    rows = [
        [
            _words(HAZARD_GRADE[c.grade]) if c.grade is not None else _words(("合计", "Total")),
            _num(c.opened),
            _num(c.closed),
            _num(c.still_open),
            _num(c.overdue, bad=c.overdue > 0),
        ]
        for c in [*section.by_grade, section.total]
    ]
    out = heading + _table(head, rows, numeric_from=1)
    if section.open:
        lines = [
            [
                _num(h.id),
                _words(HAZARD_GRADE[h.grade]),
                _local(h.title),
                escape(h.room or "—"),
                _words(HAZARD_STATE[h.state]),
                escape(h.owner or "—"),
                _deadline(h.deadline, tz, overdue=h.overdue),
            ]
            for h in section.open
        ]
        out += f"<h3>{_words(('未闭环隐患', 'Open hazards'))}</h3>" + _table(
            [
                ("编号", "No."),
                ("等级", "Grade"),
                ("隐患", "Hazard"),
                ("库房", "Room"),
                ("状态", "State"),
                ("责任人", "Owner"),
                ("整改期限", "Deadline"),
            ],
            lines,
        )
    return out


def _climate(rooms: Sequence[RoomClimateOut]) -> str:
    heading = _h2(("三、库房温湿度与保存环境", "3. Stack climate and preservation"))
    note = _note(
        (
            (
                "达标时间按时间加权，只计有数据的时间；日较差为当地每日最高减最低，"
                "限值为 JGJ 25-2010 §5.2.3 的 ±2 °C / ±5 %（即最高最低差 4 °C / 10 %）。"
            ),
            (
                "Shares are weighted by time, over the time with data. A day's swing is its max − "
                "min (site-local day) against JGJ 25-2010 §5.2.3's ±2 °C / ±5 % (4 °C / 10 % "
                "peak to peak)."
            ),
        )
    )
    head = [
        ("库房", "Room"),
        ("限值", "Limits"),
        ("达标时间", "Within limits"),
        ("温度最大日较差", "Worst T swing"),
        ("湿度最大日较差", "Worst RH swing"),
        ("TWPI", "years"),
        ("霉变风险", "Mold risk"),
        ("数据", "Data"),
    ]
    rows = [
        [
            f"{escape(room.room)}<br>{_local(room.name)}",
            (
                f"{room.temperature_limits.min:g}–{room.temperature_limits.max:g} °C<br>"
                f"{room.humidity_limits.min:g}–{room.humidity_limits.max:g} %RH"
            ),
            _within(room),
            _swing(room.temperature_swing, "°C"),
            _swing(room.humidity_swing, "%"),
            _twpi(room.twpi, room.twpi_rating),
            _mold(room.mold_rating, room.mold_index_max),
            _data(room),
        ]
        for room in rooms
    ]
    return heading + note + _table(head, rows)


def _alarms(section: AlarmsOut) -> str:
    heading = _h2(("四、告警与响应", "4. Alarms and response"))
    head = [
        ("类别", "Category"),
        ("级别", "Severity"),
        ("次数", "Count"),
        ("已确认", "Acknowledged"),
        ("未确认", "Unacknowledged"),
        ("确认用时中位数", "Median time to ack"),
        ("最长确认用时", "Longest time to ack"),
    ]
    rows = [
        [
            _words(CATEGORY[g.category]),
            _words(SEVERITY[g.severity]),
            _num(g.count),
            _num(g.acknowledged),
            _num(g.unacknowledged, bad=g.unacknowledged > 0),
            _duration(g.median_ack_s),
            _duration(g.max_ack_s),
        ]
        for g in section.groups
    ]
    t = section.total
    rows.append(
        [
            _words(("合计", "Total")),
            "",
            _num(t.count),
            _num(t.acknowledged),
            _num(t.unacknowledged, bad=t.unacknowledged > 0),
            _duration(t.median_ack_s),
            _duration(t.max_ack_s),
        ]
    )
    note = _note(
        (
            f"维护窗口内的告警 {t.suppressed} 条计入次数，不计入确认用时。",
            (
                f"{t.suppressed} alarm(s) raised in maintenance windows are counted, "
                "but not in the times to acknowledge."
            ),
        )
    )
    return heading + _table(head, rows, numeric_from=2) + note


def _signatures() -> str:
    rows = "".join(
        f"<tr><th>{_words(role)}</th>"
        f"<td>{_words(('签字', 'Signature'))} <span class='line'></span></td>"
        f"<td>{_words(('日期', 'Date'))} <span class='line'></span></td></tr>"
        for role in SIGNATORIES
    )
    return (
        '<section class="signatures">'
        + _h2(("季考核意见与签字", "Quarterly assessment: remarks and sign-off"))
        + f"<div class='remarks'>{_words(('考核意见', 'Remarks'))}</div>"
        + f"<table class='sign'><tbody>{rows}</tbody></table>"
        + "</section>"
    )


# -- cells ----------------------------------------------------------------------------


def _window(task: TaskLineOut, tz: ZoneInfo) -> str:
    """08:30–10:00 on one day; a weekly or monthly window shows both dates."""
    start, end = task.window_start.astimezone(tz), task.window_end.astimezone(tz)
    same_day = start.date() == end.date()
    return f"{escape(_when(start, tz))} – {escape(_when(end, tz, time_only=same_day))}"


def _deadline(deadline: datetime | None, tz: ZoneInfo, *, overdue: bool) -> str:
    if deadline is None:
        return _NONE
    text = escape(_when(deadline, tz))
    return f'<span class="bad">{text}</span>' if overdue else text


def _within(room: RoomClimateOut) -> str:
    if room.within_limits is None:
        return _words(("无数据", "No data"))
    share = _percent(room.within_limits, bad=room.within_limits < 1)
    t, rh = room.temperature_within, room.humidity_within
    detail = f"T {_percent(t)} · RH {_percent(rh)}" if t is not None and rh is not None else ""
    return f"{share}<span class='en'>{detail}</span>"


def _swing(swing: SwingOut | None, unit: str) -> str:
    if swing is None:
        return _NONE
    value = f"{swing.swing:g} {unit}"
    cell = f'<span class="bad">{value}</span>' if not swing.within else value
    over = f" · {swing.days_over} 天超限 days over" if swing.days_over else ""
    return (
        f"{cell}<span class='en'>{swing.day.isoformat()} "
        f"({swing.minimum:g}–{swing.maximum:g}; ≤ {swing.allowed:g}){over}</span>"
    )


def _twpi(value: float | None, rating: TwpiRating | None) -> str:
    if value is None or rating is None:
        return _NONE
    words = TWPI_RATING[rating]
    text = f"{value:g} {escape(words[0])}<span class='en'>{escape(words[1])}</span>"
    return f'<span class="bad">{text}</span>' if rating is TwpiRating.POOR else text


def _mold(rating: Rating | None, index: float | None) -> str:
    if rating is None:
        return _NONE
    words = RATING[rating]
    detail = f" · index {index:.2g}" if index else ""
    text = f"{escape(words[0])}<span class='en'>{escape(words[1])}{detail}</span>"
    return f'<span class="bad">{text}</span>' if rating is Rating.RISK else text


def _data(room: RoomClimateOut) -> str:
    """How much the room's figures rest on: samples, the share of time covered, gaps."""
    coverage = _percent(room.coverage, bad=room.coverage is not None and room.coverage < 1)
    gaps = f"{room.gap_count} 处缺测 gaps · {_duration(room.gap_s)}" if room.gap_count else ""
    return f"{room.samples} 样本 samples<br>覆盖 coverage {coverage}<span class='en'>{gaps}</span>"


def _percent(share: float | None, *, bad: bool = False) -> str:
    if share is None:
        return _NONE
    text = f"{share * 100:.1f} %"
    return f'<span class="bad">{text}</span>' if bad else text


def _duration(seconds: float | None) -> str:
    """h:mm:ss, the same in both languages; days are counted in the hours."""
    if seconds is None:
        return _NONE
    whole = round(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def _num(value: int, *, bad: bool = False) -> str:
    return f'<span class="bad">{value}</span>' if bad else str(value)


def _when(at: datetime | None, tz: ZoneInfo, *, time_only: bool = False) -> str:
    if at is None:
        return "—"
    return at.astimezone(tz).strftime("%H:%M" if time_only else "%Y-%m-%d %H:%M")


def _words(words: Words) -> str:
    return f"{escape(words[0])} <span class='en'>{escape(words[1])}</span>"


def _local(text: LocalText) -> str:
    return _words((text.zh, text.en))


def _h2(words: Words) -> str:
    return f"<h2>{_words(words)}</h2>"


def _note(words: Words) -> str:
    return f"<p class='note'>{escape(words[0])}<br>{escape(words[1])}</p>"


def _table(
    head: Sequence[Words], rows: Iterable[Sequence[str]], numeric_from: int | None = None
) -> str:
    """A table; columns from ``numeric_from`` on are right-aligned numbers."""

    def cls(i: int) -> str:
        return ' class="num"' if numeric_from is not None and i >= numeric_from else ""

    thead = "".join(f"<th{cls(i)}>{_words(h)}</th>" for i, h in enumerate(head))
    body = "".join(
        "<tr>" + "".join(f"<td{cls(i)}>{cell}</td>" for i, cell in enumerate(row)) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{thead}</tr></thead><tbody>{body}</tbody></table>"
