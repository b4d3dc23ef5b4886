"""Inspection templates: the validated YAML file and the compiled runtime templates.

A template says what is checked (its checklist), where (one task per stack room, per
floor or for the site), when (a cadence and one or more time windows in the site's
local time) and by whom (a role). ``load_templates`` validates the file once, checks it
against the facility (sites, floors and room classes that exist), and compiles it into
``Template`` objects with ``models.ChecklistItem`` lines; nothing after that re-checks.

The routine is 日巡查、周检查、月排查、季考核 (archive-standards.md §2); the shipped
``example-inspections.yaml`` holds one template per cadence and is the default when no
inspection file is configured.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, time, timedelta
from pathlib import Path
from typing import Annotated, Any, Self

from pydantic import Field, PrivateAttr, ValidationInfo, field_validator, model_validator

from alerts.rota import WEEKDAYS, Weekday
from alerts.rota import Clock as ClockTime
from inspections.cron import cron_trigger
from inspections.models import (
    Cadence,
    ChecklistItem,
    HazardGrade,
    ItemKind,
    PhotoRule,
    Scope,
)
from sensors.duration import Duration, PositiveDuration, format_duration
from sensors.events import Severity
from sensors.facility import Facility
from sensors.room_classes import LocalName, StrictModel
from sensors.yamlconfig import Loc, load_yaml_model, parse_yaml_model

EXAMPLE_TEMPLATES = Path(__file__).with_name("example-inspections.yaml")

Key = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
Role = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]

# The numeric sensor fields a reading item can be filled in from (sensors/payload.py),
# with the unit the sensors report them in.
READING_UNITS = {
    "temperature": "°C",
    "humidity": "%RH",
    "lux": "lx",
    "uv": "µW/lm",
    "pm25": "µg/m³",
    "voc": "mg/m³",
}
# The fields the room classes give limits for (JGJ 25-2010 Table 5.2.1, §1.1).
CLASS_LIMITED = frozenset({"temperature", "humidity"})

# How long a window may last: a window longer than its cadence would overlap the next.
_LONGEST_WINDOW = {
    Cadence.DAILY: timedelta(days=1),
    Cadence.WEEKLY: timedelta(days=7),
    Cadence.MONTHLY: timedelta(days=28),
    Cadence.QUARTERLY: timedelta(days=90),
}


class WindowConfig(StrictModel):
    """When the task must be done, in the site's local time.

    A window whose end is not after its start ends the next day (22:00–02:00);
    ``end_days_later`` lets a weekly or monthly window run over several days.
    """

    start: ClockTime
    end: ClockTime
    end_days_later: int = Field(default=0, ge=0, le=89)


class ItemConfig(StrictModel):
    key: Key
    kind: ItemKind = ItemKind.CHECK
    label: LocalName
    # None: required for a photo item, none for the others.
    photo: PhotoRule | None = None
    # A reading item: the sensor field that fills it in, and the limits outside which
    # the answer fails (temperature and humidity default to the room class's limits).
    field: str | None = None
    unit: str | None = Field(default=None, min_length=1, max_length=20)
    min: float | None = None
    max: float | None = None
    hazard_grade: HazardGrade = HazardGrade.GENERAL

    @model_validator(mode="after")
    def _shape(self) -> Self:
        if self.kind is ItemKind.READING:
            if self.field is None:
                raise ValueError("a reading item needs a field (" + ", ".join(READING_UNITS) + ")")
            if self.field not in READING_UNITS:
                choices = ", ".join(READING_UNITS)
                raise ValueError(f"unknown reading field {self.field!r} (known: {choices})")
            if self.min is not None and self.max is not None and self.min >= self.max:
                raise ValueError(f"min ({self.min}) must be below max ({self.max})")
        elif any(v is not None for v in (self.field, self.unit, self.min, self.max)):
            raise ValueError("field, unit, min and max belong to reading items only")
        if self.kind is ItemKind.PHOTO and self.photo in (PhotoRule.NONE, PhotoRule.OPTIONAL):
            raise ValueError("a photo item always needs its photo (leave photo out)")
        return self


class TemplateConfig(StrictModel):
    id: Key
    title: LocalName
    cadence: Cadence
    # weekly: the weekday; monthly and quarterly: the day of the month (a day past the
    # month's end means its last day), and for quarterly the month of the quarter.
    weekday: Weekday | None = None
    day: int | None = Field(default=None, ge=1, le=31)
    month_of_quarter: int | None = Field(default=None, ge=1, le=3)
    windows: list[WindowConfig] = Field(default_factory=list)
    # cron: a standard five-field expression (minute hour day month weekday, Sunday 0
    # or 7) in the site's time zone; each match opens a window lasting ``duration``.
    cron: str | None = None
    duration: PositiveDuration | None = None
    scope: Scope = Scope.ROOM
    # Only rooms of these classes (and floors or sites that have one); None: all.
    room_classes: list[str] | None = Field(default=None, min_length=1)
    floors: list[str] | None = Field(default=None, min_length=1)
    sites: list[str] | None = Field(default=None, min_length=1)
    role: Role
    remind_before: Duration = timedelta(minutes=30)
    overdue_severity: Severity = Severity.MEDIUM
    items: list[ItemConfig] = Field(min_length=1)

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str | None) -> str | None:
        if value is not None:
            cron_trigger(value, "UTC")  # raises ValueError naming what is wrong
        return value

    def cadence_problems(self) -> list[tuple[Loc, str]]:
        """Fields the cadence needs but lacks, or has but cannot use (relative locations)."""
        given = {name for name in _CADENCE_FIELDS if getattr(self, name) is not None}
        needed = _CADENCE_NEEDS[self.cadence]
        allowed = needed | ({"month_of_quarter"} if self.cadence is Cadence.QUARTERLY else set())
        found: list[tuple[Loc, str]] = [
            ((name,), f"a {self.cadence} template needs {name}") for name in sorted(needed - given)
        ]
        found += [
            ((name,), f"{name} does not apply to a {self.cadence} template")
            for name in sorted(given - allowed)
        ]
        if self.cadence is Cadence.CRON and self.windows:
            found.append(
                (("windows",), "a cron template's windows are its cron times and duration")
            )
        if self.cadence is not Cadence.CRON and not self.windows:
            found.append((("windows",), f"a {self.cadence} template needs at least one window"))
        return found


_CADENCE_FIELDS = ("weekday", "day", "month_of_quarter", "cron", "duration")
_CADENCE_NEEDS: dict[Cadence, set[str]] = {
    Cadence.DAILY: set(),
    Cadence.WEEKLY: {"weekday"},
    Cadence.MONTHLY: {"day"},
    Cadence.QUARTERLY: {"day"},
    Cadence.CRON: {"cron", "duration"},
}


class InspectionsConfig(StrictModel):
    """The inspections file: the templates."""

    templates: list[TemplateConfig] = Field(min_length=1)

    _facility: Facility | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _remember_context(self, info: ValidationInfo) -> Self:
        if info.context is not None:
            self._facility = info.context.get("facility")
        return self

    def cross_check(self) -> list[tuple[Loc, str]]:
        problems: list[tuple[Loc, str]] = []
        seen: set[str] = set()
        for t, template in enumerate(self.templates):
            at: Loc = ("templates", t)
            if template.id in seen:
                problems.append(((*at, "id"), f"duplicate template id {template.id!r}"))
            seen.add(template.id)
            cadence = [((*at, *loc), msg) for loc, msg in template.cadence_problems()]
            problems += cadence
            if cadence:
                continue  # the schedule checks below need a coherent cadence
            problems += _check_items(at, template)
            problems += _check_windows(at, template)
            if self._facility is not None:
                problems += _check_places(at, template, self._facility)
        return problems


def _check_items(at: Loc, template: TemplateConfig) -> list[tuple[Loc, str]]:
    found: list[tuple[Loc, str]] = []
    keys: set[str] = set()
    for i, item in enumerate(template.items):
        if item.key in keys:
            found.append(((*at, "items", i, "key"), f"duplicate item key {item.key!r}"))
        keys.add(item.key)
        unlimited = item.min is None or item.max is None
        if item.field in CLASS_LIMITED and template.scope is not Scope.ROOM and unlimited:
            # Room-class limits belong to one room; a floor or the site has no single class.
            found.append(
                (
                    (*at, "items", i),
                    f"a {template.scope}-scoped {item.field} reading needs both min and max",
                )
            )
    return found


def _check_windows(at: Loc, template: TemplateConfig) -> list[tuple[Loc, str]]:
    found: list[tuple[Loc, str]] = []
    starts: set[str] = set()
    longest = _LONGEST_WINDOW.get(template.cadence)
    for w, config in enumerate(template.windows):
        if config.start in starts:
            # The start names the occurrence in the task key: two windows may not share it.
            found.append(((*at, "windows", w, "start"), f"two windows start at {config.start}"))
        starts.add(config.start)
        window = Window.of(config)
        if longest is not None and window.length > longest:
            found.append(
                (
                    (*at, "windows", w),
                    f"a {template.cadence} window may last at most {format_duration(longest)}",
                )
            )
    return found


def _check_places(at: Loc, template: TemplateConfig, facility: Facility) -> list[tuple[Loc, str]]:
    found: list[tuple[Loc, str]] = []
    known_classes = set(facility.room_classes) or {r.room_class for r in facility.rooms.values()}
    for name in template.room_classes or ():
        if name not in known_classes:
            choices = ", ".join(sorted(known_classes))
            found.append(((*at, "room_classes"), f"unknown room class {name!r} (known: {choices})"))
    known_floors = {f for site in facility.sites.values() for _, f, _ in site.floors}
    found += [
        ((*at, "floors"), f"unknown floor {name!r}")
        for name in template.floors or ()
        if name not in known_floors
    ]
    found += [
        ((*at, "sites"), f"unknown site {name!r}")
        for name in template.sites or ()
        if name not in facility.sites
    ]
    if not found and (template.room_classes or template.floors or template.sites):
        compiled = compile_template(template)
        if not any(compiled.rooms(facility, site) for site in facility.sites):
            found.append((at, "the template's sites, floors and room classes match no room"))
    return found


# -- the compiled templates ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Window:
    """A window in local wall-clock time: from ``start`` on the occurrence's day until
    ``end`` on the day ``end_days_later`` after it."""

    start: time
    end: time
    end_days_later: int

    @classmethod
    def of(cls, config: WindowConfig) -> Window:
        start = _time(config.start)
        days = config.end_days_later
        if config.end == "24:00":
            end, days = time(0), days + 1
        else:
            end = _time(config.end)
            if days == 0 and end <= start:
                days = 1  # 22:00–02:00 runs past midnight
        return cls(start, end, days)

    @property
    def length(self) -> timedelta:
        """The nominal length (a night when the clocks change makes it an hour off)."""
        start = timedelta(hours=self.start.hour, minutes=self.start.minute)
        end = timedelta(days=self.end_days_later, hours=self.end.hour, minutes=self.end.minute)
        return end - start

    @property
    def label(self) -> str:
        """08:30–10:00, or 09:00–+4d 17:00 for a window over several days."""
        later = f"+{self.end_days_later}d " if self.end_days_later > 1 else ""
        return f"{self.start:%H:%M}–{later}{self.end:%H:%M}"


@dataclass(frozen=True, slots=True)
class Template:
    """A compiled template: the schedule math and the checklist, nothing to re-check."""

    id: str
    title_zh: str
    title_en: str
    cadence: Cadence
    scope: Scope
    role: str
    items: tuple[ChecklistItem, ...]
    windows: tuple[Window, ...] = ()
    weekday: int | None = None  # Monday 0, as date.weekday()
    day: int | None = None
    month_of_quarter: int = 1
    cron: str | None = None
    duration: timedelta | None = None
    room_classes: frozenset[str] | None = None
    floors: frozenset[str] | None = None
    sites: frozenset[str] | None = None
    remind_before: timedelta = timedelta(minutes=30)
    overdue_severity: Severity = Severity.MEDIUM

    def applies_to_site(self, site: str) -> bool:
        return self.sites is None or site in self.sites

    def rooms(self, facility: Facility, site: str) -> list[str]:
        """The site's rooms this template's filters let through, in facility order."""
        if not self.applies_to_site(site):
            return []
        return [
            room.id
            for (room_site, _), room in facility.rooms.items()
            if room_site == site
            and (self.room_classes is None or room.room_class in self.room_classes)
            and (self.floors is None or room.floor in self.floors)
        ]

    def runs_on(self, day: date) -> bool:
        """Whether ``day`` (a local date) is one of the template's days (not for cron)."""
        if self.cadence is Cadence.DAILY:
            return True
        if self.cadence is Cadence.WEEKLY:
            return day.weekday() == self.weekday
        if self.cadence is Cadence.QUARTERLY and (day.month - 1) % 3 != self.month_of_quarter - 1:
            return False
        if self.cadence in (Cadence.MONTHLY, Cadence.QUARTERLY) and self.day is not None:
            last = calendar.monthrange(day.year, day.month)[1]
            return day.day == min(self.day, last)
        return False

    @property
    def reach(self) -> timedelta:
        """The longest time from an occurrence's creation to its window's end: how far
        back a first start looks for tasks that can still be done."""
        if self.duration is not None:
            return self.duration
        return timedelta(days=max(w.end_days_later for w in self.windows) + 1)


def _time(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def compile_item(config: ItemConfig) -> ChecklistItem:
    photo = config.photo
    if photo is None:
        photo = PhotoRule.REQUIRED if config.kind is ItemKind.PHOTO else PhotoRule.NONE
    return ChecklistItem(
        key=config.key,
        kind=config.kind,
        label_zh=config.label.zh,
        label_en=config.label.en,
        photo=photo,
        field=config.field,
        unit=config.unit or (READING_UNITS.get(config.field) if config.field else None),
        minimum=config.min,
        maximum=config.max,
        hazard_grade=config.hazard_grade,
    )


def compile_template(config: TemplateConfig) -> Template:
    return Template(
        id=config.id,
        title_zh=config.title.zh,
        title_en=config.title.en,
        cadence=config.cadence,
        scope=config.scope,
        role=config.role,
        items=tuple(compile_item(item) for item in config.items),
        windows=tuple(Window.of(w) for w in config.windows),
        weekday=None if config.weekday is None else WEEKDAYS.index(config.weekday),
        day=config.day,
        month_of_quarter=config.month_of_quarter or 1,
        cron=config.cron,
        duration=config.duration,
        room_classes=_set(config.room_classes),
        floors=_set(config.floors),
        sites=_set(config.sites),
        remind_before=config.remind_before,
        overdue_severity=config.overdue_severity,
    )


def _set(values: Sequence[str] | None) -> frozenset[str] | None:
    return None if values is None else frozenset(values)


def load_templates(path: Path, facility: Facility) -> tuple[Template, ...]:
    """Load, check against ``facility`` and compile a templates file (raises ConfigError)."""
    context: dict[str, Any] = {"facility": facility}
    config = load_yaml_model(path, InspectionsConfig, context=context)
    return tuple(compile_template(t) for t in config.templates)


def parse_templates(
    text: str, facility: Facility, filename: str = "<string>"
) -> tuple[Template, ...]:
    """Like ``load_templates``, from YAML text (errors name ``filename``)."""
    context: dict[str, Any] = {"facility": facility}
    config = parse_yaml_model(text, InspectionsConfig, filename=filename, context=context)
    return tuple(compile_template(t) for t in config.templates)


def default_templates(facility: Facility) -> tuple[Template, ...]:
    """The shipped templates (one per cadence), used when no inspection file is configured."""
    return load_templates(EXAMPLE_TEMPLATES, facility)
