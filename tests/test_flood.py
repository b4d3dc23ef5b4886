"""Alarm flood detection per site (``alerts.flood``; ISA-18.2, archive-standards.md §5.2).

More than 10 raises within 10 minutes starts a flood; fewer than 5 within 10 minutes
ends it. Between 5 and 10 the site stays as it was (hysteresis).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alerts.config import FloodConfig
from alerts.flood import FloodDetector

T0 = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def detector() -> FloodDetector:
    return FloodDetector(FloodConfig())  # the defaults are the standard's numbers


def test_the_defaults_are_the_standards_numbers() -> None:
    config = FloodConfig()
    assert (config.window, config.enter_above, config.leave_below) == (timedelta(minutes=10), 10, 5)


def test_ten_raises_in_the_window_are_not_a_flood_the_eleventh_is() -> None:
    flood = detector()
    answers = [flood.observe("yunxi", at(n * 0.5)) for n in range(11)]
    assert answers == [False] * 10 + [True]
    assert flood.flooded_sites() == frozenset({"yunxi"})


def test_eleven_raises_spread_over_more_than_the_window_are_no_flood() -> None:
    flood = detector()
    # One a minute: at 10 min the first (at 0) has left the window.
    answers = [flood.observe("yunxi", at(n)) for n in range(12)]
    assert not any(answers)
    assert flood.flooded_sites() == frozenset()


def test_a_raise_exactly_one_window_old_no_longer_counts() -> None:
    flood = detector()
    flood.observe("yunxi", at(0))
    for n in range(9):
        flood.observe("yunxi", at(9 + n * 0.1))
    # 10 in the window up to here; at 10 min the one at 0 drops out as the 11th comes in.
    assert flood.observe("yunxi", at(10)) is False
    assert flood.observe("yunxi", at(10)) is True  # now 11 within (0, 10]


def test_the_flood_holds_between_five_and_ten_and_ends_below_five() -> None:
    flood = detector()
    for n in range(11):  # 0.0 to 5.0 min, every 30 s
        flood.observe("yunxi", at(n * 0.5))
    # The window (now - 10 min, now] slides: at 12 min the raises from 2.5 to 5.0 remain (6).
    assert flood.in_flood("yunxi", at(12)) is True
    # At 12.9 min those from 3.0 to 5.0: 5, not fewer than 5, so the flood holds.
    assert flood.in_flood("yunxi", at(12.9)) is True
    # At 13 min the one at 3.0 leaves: 4 remain and the flood ends.
    assert flood.in_flood("yunxi", at(13)) is False
    assert flood.flooded_sites() == frozenset()


def test_after_a_flood_it_takes_more_than_ten_again_to_re_enter() -> None:
    flood = detector()
    for n in range(11):
        flood.observe("yunxi", at(n * 0.1))
    assert flood.in_flood("yunxi", at(20)) is False  # everything left the window
    answers = [flood.observe("yunxi", at(20 + n * 0.1)) for n in range(11)]
    assert answers == [False] * 10 + [True]


def test_in_flood_with_nothing_observed_is_false() -> None:
    assert detector().in_flood("yunxi", T0) is False


def test_sites_are_independent() -> None:
    flood = detector()
    for n in range(11):
        flood.observe("yunxi", at(n * 0.1))
    assert flood.observe("beihai", at(1.1)) is False
    assert flood.in_flood("yunxi", at(1.1)) is True
    assert flood.in_flood("beihai", at(1.1)) is False
    assert flood.flooded_sites() == frozenset({"yunxi"})


def test_a_smaller_configured_window_and_thresholds() -> None:
    flood = FloodDetector(FloodConfig(window=timedelta(minutes=1), enter_above=2, leave_below=2))
    assert [flood.observe("yunxi", at(n / 10)) for n in range(3)] == [False, False, True]
    assert flood.in_flood("yunxi", at(1.05)) is True  # 0.1 and 0.2 remain: 2, not below 2
    assert flood.in_flood("yunxi", at(1.15)) is False


def test_seed_restores_a_flood_after_a_restart() -> None:
    flood = detector()
    flood.seed("yunxi", [at(n * 0.5) for n in range(7)], flooded=True)
    # Seven recent raises: between the thresholds, so the restored flood holds.
    assert flood.flooded_sites() == frozenset({"yunxi"})
    assert flood.in_flood("yunxi", at(5)) is True
    assert flood.observe("yunxi", at(5)) is True
    # Without the flag the same seven are no flood; four more make eleven.
    fresh = detector()
    fresh.seed("yunxi", [at(n * 0.5) for n in range(7)], flooded=False)
    assert fresh.in_flood("yunxi", at(5)) is False
    assert [fresh.observe("yunxi", at(5)) for _ in range(4)] == [False, False, False, True]


def test_seed_sorts_the_times_it_is_given() -> None:
    flood = detector()
    flood.seed("yunxi", [at(9), at(0.5), at(8), at(0), at(9.5)], flooded=True)
    # At 10.2 min the raises at 0 and 0.5 have left: 3 remain, so the flood ends.
    assert flood.in_flood("yunxi", at(10.2)) is False


def test_a_seeded_flood_with_too_few_raises_ends_at_the_first_look() -> None:
    flood = detector()
    flood.seed("yunxi", [at(0)], flooded=True)
    assert flood.flooded_sites() == frozenset({"yunxi"})  # until somebody asks
    assert flood.in_flood("yunxi", at(1)) is False
    assert flood.flooded_sites() == frozenset()
