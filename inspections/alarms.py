"""The alarm events inspections raise, worded in Chinese and English.

Overdue work goes through the alarm pipeline like any alarm (the issue: "a missed patrol
escalates like an alarm"), so the desk sees it, the on-duty rota is told by the routing
policy for its severity, and it escalates until somebody acts. Three conditions:

- ``inspection_due``: the window ends within ``remind_before`` and the task is unsigned.
  LOW severity: the routine policy tells the guard on duty (console and SMS) without
  waking the supervisor. It is the reminder: an alarm rather than a separate channel, so
  that it reaches whoever is on duty through the rotas, escalation and delivery retries
  that already exist, and shows on the desk. Cleared by the sign-off or when the window
  closes (the overdue alarm replaces it).
- ``inspection_overdue``: the window closed unsigned; the template's severity (medium by
  default). Cleared by the (late) sign-off.
- ``hazard_overdue``: a hazard past its rectification deadline; severity by grade
  (高危 → high, 危险 → medium, 一般 → low). Cleared when it is rectified.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from inspections.models import Hazard, HazardGrade, Task
from sensors.events import AlarmEvent, Category, Severity, Transition
from sensors.facility import Facility

DUE_RULE = "inspection_due"
OVERDUE_RULE = "inspection_overdue"
HAZARD_RULE = "hazard_overdue"

HAZARD_SEVERITY = {
    HazardGrade.HIGH: Severity.HIGH,
    HazardGrade.DANGER: Severity.MEDIUM,
    HazardGrade.GENERAL: Severity.LOW,
}
GRADE_TEXT = {
    HazardGrade.HIGH: ("高危", "high risk"),
    HazardGrade.DANGER: ("危险", "danger"),
    HazardGrade.GENERAL: ("一般", "general"),
}


def due_key(task_id: int) -> str:
    return f"inspection-due:{task_id}"


def overdue_key(task_id: int) -> str:
    return f"inspection-overdue:{task_id}"


def hazard_key(hazard_id: int) -> str:
    return f"hazard-overdue:{hazard_id}"


def place_names(
    facility: Facility, site: str, room: str | None, floor: str | None
) -> tuple[str, str]:
    """The place a task or hazard is about: "B2-01 第一纸质档案库", a floor, or the site."""
    if room is not None:
        info = facility.room(site, room)
        if info is not None:
            return f"{room} {info.name.zh}", f"{room} {info.name.en}"
        return room, room
    site_info = facility.sites.get(site)
    if site_info is None:
        return site, site
    if floor is not None:
        for _, floor_id, name in site_info.floors:
            if floor_id == floor:
                return name.zh, name.en
    return site_info.name.zh, site_info.name.en


def window_text(task: Task, zone: ZoneInfo) -> str:
    """2026-01-05 08:30–10:00, or with both dates when the window spans days."""
    start, end = task.window_start.astimezone(zone), task.window_end.astimezone(zone)
    if start.date() == end.date():
        return f"{start:%Y-%m-%d %H:%M}–{end:%H:%M}"
    return f"{start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M}"


def task_due(task: Task, facility: Facility, at: datetime) -> AlarmEvent:
    zh, en = place_names(facility, task.site, task.room, task.floor)
    zone = facility.sites[task.site].timezone
    end = task.window_end.astimezone(zone)
    window = window_text(task, zone)
    return _event(
        due_key(task.id),
        Transition.RAISE,
        DUE_RULE,
        Severity.LOW,
        task,
        at,
        f"巡查即将到期：{zh}「{task.title_zh}」须在 {end:%H:%M} 前完成签到（{window}）",
        f"Inspection due soon: {task.title_en} in {en} must be signed off by "
        f"{end:%H:%M} ({window})",
    )


def task_overdue(task: Task, facility: Facility, severity: Severity) -> AlarmEvent:
    zh, en = place_names(facility, task.site, task.room, task.floor)
    window = window_text(task, facility.sites[task.site].timezone)
    return _event(
        overdue_key(task.id),
        Transition.RAISE,
        OVERDUE_RULE,
        severity,
        task,
        task.window_end,
        f"巡查逾期：{zh}「{task.title_zh}」未在规定时间（{window}）内完成",
        f"Inspection overdue: {task.title_en} in {en} was not signed off in its window ({window})",
    )


def task_clear(
    key: str, rule: str, task: Task, facility: Facility, severity: Severity, at: datetime
) -> AlarmEvent:
    """The end of a reminder or an overdue alarm: signed off, or the window closed."""
    zh, en = place_names(facility, task.site, task.room, task.floor)
    if task.signed_by is None:
        texts = (
            f"{zh}「{task.title_zh}」的提醒由逾期告警接替",
            f"Reminder for {task.title_en} in {en} replaced by the overdue alarm",
        )
    else:
        texts = (
            f"{zh}「{task.title_zh}」已由 {task.signed_by} 完成签到",
            f"{task.title_en} in {en} signed off by {task.signed_by}",
        )
    return _event(key, Transition.CLEAR, rule, severity, task, at, *texts)


def hazard_overdue(hazard: Hazard, facility: Facility) -> AlarmEvent:
    zone = facility.sites[hazard.site].timezone
    deadline = hazard.deadline.astimezone(zone) if hazard.deadline else None
    when = f"{deadline:%Y-%m-%d %H:%M}" if deadline else "-"
    grade_zh, grade_en = GRADE_TEXT[hazard.grade]
    owner = hazard.owner or "-"
    return AlarmEvent(
        key=hazard_key(hazard.id),
        transition=Transition.RAISE,
        rule=HAZARD_RULE,
        category=Category.INSPECTION,
        severity=HAZARD_SEVERITY[hazard.grade],
        site=hazard.site,
        room=hazard.room,
        sensor=None,
        at=hazard.deadline or hazard.found_at,
        message_zh=f"隐患整改逾期：{hazard.title_zh}（{grade_zh}），责任人 {owner}，期限 {when}",
        message_en=(
            f"Hazard overdue: {hazard.title_en} ({grade_en}), owner {owner}, deadline {when}"
        ),
        value=str(hazard.id),
    )


def hazard_clear(hazard: Hazard, by: str, at: datetime) -> AlarmEvent:
    return AlarmEvent(
        key=hazard_key(hazard.id),
        transition=Transition.CLEAR,
        rule=HAZARD_RULE,
        category=Category.INSPECTION,
        severity=HAZARD_SEVERITY[hazard.grade],
        site=hazard.site,
        room=hazard.room,
        sensor=None,
        at=at,
        message_zh=f"隐患已整改：{hazard.title_zh}（{by}）",
        message_en=f"Hazard rectified: {hazard.title_en} ({by})",
        value=str(hazard.id),
    )


def _event(
    key: str,
    transition: Transition,
    rule: str,
    severity: Severity,
    task: Task,
    at: datetime,
    message_zh: str,
    message_en: str,
) -> AlarmEvent:
    return AlarmEvent(
        key=key,
        transition=transition,
        rule=rule,
        category=Category.INSPECTION,
        severity=severity,
        site=task.site,
        room=task.room,
        sensor=None,
        at=at,
        message_zh=message_zh,
        message_en=message_en,
        value=str(task.id),
    )
