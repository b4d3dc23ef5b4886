"""Tasks and hazards of a period: patrols on time, late and missed; hazards opened and closed.

A task's outcome is its status (inspections/models.py): ``done`` is on time, ``late`` was
signed after its window closed, ``missed`` is still unsigned after it, ``open`` has a
window that has not closed. A task is counted as it stands now: a patrol missed last week
and done late today counts as late. A hazard's state at the end of the period, though, is
read from its log, so last quarter's still-open hazards stay as they were at its end.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from console.reports.labels import CADENCE, RULE_TASKS
from console.reports.model import (
    HazardCountsOut,
    HazardLineOut,
    HazardsOut,
    InspectionsOut,
    TaskCountsOut,
    TaskLineOut,
)
from console.schemas import LocalText
from inspections.models import Hazard, HazardGrade, HazardState, Task, TaskStatus

# Accepted after re-inspection is the end of the loop; filing only archives the record
# (archive-standards.md §2, 隐患排查治理).
CLOSED_STATES = frozenset({HazardState.ACCEPTED, HazardState.FILED})
_CADENCE_ORDER = {code: i for i, code in enumerate(CADENCE)}


def cadence_of(task: Task) -> str:
    """The task's cadence code, or ``rule`` for a task a rule asked for."""
    return task.cadence.value if task.cadence is not None else RULE_TASKS


def inspection_summary(tasks: Sequence[Task]) -> InspectionsOut:
    """Counts per cadence and overall, and the missed and late tasks (oldest first)."""
    by_cadence: dict[str, list[Task]] = {}
    for task in tasks:
        by_cadence.setdefault(cadence_of(task), []).append(task)
    ordered = sorted(tasks, key=lambda t: (t.window_start, t.id))
    return InspectionsOut(
        total=_counts("all", tasks),
        by_cadence=[
            _counts(code, by_cadence[code])
            for code in sorted(by_cadence, key=lambda c: _CADENCE_ORDER.get(c, len(CADENCE)))
        ],
        missed=[_line(t) for t in ordered if t.status is TaskStatus.MISSED],
        late=[_line(t) for t in ordered if t.status is TaskStatus.LATE],
    )


def _counts(cadence: str, tasks: Sequence[Task]) -> TaskCountsOut:
    status = [t.status for t in tasks]
    return TaskCountsOut(
        cadence=cadence,
        total=len(tasks),
        on_time=status.count(TaskStatus.DONE),
        late=status.count(TaskStatus.LATE),
        missed=status.count(TaskStatus.MISSED),
        open=status.count(TaskStatus.OPEN),
    )


def _line(task: Task) -> TaskLineOut:
    late_by = None
    if task.status is TaskStatus.LATE and task.signed_at is not None:
        late_by = (task.signed_at - task.window_end).total_seconds()
    return TaskLineOut(
        id=task.id,
        cadence=cadence_of(task),
        room=task.room,
        floor=task.floor,
        title=LocalText(zh=task.title_zh, en=task.title_en),
        role=task.role,
        window_start=task.window_start,
        window_end=task.window_end,
        status=task.status,
        signed_by=task.signed_by,
        signed_at=task.signed_at,
        late_by_s=late_by,
    )


def state_at(hazard: Hazard, at: datetime) -> HazardState | None:
    """The hazard's state just before ``at``; None if it was not found yet.

    The log is the history; a hazard without one (never changed) is in its current state.
    """
    if hazard.found_at >= at:
        return None
    if not hazard.log:
        return hazard.state
    before = [entry for entry in hazard.log if entry.at < at]
    if not before:
        return HazardState.FOUND
    return max(before, key=lambda entry: entry.at).state


def closed_at(hazard: Hazard) -> datetime | None:
    """When the loop closed: the first accepted (or filed) entry of the log."""
    times = [entry.at for entry in hazard.log if entry.state in CLOSED_STATES]
    return min(times) if times else None


def hazard_summary(hazards: Sequence[Hazard], start: datetime, as_of: datetime) -> HazardsOut:
    """Opened and closed in [start, as_of), still open and overdue at ``as_of``."""
    lines: list[HazardLineOut] = []
    rows: dict[HazardGrade | None, list[int]] = {g: [0, 0, 0, 0] for g in (None, *HazardGrade)}
    for hazard in sorted(hazards, key=lambda h: (h.found_at, h.id)):
        state = state_at(hazard, as_of)
        if state is None:
            continue  # found after the period
        closed = closed_at(hazard)
        still_open = state not in CLOSED_STATES
        overdue = still_open and hazard.deadline is not None and hazard.deadline < as_of
        flags = (
            start <= hazard.found_at,
            closed is not None and start <= closed < as_of,
            still_open,
            overdue,
        )
        for grade in (None, hazard.grade):
            rows[grade] = [n + int(flag) for n, flag in zip(rows[grade], flags, strict=True)]
        if still_open:
            lines.append(
                HazardLineOut(
                    id=hazard.id,
                    room=hazard.room,
                    title=LocalText(zh=hazard.title_zh, en=hazard.title_en),
                    grade=hazard.grade,
                    state=state,
                    found_at=hazard.found_at,
                    owner=hazard.owner,
                    deadline=hazard.deadline,
                    overdue=overdue,
                )
            )
    counts = {
        grade: HazardCountsOut(grade=grade, opened=n[0], closed=n[1], still_open=n[2], overdue=n[3])
        for grade, n in rows.items()
    }
    grade_order = {g: i for i, g in enumerate(HazardGrade)}  # 高危 first
    return HazardsOut(
        total=counts[None],
        by_grade=[counts[g] for g in HazardGrade],
        open=sorted(lines, key=lambda h: (grade_order[h.grade], h.found_at, h.id)),
    )
