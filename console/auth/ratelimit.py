"""Login throttling: so many failures per user name, and per client address, in a
sliding window; then logins are refused until the oldest failure leaves the window.

Kept in memory on the injected clock: Lantai runs the console in one process, and a
restart forgetting the counts costs an attacker a restart they cannot cause. The number
of names and addresses kept is bounded, so a flood of made-up names cannot fill memory.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from sensors.clock import Clock

# Enough for every name and address of a busy night; beyond it the stalest go first.
MAX_TRACKED = 10_000


@dataclass(frozen=True, slots=True)
class Limit:
    """At most ``failures`` within ``window``."""

    failures: int
    window: timedelta


class FailureCounter:
    """Failure times per key (a user name or an address), under one limit."""

    def __init__(self, limit: Limit, max_tracked: int = MAX_TRACKED) -> None:
        self._limit = limit
        self._max_tracked = max_tracked
        self._failures: dict[str, deque[datetime]] = {}

    def retry_after(self, key: str, now: datetime) -> float:
        """Seconds until ``key`` may try again; 0 when it may now."""
        times = self._recent(key, now)
        if len(times) < self._limit.failures:
            return 0.0
        # The attempt after the limit waits for enough failures to age out.
        frees_at = times[len(times) - self._limit.failures] + self._limit.window
        return max((frees_at - now).total_seconds(), 0.0)

    def fail(self, key: str, now: datetime) -> None:
        times = self._recent(key, now)
        times.append(now)
        # Keep only what the limit needs: the newest `failures` times.
        while len(times) > self._limit.failures:
            times.popleft()
        self._failures.pop(key, None)
        self._failures[key] = times  # re-inserted: dict order is staleness order
        if len(self._failures) > self._max_tracked:
            self._forget_stalest(now)

    def forget(self, key: str) -> None:
        self._failures.pop(key, None)

    def _recent(self, key: str, now: datetime) -> deque[datetime]:
        times = self._failures.get(key, deque())
        since = now - self._limit.window
        while times and times[0] <= since:
            times.popleft()
        return times

    def _forget_stalest(self, now: datetime) -> None:
        since = now - self._limit.window
        for key in [k for k, t in self._failures.items() if not t or t[-1] <= since]:
            del self._failures[key]
        while len(self._failures) > self._max_tracked:
            del self._failures[next(iter(self._failures))]


@dataclass(frozen=True, slots=True)
class Throttled:
    """A login refused before its password was looked at."""

    retry_after_s: int


class LoginLimiter:
    """The two counters a login passes: its user name's and its client address's."""

    def __init__(self, clock: Clock, per_user: Limit, per_address: Limit) -> None:
        self._clock = clock
        self._users = FailureCounter(per_user)
        self._addresses = FailureCounter(per_address)
        self._lock = threading.Lock()

    def check(self, username: str, address: str) -> Throttled | None:
        """None when this login may be tried, else how long to wait (whole seconds)."""
        now = self._clock.now()
        with self._lock:
            wait = max(
                self._users.retry_after(username, now),
                self._addresses.retry_after(address, now),
            )
        return Throttled(math.ceil(wait)) if wait > 0 else None

    def failed(self, username: str, address: str) -> None:
        now = self._clock.now()
        with self._lock:
            self._users.fail(username, now)
            self._addresses.fail(address, now)

    def succeeded(self, username: str) -> None:
        """A right password clears its name's failures. Not its address's: one account an
        attacker owns must not buy more guesses at the others from the same address."""
        with self._lock:
            self._users.forget(username)
