"""The ISA-18.2 alarm state table (``alerts.lifecycle.step``), every cell of it.

ISA-18.2 (and archive-standards.md §5.1) draws the alarm's life as four states; Lantai
calls ISA's "normal" state ``closed`` because a normal, acknowledged alarm is history::

                         raise (new record)
                               │
                               ▼
          ┌──────────────► UNACKED ──────────── ack ──────────► ACKED
          │               (active,                            (active,
          │  raise         unacknowledged)                     acknowledged)
          │  (RERAISED)        │    ▲ raise: REPEATED            │  ▲ raise: REPEATED
          │                    │    └──┘                         │  └──┘
          │              clear │                           clear │
          │                    ▼                                 ▼
          └──────────── RTN_UNACKED ─────────── ack ────────► CLOSED
                        (normal,                              (normal,
                         unacknowledged)                       acknowledged: history)

Every (state, action) pair is listed below with its expected result, written out by hand
from that diagram rather than read from the table under test. The pairs the diagram has
no arrow for return None: the caller changes nothing (a clear with no open alarm, a second
clear, an ack of an acknowledged or closed alarm, a raise on a closed one, which the
service turns into a new record because it looks up open alarms only).
"""

from __future__ import annotations

import itertools

import pytest

from alerts.lifecycle import Action, step
from alerts.models import AlarmState, Change

U, A, R, C = (
    AlarmState.UNACKED,
    AlarmState.ACKED,
    AlarmState.RTN_UNACKED,
    AlarmState.CLOSED,
)
RAISE, CLEAR, ACK = Action.RAISE, Action.CLEAR, Action.ACK

# (state before, action) -> (state after, change) or None for "nothing happens".
EXPECTED: dict[tuple[AlarmState | None, Action], tuple[AlarmState, Change] | None] = {
    (None, RAISE): (U, Change.RAISED),
    (None, CLEAR): None,  # a clear for a condition nobody recorded
    (None, ACK): None,
    (U, RAISE): (U, Change.REPEATED),
    (U, CLEAR): (R, Change.CLEARED),
    (U, ACK): (A, Change.ACKED),
    (A, RAISE): (A, Change.REPEATED),
    (A, CLEAR): (C, Change.CLOSED),  # acknowledged and back to normal: done
    (A, ACK): None,  # a retried ack changes nothing
    (R, RAISE): (U, Change.RERAISED),  # back before anybody saw it: the same record
    (R, CLEAR): None,  # cleared twice
    (R, ACK): (C, Change.CLOSED),
    (C, RAISE): None,  # a closed record is history; the service opens a new one
    (C, CLEAR): None,
    (C, ACK): None,
}


def test_the_expected_table_covers_every_state_and_action() -> None:
    states: list[AlarmState | None] = [None, *AlarmState]
    assert set(EXPECTED) == set(itertools.product(states, Action))
    assert len(EXPECTED) == 15


@pytest.mark.parametrize(
    ("state", "action", "expected"),
    [
        pytest.param(state, action, result, id=f"{state or 'none'}-{action}")
        for (state, action), result in EXPECTED.items()
    ],
)
def test_step(
    state: AlarmState | None, action: Action, expected: tuple[AlarmState, Change] | None
) -> None:
    assert step(state, action) == expected


def test_no_step_leaves_closed_except_by_a_new_record() -> None:
    """CLOSED is a sink: only the (None, raise) entry starts a life again."""
    assert [step(C, action) for action in Action] == [None, None, None]


def test_the_states_that_stay_on_the_desk() -> None:
    assert [s for s in AlarmState if s.open] == [U, A, R]
    assert [s for s in AlarmState if s.active] == [U, A]


def test_every_reachable_state_is_reached_from_a_first_raise() -> None:
    reached: set[AlarmState] = set()
    frontier: list[AlarmState | None] = [None]
    while frontier:
        state = frontier.pop()
        for action in Action:
            result = step(state, action)
            if result is not None and result[0] not in reached:
                reached.add(result[0])
                frontier.append(result[0])
    assert reached == set(AlarmState)
