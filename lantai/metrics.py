"""Lantai's own numbers: what /metrics serves and what the system-health board reads.

``SystemMetrics.collect`` reads the counters every part keeps anyway (ingest, store,
rules, outbox) and counts what the state database holds now (open alarms, today's
inspection tasks, open hazards). It returns plain ``SystemSample`` values named by
``collectors.influx_schema``; the console renders them in Prometheus' text format and
the service hands the same list to the InfluxDB forwarder every 15 s, so a scrape and a
board never disagree about what a family means.

Gauges over labels (alarms by site and severity, tasks by site and status) are written
for every label combination, zero included: InfluxDB has no notion of a series that
stopped, and a board reading ``last()`` would otherwise show a cleared alarm forever.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from alerts.models import OPEN_STATES
from alerts.notifiers import Channel
from alerts.outbox import Outcome
from alerts.tables import alarms
from collectors.influx_forwarder import InfluxState
from collectors.influx_schema import SystemLabel, SystemMetric, SystemSample
from collectors.ingest import IngestStats
from collectors.quarantine import Reason
from inspections.models import HazardState, TaskStatus
from inspections.tables import hazards, tasks
from rules.engine import EngineStats
from sensors.clock import Clock
from sensors.events import Severity
from sensors.facility import Facility

# How often the service hands the samples to InfluxDB: Prometheus' usual scrape interval,
# so the board and a Prometheus graph have the same resolution.
SYSTEM_SAMPLE_INTERVAL_S: Final = 15.0


class InfluxWriteOutcome(StrEnum):
    """The outcome label of influx_writes_total."""

    OK = "ok"
    RETRY = "retry"  # failed, and the same points will be sent again
    FAILED = "failed"  # refused for good (a malformed point, skipped)


# A hazard is closed once re-inspected and accepted (console/reports: CLOSED_STATES).
_OPEN_HAZARDS = tuple(
    s.value for s in HazardState if s not in {HazardState.ACCEPTED, HazardState.FILED}
)


class IngestView(Protocol):
    """``collectors.ingest.Ingest``: its counters and its queue."""

    @property
    def stats(self) -> IngestStats: ...

    @property
    def backlog(self) -> int: ...


class ConnectionView(Protocol):
    """``collectors.mqtt_source.PahoSource``."""

    @property
    def connected(self) -> bool: ...


class QuarantineCounts(Protocol):
    """``collectors.sqlite_store.SqliteReadingStore``: messages quarantined, by reason,
    since the store was made (kept in the store, so they survive a restart)."""

    def quarantine_counts(self) -> dict[str, int]: ...


class RulesView(Protocol):
    """``rules.engine.RulesEngine`` or ``rules.process.RulesProcess``."""

    @property
    def stats(self) -> EngineStats: ...


class OutboxView(Protocol):
    """``alerts.outbox.Outbox``."""

    @property
    def channels(self) -> frozenset[Channel]: ...

    def outcomes(self) -> dict[tuple[Channel, Outcome], int]: ...

    def pending(self) -> int: ...


def sample(metric: str, value: float, **labels: str) -> SystemSample:
    """One sample; labels in the order given (the family's label order)."""
    return SystemSample(metric, tuple(labels.items()), float(value))


@dataclass(frozen=True, slots=True)
class SystemMetrics:
    """The parts one service's numbers come from; ``collect`` reads them all."""

    facility: Facility
    clock: Clock
    ingest: IngestView
    source: ConnectionView
    readings: QuarantineCounts
    rules: RulesView
    outbox: OutboxView
    # The state database (alarms, tasks, hazards), counted with one query per family.
    state: Engine
    # The InfluxDB forwarder's health view; None (or answering None): no InfluxDB is
    # configured, and the spool and write families are left out.
    influx: Callable[[], InfluxState | None] | None = None

    def collect(self) -> list[SystemSample]:
        """Every family's samples, now."""
        return self.collect_at(self.clock.now())

    def collect_at(self, now: datetime) -> list[SystemSample]:
        """Every family's samples, with ``now`` for the lag and for each site's today."""
        out = [*self._ingest(now), *self._rules_and_alarms(), *self._notifications()]
        out += self._inspections(now)
        influx = None if self.influx is None else self.influx()
        if influx is not None:
            out += _forwarder(influx)
        return out

    def _ingest(self, now: datetime) -> Iterable[SystemSample]:
        stats = self.ingest.stats
        yield sample(SystemMetric.INGEST_RECEIVED, stats.received)
        yield sample(SystemMetric.INGEST_STORED, stats.stored)
        # Every known reason, so a first quarantined message is an increase from 0
        # (Prometheus' rate() does not see a series that starts above zero); reasons the
        # store knows that this version does not (an older or newer Lantai) still count.
        counts = self.readings.quarantine_counts()
        for reason in dict.fromkeys([*Reason, *sorted(counts)]):
            yield sample(
                SystemMetric.INGEST_QUARANTINED,
                counts.get(reason, 0),
                **{SystemLabel.REASON: str(reason)},
            )
        yield sample(SystemMetric.INGEST_BACKLOG, self.ingest.backlog)
        # Nothing written yet since start: no lag to speak of, so no sample (not a 0,
        # which would read as "up to date").
        if stats.last_write_at is not None:
            lag = max(0.0, (now - stats.last_write_at).total_seconds())
            yield sample(SystemMetric.INGEST_LAG_SECONDS, lag)
        yield sample(SystemMetric.STORE_WRITE_RETRIES, stats.write_retries)
        yield sample(SystemMetric.MQTT_CONNECTED, 1 if self.source.connected else 0)

    def _rules_and_alarms(self) -> Iterable[SystemSample]:
        yield sample(SystemMetric.RULE_EVALUATIONS, self.rules.stats.evaluations)
        query = (
            sa.select(alarms.c.site, alarms.c.severity, sa.func.count())
            .where(alarms.c.state.in_([s.value for s in OPEN_STATES]))
            .group_by(alarms.c.site, alarms.c.severity)
        )
        counts = self._grouped(query)
        for site in self._sites(counts):
            for severity in Severity:
                yield sample(
                    SystemMetric.ALARMS_OPEN,
                    counts.get((site, severity.value), 0),
                    **{SystemLabel.SITE: site, SystemLabel.SEVERITY: severity.value},
                )

    def _notifications(self) -> Iterable[SystemSample]:
        outcomes = self.outbox.outcomes()
        # The configured channels at 0, and any other that was tried (a message for a
        # channel removed from the settings fails, and that is worth seeing).
        channels = sorted(self.outbox.channels | {channel for channel, _ in outcomes})
        for channel in channels:
            for outcome in Outcome:
                yield sample(
                    SystemMetric.NOTIFICATIONS,
                    outcomes.get((channel, outcome), 0),
                    **{SystemLabel.CHANNEL: channel.value, SystemLabel.OUTCOME: outcome.value},
                )
        yield sample(SystemMetric.OUTBOX_PENDING, self.outbox.pending())

    def _inspections(self, now: datetime) -> list[SystemSample]:
        # "Today" is each site's own calendar day: the day the guards' tasks belong to.
        today = [
            sa.and_(
                tasks.c.site == site, tasks.c.local_date == now.astimezone(info.timezone).date()
            )
            for site, info in self.facility.sites.items()
        ]
        task_counts = self._grouped(
            sa.select(tasks.c.site, tasks.c.status, sa.func.count())
            .where(sa.or_(*today))
            .group_by(tasks.c.site, tasks.c.status)
        )
        hazard_counts = self._grouped(
            sa.select(hazards.c.site, sa.func.count())
            .where(hazards.c.state.in_(_OPEN_HAZARDS))
            .group_by(hazards.c.site)
        )
        out = [
            sample(
                SystemMetric.INSPECTION_TASKS,
                task_counts.get((site, status.value), 0),
                **{SystemLabel.SITE: site, SystemLabel.STATUS: status.value},
            )
            for site in self.facility.sites
            for status in TaskStatus
        ]
        out += [
            sample(
                SystemMetric.HAZARDS_OPEN,
                hazard_counts.get((site,), 0),
                **{SystemLabel.SITE: site},
            )
            for site in self._sites(hazard_counts)
        ]
        return out

    def _grouped(self, query: sa.Select[Any]) -> dict[tuple[str, ...], int]:
        """A GROUP BY query's rows as {(key, …): count}; the count is the last column."""
        with self.state.connect() as conn:
            rows = conn.execute(query).all()
        return {tuple(str(v) for v in row[:-1]): int(row[-1]) for row in rows}

    def _sites(self, counts: Mapping[tuple[str, ...], int]) -> list[str]:
        """The facility's sites, then any other a count names (a site since removed
        from the facility file that still has open alarms must not vanish)."""
        return list(dict.fromkeys([*self.facility.sites, *sorted(k[0] for k in counts)]))


def _forwarder(state: InfluxState) -> list[SystemSample]:
    # A point InfluxDB refuses for its content is sent alone and then skipped: that one
    # write failed for good, so rejected points count as failed writes.
    writes = {
        InfluxWriteOutcome.OK: state.writes_ok,
        InfluxWriteOutcome.RETRY: state.writes_retried,
        InfluxWriteOutcome.FAILED: state.rejected,
    }
    return [
        sample(SystemMetric.SPOOL_DEPTH, state.depth),
        sample(SystemMetric.SPOOL_DROPPED, state.dropped),
        *(
            sample(SystemMetric.INFLUX_WRITES, count, **{SystemLabel.OUTCOME: outcome.value})
            for outcome, count in writes.items()
        ),
    ]
