"""Durations written the way people write them in config: ``90s``, ``5m``, ``2h``, ``1d``."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from pydantic import BeforeValidator, Field, PlainSerializer

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_LONGEST = timedelta(days=3650)  # ten years: longer is a typo, not a plan
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")


def parse_duration(value: object) -> timedelta:
    """Parse ``"90s"``/``"5m"``/``"2h"``/``"1d"`` or a number of seconds into a timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        # ValueError, not TypeError: pydantic reports only ValueError as a field problem.
        msg = "a duration is a number of seconds or a string like 90s, 5m, 2h, 1d"
        raise ValueError(msg)  # noqa: TRY004
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return _seconds(value)
    if isinstance(value, str):
        match = _PATTERN.match(value)
        if match:
            return _seconds(float(match.group(1)) * _UNITS[match.group(2)])
    raise ValueError(f"not a duration: {value!r} (write e.g. 90s, 5m, 2h, 1d)")


def _seconds(seconds: float) -> timedelta:
    # timedelta raises OverflowError, which pydantic would not report as a field problem.
    if not seconds <= _LONGEST.total_seconds():
        raise ValueError(f"a duration must be at most {_LONGEST.days} days")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    seconds = value.total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


Duration = Annotated[
    timedelta, BeforeValidator(parse_duration), PlainSerializer(format_duration, return_type=str)
]

# A duration that must be longer than zero (a reporting interval, a window).
PositiveDuration = Annotated[Duration, Field(gt=timedelta(0))]
