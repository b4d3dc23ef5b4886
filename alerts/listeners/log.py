"""The log listener: every alarm change as one structured log line."""

from __future__ import annotations

import logging

from alerts.models import AlarmChange, Change

log = logging.getLogger("lantai.alarms")


class LogListener:
    name = "log"

    def notify(self, change: AlarmChange) -> None:
        a = change.alarm
        level = logging.WARNING if change.change is not Change.CLEARED else logging.INFO
        log.log(
            level,
            "alarm %s #%d %s/%s [%s %s] %s site=%s room=%s sensor=%s value=%s",
            change.change.value,
            a.id,
            a.rule,
            a.key,
            a.severity.value,
            a.category.value,
            a.message_en,
            a.site,
            a.room,
            a.sensor,
            a.last_value,
        )
