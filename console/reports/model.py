"""The report's shape: what the JSON endpoint returns and what the HTML and CSV print.

Codes (``fire``, ``weekly``, ``high``) are kept as codes here, for programs; the printed
forms put words on them (console/reports/labels.py). Durations are seconds and shares
are fractions 0…1, so a program need not parse "3 h 5 min" or "75 %".
"""

from __future__ import annotations

from datetime import date

from pydantic import Field

from console.reports.periods import PeriodKind
from console.schemas import BandOut, LocalText, Out, UtcTime
from inspections.models import HazardGrade, HazardState, TaskStatus
from rules.preservation import Rating, TwpiRating
from sensors.events import Category, Severity


class PeriodOut(Out):
    """The period reported on: site-local days, and the same span as UTC instants."""

    kind: PeriodKind
    slug: str = Field(description="2026-01-05, 2026-W02, 2026-01 or 2026-Q1")
    label: LocalText
    first_day: date = Field(description="the first site-local day")
    last_day: date = Field(description="the last site-local day, inclusive")
    start: UtcTime = Field(description="local midnight starting first_day")
    end: UtcTime = Field(description="local midnight after last_day (exclusive)")
    timezone: str


# -- inspections ----------------------------------------------------------------------


class TaskCountsOut(Out):
    """Tasks of one cadence (or ``rule`` for tasks a rule asked for), by outcome."""

    cadence: str = Field(description="daily, weekly, monthly, quarterly, cron, rule; all")
    total: int
    on_time: int = Field(description="signed off within the window")
    late: int = Field(description="signed off after the window closed")
    missed: int = Field(description="the window closed unsigned, and still not signed")
    open: int = Field(description="the window has not closed yet")


class TaskLineOut(Out):
    """A missed or late task, for the list under the counts."""

    id: int
    cadence: str
    room: str | None
    floor: str | None
    title: LocalText
    role: str
    window_start: UtcTime
    window_end: UtcTime
    status: TaskStatus
    signed_by: str | None
    signed_at: UtcTime | None
    late_by_s: float | None = Field(description="seconds signed after the window closed")


class InspectionsOut(Out):
    """Tasks whose window opened in the period (up to ``as_of``)."""

    total: TaskCountsOut
    by_cadence: list[TaskCountsOut]
    missed: list[TaskLineOut]
    late: list[TaskLineOut]


class HazardCountsOut(Out):
    """Hazards of one grade (or of all grades: ``grade`` null)."""

    grade: HazardGrade | None
    opened: int = Field(description="found in the period")
    closed: int = Field(description="accepted after re-inspection (or filed) in the period")
    still_open: int = Field(description="not yet accepted at the end of the period")
    overdue: int = Field(description="still open and past their deadline")


class HazardLineOut(Out):
    """A hazard still open at the end of the period (the ledger's open lines)."""

    id: int
    room: str | None
    title: LocalText
    grade: HazardGrade
    state: HazardState = Field(description="its state at the end of the period")
    found_at: UtcTime
    owner: str | None
    deadline: UtcTime | None
    overdue: bool


class HazardsOut(Out):
    total: HazardCountsOut
    by_grade: list[HazardCountsOut]
    open: list[HazardLineOut]


# -- climate --------------------------------------------------------------------------


class GapOut(Out):
    """A stretch with no climate data for the room."""

    start: UtcTime
    end: UtcTime
    seconds: float


class SwingOut(Out):
    """The largest day–night swing (max − min over one site-local day) of the period."""

    day: date
    minimum: float
    maximum: float
    swing: float
    allowed: float = Field(description="max − min allowed: twice the ±x of JGJ 25-2010 §5.2.3")
    within: bool
    days_over: int = Field(description="days of the period whose swing exceeded the allowed")


class RoomClimateOut(Out):
    """One room's climate over the period, and how much data the figures rest on."""

    room: str
    name: LocalText
    floor: str
    room_class: str
    room_class_name: LocalText
    temperature_limits: BandOut
    humidity_limits: BandOut
    samples: int = Field(description="climate samples in the period (one a minute when healthy)")
    covered_s: float = Field(description="seconds the samples stand for")
    gap_s: float = Field(description="seconds of the period with no data")
    coverage: float | None = Field(description="covered_s over the period so far, 0…1")
    gap_count: int
    longest_gaps: list[GapOut] = Field(description="the longest gaps, longest first")
    within_limits: float | None = Field(
        description="share of the covered time with T and RH both within the limits, 0…1"
    )
    temperature_within: float | None
    humidity_within: float | None
    temperature_range: tuple[float, float] | None
    humidity_range: tuple[float, float] | None
    temperature_swing: SwingOut | None
    humidity_swing: SwingOut | None
    twpi: float | None = Field(description="time-weighted Preservation Index, years")
    twpi_rating: TwpiRating | None
    mold_index_max: float | None = Field(description="highest mold index, 0…1")
    mold_rating: Rating | None = Field(description="risk if mold could grow at any time")


# -- alarms ---------------------------------------------------------------------------


class AckTimesOut(Out):
    """Alarms and how long they waited for somebody to acknowledge them."""

    count: int
    acknowledged: int
    unacknowledged: int = Field(description="never acknowledged (so far)")
    suppressed: int = Field(description="raised in a maintenance window; not in the times")
    median_ack_s: float | None
    max_ack_s: float | None


class AlarmGroupOut(AckTimesOut):
    category: Category
    severity: Severity


class AlarmsOut(Out):
    """Alarms raised in the period, by category and severity."""

    total: AckTimesOut
    groups: list[AlarmGroupOut]
    reminders: int = Field(description="inspection reminders (inspection_due), not counted above")


# -- the report -----------------------------------------------------------------------


class ReportOut(Out):
    """A site's inspection and safety report for one period."""

    site: str
    site_name: LocalText
    period: PeriodOut
    generated_at: UtcTime
    as_of: UtcTime = Field(description="the figures cover period.start up to here")
    complete: bool = Field(description="the period has ended")
    inspections: InspectionsOut | None = Field(description="null: no inspection store wired")
    hazards: HazardsOut | None
    rooms: list[RoomClimateOut]
    alarms: AlarmsOut
