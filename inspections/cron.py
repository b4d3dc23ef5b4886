"""Standard crontab expressions, read the way crontab(5) reads them, as APScheduler triggers.

APScheduler 3's ``CronTrigger.from_crontab`` counts weekdays from Monday = 0, so the
``1-5`` an operator writes for "Monday to Friday" would run Tuesday to Saturday. Here
the weekday field is translated to names first (Sunday is 0 or 7, as in crontab).
Crontab runs a line when *either* a restricted day of month *or* a restricted weekday
matches, APScheduler only when both do: an expression restricting both is refused
rather than read differently from what its author meant.
"""

from __future__ import annotations

import re

from apscheduler.triggers.cron import CronTrigger

_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # crontab's numbering
_ORDER = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_PART = re.compile(r"^(\*|[0-9a-z]{1,3}(?:-[0-9a-z]{1,3})?)(?:/(\d{1,2}))?$")
_FIELDS = 5


def cron_trigger(expression: str, timezone: str) -> CronTrigger:
    """A trigger for ``minute hour day month weekday`` in ``timezone`` (raises ValueError)."""
    fields = expression.split()
    if len(fields) != _FIELDS:
        raise ValueError(
            f"{expression!r} is not a five-field cron expression (minute hour day month weekday)"
        )
    minute, hour, day, month, weekday = fields
    if day != "*" and weekday != "*":
        raise ValueError("restrict the day of the month or the weekday, not both")
    try:
        return CronTrigger(
            minute=minute,
            hour=hour,
            day=day,
            month=month,
            day_of_week=_weekdays(weekday),
            timezone=timezone,
        )
    except ValueError as exc:
        raise ValueError(f"{expression!r}: {exc}") from None


def _weekdays(field: str) -> str:
    if field == "*":
        return field
    days: set[int] = set()
    for part in field.lower().split(","):
        match = _PART.match(part)
        if match is None:
            raise ValueError(f"weekday {part!r} is not a day (0-7, sun-sat), range or step")
        span, step = match.group(1), int(match.group(2) or 1)
        if step < 1:
            raise ValueError(f"weekday step in {part!r} must be at least 1")
        if span == "*":
            first, last = 0, 6
        else:
            ends = span.split("-")
            first, last = _day(ends[0]), _day(ends[-1])
            if len(ends) == 2 and last == 0:  # noqa: PLR2004 - a range ending on Sunday: "sat-sun"
                last = 7
            if last < first:
                raise ValueError(f"weekday range {span!r} runs backwards")
        days.update(n % 7 for n in range(first, last + 1, step))
    return ",".join(name for name in _ORDER if _NAMES.index(name) in days)


def _day(token: str) -> int:
    if token.isdigit():
        number = int(token)
        if number > 7:  # noqa: PLR2004
            raise ValueError(f"weekday {token!r} is past 7")
        return number
    if token not in _NAMES:
        raise ValueError(f"unknown weekday {token!r}")
    return _NAMES.index(token)
