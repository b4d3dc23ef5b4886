"""Builds a site's report for a period from the stores, as of the clock's now.

A report for a period still running covers its start up to now (``as_of``): no figure
counts the future as a gap or a missed patrol. Past periods are recomputed on request
from the records, which stay put; nothing is cached.
"""

from __future__ import annotations

from datetime import date, datetime

from console.reports.alarm_summary import alarm_summary
from console.reports.climate import room_climate
from console.reports.config import ReportsConfig
from console.reports.inspection_summary import hazard_summary, inspection_summary
from console.reports.model import PeriodOut, ReportOut, RoomClimateOut
from console.reports.periods import Period, PeriodKind, period_of
from console.reports.sources import AlarmHistory, ClimateReader, InspectionReader
from console.schemas import LocalText
from sensors.clock import Clock
from sensors.facility import Facility, SensorKind


class UnknownSiteError(LookupError):
    """The report was asked for a site the facility does not have."""


class ReportBuilder:
    """Reads through the sources and computes ``ReportOut``; holds no state of its own."""

    def __init__(
        self,
        facility: Facility,
        clock: Clock,
        climate: ClimateReader,
        alarms: AlarmHistory,
        inspections: InspectionReader | None = None,
        config: ReportsConfig | None = None,
    ) -> None:
        self._facility = facility
        self._clock = clock
        self._climate = climate
        self._alarms = alarms
        self._inspections = inspections
        self._config = config or ReportsConfig()

    def period(self, site: str, kind: PeriodKind, day: date | None = None) -> Period:
        """The period of ``kind`` containing ``day`` (default: today at the site)."""
        info = self._facility.sites.get(site)
        if info is None:
            raise UnknownSiteError(site)
        if day is None:
            day = self._clock.now().astimezone(info.timezone).date()
        return period_of(kind, day, info.timezone)

    def build(self, site: str, kind: PeriodKind, day: date | None = None) -> ReportOut:
        """The report of ``site`` for the period of ``kind`` that contains ``day``."""
        period = self.period(site, kind, day)
        now = self._clock.now()
        as_of = max(period.start, min(period.end, now))
        inspections = hazards = None
        if self._inspections is not None:
            # Tasks made ahead of their window (tomorrow's patrols) are not yet due.
            tasks = self._inspections.tasks_between(site, period.start, as_of)
            inspections = inspection_summary(tasks)
            # Every hazard found before the end, closed ones too: whether one was open
            # during the period is read from its log (inspection_summary.state_at).
            found = self._inspections.hazards(site=site, found_until=as_of)
            hazards = hazard_summary(found, period.start, as_of)
        info = self._facility.sites[site]
        return ReportOut(
            site=site,
            site_name=LocalText(zh=info.name.zh, en=info.name.en),
            period=_period_out(period),
            generated_at=now,
            as_of=as_of,
            complete=now >= period.end,
            inspections=inspections,
            hazards=hazards,
            rooms=self._rooms(site, period, as_of),
            alarms=alarm_summary(self._alarms.raised_between(site, period.start, as_of)),
        )

    def _rooms(self, site: str, period: Period, as_of: datetime) -> list[RoomClimateOut]:
        """Every room with a climate sensor, in the facility file's order."""
        climate_rooms = {
            s.room
            for s in self._facility.all_sensors()
            if s.site == site and s.kind is SensorKind.CLIMATE
        }
        hold = self._config.sample_hold
        out = []
        for (room_site, room_id), room in self._facility.rooms.items():
            if room_site != site or room_id not in climate_rooms:
                continue
            # One hold before the start: the sample then still covers the first minutes.
            samples = self._climate.metrics(site, room_id, period.start - hold, as_of)
            out.append(
                room_climate(
                    room,
                    self._facility.room_classes[room.room_class].name,
                    samples,
                    period,
                    as_of,
                    sample_hold=hold,
                    longest_gaps=self._config.longest_gaps,
                )
            )
        return out


def _period_out(period: Period) -> PeriodOut:
    return PeriodOut(
        kind=period.kind,
        slug=period.slug,
        label=LocalText(zh=period.label_zh, en=period.label_en),
        first_day=period.first_day,
        last_day=period.last_day,
        start=period.start,
        end=period.end,
        timezone=period.timezone.key,
    )
