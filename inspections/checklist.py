"""Checklists: what a rule's request asks, how an answer is judged, when a task is complete.

Pure functions over ``models`` data; the service calls them inside its transactions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

from inspections.errors import Refused
from inspections.models import (
    ChecklistItem,
    HazardGrade,
    ItemKind,
    PhotoRule,
    Result,
    Task,
)
from sensors.facility import RoomInfo

# A rule's request ("RH high in B2-03 for 2 h: check the dehumidifier"): go and look.
RULE_CHECKLIST = (
    ChecklistItem(
        key="checked",
        kind=ItemKind.CHECK,
        label_zh="已到现场检查设备与环境，情况正常",
        label_en="Went and checked the equipment and the room: all in order",
        photo=PhotoRule.OPTIONAL,
    ),
)

# Hazard grades from least to most serious: a person may raise an item's grade, not lower it.
GRADE_RANK = {HazardGrade.GENERAL: 0, HazardGrade.DANGER: 1, HazardGrade.HIGH: 2}


def raised_grade(default: HazardGrade, asked: HazardGrade | None) -> HazardGrade:
    """The item's grade, or the grade the person asked for when it is more serious."""
    if asked is not None and GRADE_RANK[asked] > GRADE_RANK[default]:
        return asked
    return default


def with_room_limits(
    items: Sequence[ChecklistItem], room: RoomInfo | None
) -> tuple[ChecklistItem, ...]:
    """A room's task carries the room's own climate limits (its class's, JGJ 25-2010
    Table 5.2.1, or the room's override) for temperature and humidity readings whose
    template left them open."""
    if room is None:
        return tuple(items)
    bands = {"temperature": room.limits.temperature, "humidity": room.limits.humidity}
    resolved = []
    for item in items:
        band = bands.get(item.field or "")
        if item.kind is ItemKind.READING and band is not None:
            resolved.append(
                replace(
                    item,
                    minimum=band.min if item.minimum is None else item.minimum,
                    maximum=band.max if item.maximum is None else item.maximum,
                )
            )
        else:
            resolved.append(item)
    return tuple(resolved)


def find_item(task: Task, item_key: str) -> ChecklistItem:
    for item in task.items:
        if item.key == item_key:
            return item
    raise Refused(
        "not_found",
        f"task {task.id} has no item {item_key!r}",
        f"任务 {task.id} 没有检查项 {item_key!r}",
    )


def judge(item: ChecklistItem, result: Result, value: float | None) -> Result:
    """The answer's result: a reading outside its limits fails whatever was said."""
    if value is not None and not math.isfinite(value):
        raise Refused("invalid", "the reading is not a number", "读数无效")
    if item.kind is not ItemKind.READING:
        if value is not None:
            raise Refused(
                "invalid", f"item {item.key!r} takes no reading", f"检查项 {item.key!r} 无需读数"
            )
        return result
    if result is Result.NOT_APPLICABLE:
        return result
    if value is None:
        raise Refused(
            "invalid", f"enter the reading for {item.label_en}", f"请填写「{item.label_zh}」的读数"
        )
    too_low = item.minimum is not None and value < item.minimum
    too_high = item.maximum is not None and value > item.maximum
    return Result.FAIL if too_low or too_high else result


def check_complete(task: Task) -> None:
    given = {a.item_key: a for a in task.answers}
    unanswered = [i for i in task.items if i.key not in given]
    if unanswered:
        raise Refused(
            "invalid",
            "not answered yet: " + "; ".join(i.label_en for i in unanswered),
            "尚未填写：" + "；".join(i.label_zh for i in unanswered),
        )
    needs_photo = [
        i
        for i in task.items
        if (i.photo is PhotoRule.REQUIRED or i.kind is ItemKind.PHOTO)
        and given[i.key].result is not Result.NOT_APPLICABLE
        and not given[i.key].photo_ids
    ]
    if needs_photo:
        raise Refused(
            "invalid",
            "a photo is required for: " + "; ".join(i.label_en for i in needs_photo),
            "以下检查项须拍照：" + "；".join(i.label_zh for i in needs_photo),
        )
