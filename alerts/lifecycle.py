"""The ISA-18.2 alarm state machine (archive-standards.md §5.1), as one pure table.

    (none) ──raise──► UNACKED ──ack──► ACKED
                        │  ▲             │
                  clear │  │ raise       │ clear
                        ▼  │             ▼
                     RTN_UNACKED ──ack──► CLOSED

A raise on an open alarm repeats it (count, value and time are updated); a raise on a
cleared but unacknowledged alarm brings it back (the desk has still not seen it).
Shelving and suppression are not states here: they decide who is told, not what the
alarm is, so they are flags beside the state (ISA: "any state ↔ shelved").
"""

from __future__ import annotations

from enum import StrEnum

from alerts.models import AlarmState, Change


class Action(StrEnum):
    RAISE = "raise"
    CLEAR = "clear"
    ACK = "ack"


_TABLE: dict[tuple[AlarmState | None, Action], tuple[AlarmState, Change]] = {
    (None, Action.RAISE): (AlarmState.UNACKED, Change.RAISED),
    (AlarmState.UNACKED, Action.RAISE): (AlarmState.UNACKED, Change.REPEATED),
    (AlarmState.ACKED, Action.RAISE): (AlarmState.ACKED, Change.REPEATED),
    (AlarmState.RTN_UNACKED, Action.RAISE): (AlarmState.UNACKED, Change.RERAISED),
    (AlarmState.UNACKED, Action.CLEAR): (AlarmState.RTN_UNACKED, Change.CLEARED),
    (AlarmState.ACKED, Action.CLEAR): (AlarmState.CLOSED, Change.CLOSED),
    (AlarmState.UNACKED, Action.ACK): (AlarmState.ACKED, Change.ACKED),
    (AlarmState.RTN_UNACKED, Action.ACK): (AlarmState.CLOSED, Change.CLOSED),
}


def step(state: AlarmState | None, action: Action) -> tuple[AlarmState, Change] | None:
    """The state after ``action`` and what changed, or None when nothing does (a clear
    with no open alarm, an ack of an acknowledged or closed one)."""
    return _TABLE.get((state, action))
