"""When each escalation step and reminder is due: pure functions of (policy, state, now).

An escalation's timeline starts when its incident first needs somebody. Step offsets are
measured from that start, never from the step before, so a step that reaches nobody does
not delay the next (goalert#4548). "Escalate now" (keypad 2) pulls the whole timeline
forward instead of skipping steps. Reminders repeat a step every ``remind_every`` until
somebody acknowledges (peers.md pain point 9: a reminder that does not depend on grouping).

The state is what ``alerts.store`` persists on the incident, so a restart resumes the
timeline where it was (pain point 5); a reminder missed while Lantai was down is sent once,
not once per missed period.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class StepTiming:
    after: timedelta
    remind_every: timedelta | None


@dataclass(frozen=True, slots=True)
class Escalation:
    """Where an incident's escalation stands."""

    policy: str
    round: int  # a new round starts when an idle incident needs somebody again
    started_at: datetime
    advance: timedelta  # how far "escalate now" pulled the timeline forward
    next_step: int  # the first step not yet fired
    reminders: tuple[int, ...]  # per fired step: the number of the last reminder sent

    @classmethod
    def begin(cls, policy: str, round_: int, now: datetime) -> Escalation:
        return cls(policy, round_, now, timedelta(0), 0, ())


@dataclass(frozen=True, slots=True)
class Firing:
    """Send step ``step`` now; ``reminder`` 0 is its first send, n its n-th reminder."""

    step: int
    reminder: int


def due(
    steps: tuple[StepTiming, ...], esc: Escalation, now: datetime
) -> tuple[Escalation, list[Firing]]:
    """The steps and reminders due at ``now``, and the state after sending them."""
    origin = esc.started_at - esc.advance
    firings: list[Firing] = []
    reminders = list(esc.reminders) + [0] * (len(steps) - len(esc.reminders))
    next_step = esc.next_step
    while next_step < len(steps) and origin + steps[next_step].after <= now:
        firings.append(Firing(next_step, 0))
        every = steps[next_step].remind_every
        if every is not None:
            # Fired late (after a pause): the periods already past are not owed, so the
            # first reminder comes a full period after this first send, not at once.
            reminders[next_step] = (now - (origin + steps[next_step].after)) // every
        next_step += 1
    for index in range(esc.next_step):  # steps fired before this call may owe a reminder
        every = steps[index].remind_every
        if every is None:
            continue
        number = (now - (origin + steps[index].after)) // every
        if number > reminders[index]:
            firings.append(Firing(index, number))
            reminders[index] = number
    if not firings:
        return esc, firings
    return replace(esc, next_step=next_step, reminders=tuple(reminders)), firings


def next_due(steps: tuple[StepTiming, ...], esc: Escalation) -> datetime | None:
    """When ``due`` will next have something to send, or None when nothing is left."""
    origin = esc.started_at - esc.advance
    times: list[datetime] = []
    if esc.next_step < len(steps):
        times.append(origin + steps[esc.next_step].after)
    for index in range(esc.next_step):
        every = steps[index].remind_every
        if every is not None:
            sent = esc.reminders[index] if index < len(esc.reminders) else 0
            times.append(origin + steps[index].after + every * (sent + 1))
    return min(times, default=None)


def escalate_now(steps: tuple[StepTiming, ...], esc: Escalation, now: datetime) -> Escalation:
    """Pull the timeline forward so that the next step is due at ``now``."""
    if esc.next_step >= len(steps):
        return esc
    origin = esc.started_at - esc.advance
    early = origin + steps[esc.next_step].after - now
    if early <= timedelta(0):
        return esc
    return replace(esc, advance=esc.advance + early)
