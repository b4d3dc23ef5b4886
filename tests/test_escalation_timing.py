"""Escalation timing (``alerts.escalation``): pure functions of (steps, state, now).

The timeline starts when the incident first needs somebody; every step's ``after`` is an
offset from that start. The times below are written as minutes after START by hand.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alerts.escalation import Escalation, Firing, StepTiming, due, escalate_now, next_due

START = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def at(n: float) -> datetime:
    return START + minutes(n)


# The example critical policy: at once (reminded every 5 min), 2 min, 5 min, 10 min.
CRITICAL = (
    StepTiming(minutes(0), minutes(5)),
    StepTiming(minutes(2), None),
    StepTiming(minutes(5), None),
    StepTiming(minutes(10), None),
)


def begin() -> Escalation:
    return Escalation.begin("critical", 1, START)


def run(
    steps: tuple[StepTiming, ...], esc: Escalation, times: list[float]
) -> tuple[Escalation, list[tuple[float, list[Firing]]]]:
    """Call ``due`` at each minute mark; keep the marks that fired something."""
    fired: list[tuple[float, list[Firing]]] = []
    for t in times:
        esc, firings = due(steps, esc, at(t))
        if firings:
            fired.append((t, firings))
    return esc, fired


def test_a_new_escalation_starts_at_step_zero_with_nothing_sent() -> None:
    esc = begin()
    assert (esc.policy, esc.round, esc.started_at) == ("critical", 1, START)
    assert (esc.advance, esc.next_step, esc.reminders) == (timedelta(0), 0, ())


def test_the_first_step_fires_at_the_start() -> None:
    esc, firings = due(CRITICAL, begin(), START)
    assert firings == [Firing(0, 0)]
    assert esc.next_step == 1
    assert esc.reminders == (0, 0, 0, 0)


def test_nothing_is_due_between_steps_and_the_state_is_returned_unchanged() -> None:
    esc, _ = due(CRITICAL, begin(), START)
    later, firings = due(CRITICAL, esc, at(1.99))
    assert firings == []
    assert later is esc


def test_steps_fire_at_their_offsets_from_the_start_not_from_the_step_before() -> None:
    # Checked every 30 s: with offsets from the previous step, step 3 would come at 17 min.
    _, fired = run(CRITICAL, begin(), [n / 2 for n in range(25)])
    assert [(t, [f for f in firings if f.reminder == 0]) for t, firings in fired] == [
        (0, [Firing(0, 0)]),
        (2, [Firing(1, 0)]),
        (5, [Firing(2, 0)]),
        (10, [Firing(3, 0)]),
    ]


def test_a_step_is_due_at_its_exact_offset_not_a_moment_before() -> None:
    esc, _ = due(CRITICAL, begin(), START)
    assert due(CRITICAL, esc, at(2) - timedelta(microseconds=1))[1] == []
    assert due(CRITICAL, esc, at(2))[1] == [Firing(1, 0)]


def test_steps_that_came_due_during_a_long_pause_fire_together_in_order() -> None:
    esc, _ = due(CRITICAL, begin(), START)
    esc, firings = due(CRITICAL, esc, at(7))  # steps 1 (2 min) and 2 (5 min) are both due
    assert [f for f in firings if f.reminder == 0] == [Firing(1, 0), Firing(2, 0)]
    assert esc.next_step == 3


def test_steps_all_fire_at_once_when_the_first_check_comes_late() -> None:
    esc, firings = due(CRITICAL, begin(), at(30))
    assert firings == [Firing(0, 0), Firing(1, 0), Firing(2, 0), Firing(3, 0)]
    assert esc.next_step == len(CRITICAL)


def test_reminders_repeat_every_n_after_their_step() -> None:
    steps = (StepTiming(minutes(0), None), StepTiming(minutes(3), minutes(4)))
    _, fired = run(steps, begin(), list(range(16)))
    # Step 1 at 3 min, reminded at 7, 11 and 15 (every 4 min after the step, not the start).
    assert fired == [
        (0, [Firing(0, 0)]),
        (3, [Firing(1, 0)]),
        (7, [Firing(1, 1)]),
        (11, [Firing(1, 2)]),
        (15, [Firing(1, 3)]),
    ]


def test_a_step_without_remind_every_is_never_repeated() -> None:
    steps = (StepTiming(minutes(0), None),)
    esc, fired = run(steps, begin(), list(range(0, 120, 5)))
    assert fired == [(0, [Firing(0, 0)])]
    assert next_due(steps, esc) is None


def test_a_missed_stretch_sends_one_reminder_with_the_latest_number() -> None:
    esc, _ = due(CRITICAL, begin(), START)
    for step_time in (2, 5, 10):
        esc, _ = due(CRITICAL, esc, at(step_time))
    # Lantai was down from 10 to 23 min: the reminders of 15 and 20 min were missed.
    esc, firings = due(CRITICAL, esc, at(23))
    assert firings == [Firing(0, 4)]  # one message, not one per missed period
    assert esc.reminders[0] == 4
    # The next one keeps the original rhythm: 25 min, not 23 + 5.
    assert next_due(CRITICAL, esc) == at(25)
    assert due(CRITICAL, esc, at(24.9))[1] == []
    assert due(CRITICAL, esc, at(25))[1] == [Firing(0, 5)]


def test_a_reminder_is_not_sent_twice_when_due_runs_twice_at_one_moment() -> None:
    esc, _ = due(CRITICAL, begin(), START)
    esc, first = due(CRITICAL, esc, at(5))
    again, second = due(CRITICAL, esc, at(5))
    assert Firing(0, 1) in first
    assert second == []
    assert again is esc


def test_a_step_fired_late_is_not_reminded_at_once() -> None:
    steps = (StepTiming(minutes(0), None), StepTiming(minutes(2), minutes(5)))
    esc, _ = due(steps, begin(), START)
    # Down from 1 to 20 min: step 1 (due at 2 min) goes out late, at 20 min.
    esc, firings = due(steps, esc, at(20))
    assert firings == [Firing(1, 0)]
    # Its person was just told; a reminder 10 s later is noise.
    assert due(steps, esc, at(20) + timedelta(seconds=10))[1] == []
    due_at = next_due(steps, esc)
    assert due_at is not None
    assert due_at > at(20)


def test_next_due_names_the_next_step_then_the_next_reminder_then_none() -> None:
    steps = (StepTiming(minutes(0), minutes(5)), StepTiming(minutes(2), None))
    esc = begin()
    assert next_due(steps, esc) == START
    esc, _ = due(steps, esc, START)
    assert next_due(steps, esc) == at(2)  # step 1 before step 0's reminder at 5
    esc, _ = due(steps, esc, at(2))
    assert next_due(steps, esc) == at(5)
    esc, _ = due(steps, esc, at(5))
    assert next_due(steps, esc) == at(10)

    no_reminders = (StepTiming(minutes(0), None), StepTiming(minutes(2), None))
    done, _ = due(no_reminders, begin(), at(2))
    assert next_due(no_reminders, done) is None


def test_next_due_is_when_due_first_returns_something() -> None:
    esc = begin()
    for _ in range(8):
        when = next_due(CRITICAL, esc)
        assert when is not None
        assert due(CRITICAL, esc, when - timedelta(microseconds=1))[1] == []
        esc, firings = due(CRITICAL, esc, when)
        assert firings != []


def test_escalate_now_pulls_the_next_step_to_now() -> None:
    steps = (
        StepTiming(minutes(0), None),
        StepTiming(minutes(2), None),
        StepTiming(minutes(5), None),
        StepTiming(minutes(10), None),
    )
    esc, _ = due(steps, begin(), START)
    esc, _ = due(steps, esc, at(2))
    # At 3 min the guard presses 2: step 2 (the supervisor, due at 5 min) is due now.
    pulled = escalate_now(steps, esc, at(3))
    assert pulled.advance == minutes(2)
    assert pulled.started_at == START  # the start is kept; the pull is separate
    assert pulled.next_step == esc.next_step  # nothing is skipped, only moved
    assert next_due(steps, pulled) == at(3)
    pulled, firings = due(steps, pulled, at(3))
    assert firings == [Firing(2, 0)]
    # The rest of the timeline moves with it: step 3 now comes at 8 min, not 10.
    assert next_due(steps, pulled) == at(8)
    assert due(steps, pulled, at(7.99))[1] == []
    assert due(steps, pulled, at(8))[1] == [Firing(3, 0)]


def test_escalate_now_pulls_reminders_of_earlier_steps_forward_too() -> None:
    """What the code does: the whole timeline moves, so step 0's people, reminded every
    5 min, get a reminder at the moment the next step is pulled 9 min forward."""
    steps = (StepTiming(minutes(0), minutes(5)), StepTiming(minutes(10), None))
    esc, _ = due(steps, begin(), START)
    pulled = escalate_now(steps, esc, at(1))
    assert pulled.advance == minutes(9)
    _, firings = due(steps, pulled, at(1))
    assert firings == [Firing(1, 0), Firing(0, 2)]


def test_escalate_now_twice_pulls_each_next_step_in_turn() -> None:
    esc, _ = due(CRITICAL, begin(), START)
    esc, firings = due(CRITICAL, escalate_now(CRITICAL, esc, at(0.5)), at(0.5))
    assert firings == [Firing(1, 0)]
    esc, firings = due(CRITICAL, escalate_now(CRITICAL, esc, at(1)), at(1))
    assert [f for f in firings if f.reminder == 0] == [Firing(2, 0)]
    assert esc.advance == minutes(4)


def test_escalate_now_does_nothing_when_no_step_is_left() -> None:
    esc, _ = due(CRITICAL, begin(), at(10))
    assert esc.next_step == len(CRITICAL)
    assert escalate_now(CRITICAL, esc, at(11)) is esc


def test_escalate_now_does_nothing_when_the_next_step_is_already_due() -> None:
    esc, _ = due(CRITICAL, begin(), START)
    assert escalate_now(CRITICAL, esc, at(2)) is esc  # step 1 is due at 2 min exactly
    assert escalate_now(CRITICAL, esc, at(4)) is esc  # overdue: never pushed back


def test_an_empty_step_does_not_delay_the_next() -> None:
    """A step that reached nobody (the service logs "step_skipped") is still a step of
    the timeline: the next one keeps its absolute offset (goalert#4548)."""
    steps = (StepTiming(minutes(0), None), StepTiming(minutes(5), None))
    esc, firings = due(steps, begin(), START)
    assert firings == [Firing(0, 0)]  # sent to nobody: timing does not know or care
    assert next_due(steps, esc) == at(5)
    assert due(steps, esc, at(5))[1] == [Firing(1, 0)]


def test_a_later_round_starts_its_own_timeline() -> None:
    first, _ = due(CRITICAL, begin(), at(30))
    second = Escalation.begin("critical", first.round + 1, at(60))
    assert next_due(CRITICAL, second) == at(60)
    second, firings = due(CRITICAL, second, at(62))
    assert firings == [Firing(0, 0), Firing(1, 0)]
