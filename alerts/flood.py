"""Alarm flood detection per site (ISA-18.2; archive-standards.md §5.2).

More than ``enter_above`` alarms raised within ``window`` starts a flood; it ends when
fewer than ``leave_below`` were raised within the window. During a flood a site's new
alarms are told to people as one summary incident instead of one message each.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from datetime import datetime

from alerts.config import FloodConfig


class FloodDetector:
    """Counts a site's raises in a sliding window; the hysteresis keeps it from flapping."""

    def __init__(self, config: FloodConfig) -> None:
        self._config = config
        self._raises: dict[str, deque[datetime]] = {}
        self._flooded: set[str] = set()

    def seed(self, site: str, raised: Iterable[datetime], *, flooded: bool) -> None:
        """Restore after a restart from the audit trail's recent raises."""
        self._raises[site] = deque(sorted(raised))
        if flooded:
            self._flooded.add(site)

    def observe(self, site: str, at: datetime) -> bool:
        """Count one raise; returns whether the site is in a flood now."""
        raises = self._raises.setdefault(site, deque())
        raises.append(at)
        return self.in_flood(site, at)

    def in_flood(self, site: str, now: datetime) -> bool:
        raises = self._raises.get(site)
        if raises is None:
            return False
        while raises and raises[0] <= now - self._config.window:
            raises.popleft()
        if site in self._flooded:
            if len(raises) < self._config.leave_below:
                self._flooded.discard(site)
        elif len(raises) > self._config.enter_above:
            self._flooded.add(site)
        return site in self._flooded

    def flooded_sites(self) -> frozenset[str]:
        return frozenset(self._flooded)
