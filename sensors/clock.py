"""Time as a dependency: the real clock for running, a fake one for tests.

Rules and schedules never call ``datetime.now()``; they are handed a clock so that a
scenario test can step through a night in microseconds.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Tells the current time as an aware UTC datetime, and how much time has passed."""

    def now(self) -> datetime: ...

    def monotonic(self) -> float:
        """Seconds that only ever pass: an NTP step moves ``now()`` and not this, so
        comparing the two tells a step of the wall clock from time passing."""
        ...


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


class FakeClock:
    """A clock that moves only when a test tells it to."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 5, 0, 0, tzinfo=UTC)
        if self._now.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")
        self._lock = threading.Lock()
        self._elapsed = 0.0  # monotonic seconds: time passing, never a step

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        with self._lock:
            return self._elapsed

    def advance(self, delta: timedelta | float) -> datetime:
        """Let ``delta`` (a timedelta or seconds) pass and return the new time."""
        step = delta if isinstance(delta, timedelta) else timedelta(seconds=delta)
        with self._lock:
            self._now += step
            self._elapsed += step.total_seconds()
            return self._now

    def set(self, when: datetime) -> None:
        """Move to ``when`` as if the time between had passed."""
        with self._lock:
            self._elapsed += (when - self._now).total_seconds()
            self._now = when

    def step(self, delta: timedelta) -> datetime:
        """An NTP step: the wall clock jumps by ``delta``; no time passes."""
        with self._lock:
            self._now += delta
            return self._now


def to_ns(when: datetime) -> int:
    """Nanoseconds since the Unix epoch, exact for microsecond datetimes."""
    delta = when - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def from_ns(ns: int) -> datetime:
    return _EPOCH + timedelta(microseconds=ns // 1_000)


def monotonic() -> float:
    """Monotonic seconds, for measuring durations that must not jump with NTP."""
    return time.monotonic()


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
