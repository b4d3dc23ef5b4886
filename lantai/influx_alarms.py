"""Alarm changes to InfluxDB: the boards' annotations and active-alarm tables read them.

An alerts ``ChangeListener``: each recorded change is queued in the InfluxDB forwarder's
spool (one small SQLite insert, no network), so Grafana shows alarms without ever calling
Lantai, and an InfluxDB outage delays nothing.
"""

from __future__ import annotations

from datetime import datetime

from alerts.models import AlarmChange, Change
from collectors.influx_forwarder import InfluxForwarder
from collectors.influx_lines import AlarmPoint
from sensors.clock import Clock


class InfluxAlarmListener:
    """Hands every alarm change to the forwarder as an ``alarm_event`` point."""

    name = "influx"

    def __init__(self, forwarder: InfluxForwarder, clock: Clock) -> None:
        self._forwarder = forwarder
        self._clock = clock

    def notify(self, change: AlarmChange) -> None:
        self._forwarder.enqueue_alarm(alarm_point(change, self._clock.now()))


def alarm_point(change: AlarmChange, now: datetime) -> AlarmPoint:
    """The point for one change, stamped with when the change happened."""
    a = change.alarm
    by = None
    if change.change is Change.ACKED:
        by = a.acked_by
    elif change.change is Change.SHELVED:
        by = a.shelved_by
    return AlarmPoint(
        at=_when(change, now),
        site=a.site,
        room=a.room,
        sensor=a.sensor,
        rule=a.rule,
        category=a.category.value,
        severity=a.severity.value,
        change=change.change.value,
        alarm_id=a.id,
        state=a.state.value,
        message_zh=a.message_zh,
        message_en=a.message_en,
        value=a.last_value,
        by=by,
    )


def _when(change: AlarmChange, now: datetime) -> datetime:
    """A raise is stamped with the condition's time (the reading's), a clear with its
    clearing; the desk's actions happen now. Two changes of one alarm at one instant
    differ in their ``change`` tag, so neither overwrites the other."""
    a = change.alarm
    if change.change in (Change.RAISED, Change.RERAISED, Change.REPEATED):
        return a.last_at
    if change.change is Change.CLEARED and a.cleared_at is not None:
        return a.cleared_at
    if change.change is Change.ACKED and a.acked_at is not None:
        return a.acked_at
    return now
