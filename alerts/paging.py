"""Where an incident's calling of people stands."""

from __future__ import annotations

from enum import StrEnum


class Paging(StrEnum):
    IDLE = "idle"  # opened, nobody needed yet (suppressed or shelved from the start)
    RUNNING = "running"  # the escalation is calling people
    PAUSED = "paused"  # its alarms are still active but shelved or suppressed
    RESOLVED = "resolved"  # every alarm returned to normal before anybody acknowledged
    ACKED = "acked"  # somebody took it
    MERGED = "merged"  # folded into a flood summary before it told anybody
    CONSOLE = "console"  # no escalation policy for its severity: the desk only
