"""The rules engine: owns every rule's state and feeds it to the pure evaluators.

Readings arrive from the ingest thread (``on_readings``); timers are swept by ``tick``,
which a scheduler calls (APScheduler only triggers; the time comes from the injected
clock). Outputs leave in the order they were decided, after the state lock is released.

State survives restarts (peers.md pain point 5): changed states are snapshotted every
``save_every`` and on stop, and restored on start. The span Lantai was not listening — a
restart, a broker outage, a failing store — is not counted against any sensor's silence
timer, and while it lasts one "monitoring degraded" alarm stands in for the sensor
alarms it would otherwise cause (pain point 2).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import TypeAdapter, ValidationError

from rules.base import Subject
from rules.compile import Cell, Slot, compile_rules
from rules.config import RuleFile
from rules.kinds import Output
from rules.persistence import StateStore
from rules.silence import degraded, evaluate_silence, heard, last_will
from sensors.clock import Clock
from sensors.events import (
    AlarmEvent,
    AlarmSink,
    MetricSample,
    MetricSink,
    TaskRequest,
    TaskSink,
    Transition,
)
from sensors.facility import Facility
from sensors.reading import PresenceUpdate, Reading

log = logging.getLogger(__name__)

SensorKey = tuple[str, str]  # (site, sensor)
ENGINE_RECORD = "_engine"
# A restart or a reconnect takes a few seconds; only a longer outage raises the meta alarm.
DEGRADED_AFTER = timedelta(seconds=30)
# A wall-clock step smaller than this is drift, not worth moving timers for.
CLOCK_STEP_TOLERANCE = timedelta(seconds=2)


@dataclass(slots=True)
class EngineStats:
    rules: int = 0
    readings: int = 0
    evaluations: int = 0
    alarm_events: int = 0
    tasks: int = 0
    metrics: int = 0
    sweeps: int = 0
    saves: int = 0
    restored_states: int = 0


class RulesEngine:
    """Evaluates the compiled rules for every reading and on every timer tick."""

    def __init__(
        self,
        facility: Facility,
        sink: AlarmSink,
        clock: Clock,
        *,
        rules: RuleFile | None = None,
        tasks: TaskSink | None = None,
        metrics: MetricSink | None = None,
        state_store: StateStore | None = None,
        input_healthy: Callable[[], bool] | None = None,
        save_every: timedelta = timedelta(seconds=10),
    ) -> None:
        self._set = compile_rules(facility, rules)
        self._slots = self._set.slots
        self._sink = sink
        self._tasks = tasks
        self._metrics = metrics
        self._store = state_store
        self._clock = clock
        self._input_healthy = input_healthy
        self._save_every = save_every
        self._lock = threading.Lock()
        # Outputs leave in the order they were decided: the emit lock is taken before the
        # state lock is let go, so a CLEAR decided after a RAISE cannot overtake it.
        self._emit_lock = threading.Lock()
        self._last_seen: dict[SensorKey, datetime] = {}
        self._silent: set[SensorKey] = set()
        self._unhealthy_since: datetime | None = None
        self._degraded_raised = False
        self._dirty: set[Cell] = set()
        self._last_save: datetime | None = None
        # (wall, monotonic) at the last sweep: a difference between the two gaps is a step
        # of the wall clock (NTP), not time passing.
        self._last_sweep: tuple[datetime, float] | None = None
        self._adapters: dict[type[Any], TypeAdapter[Any]] = {}
        self.stats = EngineStats(rules=self._set.rule_count)

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Restore saved state, then give every sensor not seen before one period of grace."""
        now = self._clock.now()
        with self._lock:
            if self._store is not None:
                self._restore(self._store.load(), now)
            for key in self._slots:
                self._last_seen.setdefault(key, now)
            self._last_save = now

    def stop(self) -> None:
        """Save what changed since the last snapshot."""
        self.save()

    # -- input ---------------------------------------------------------------------------

    def on_readings(self, readings: Sequence[Reading], presence: Sequence[PresenceUpdate]) -> None:
        outputs: list[Output] = []
        evaluations = 0
        # Locals, not attributes: this loop runs once per reading and rule (hot path).
        slot_of = self._slots.get
        last_seen = self._last_seen
        silent = self._silent
        with self._lock:
            dirty = self._dirty  # under the lock: save() swaps the set
            for reading in readings:
                key = (reading.site, reading.sensor)
                slot = slot_of(key)
                if slot is None:
                    continue
                # _heard, inlined for the common case of a sensor that was not silent.
                if key in silent:
                    self._heard(key, slot, reading.received_at, outputs)
                else:
                    last_seen[key] = reading.received_at
                now = reading.ts
                evaluators = slot.evaluators
                for rule, evaluate, cell, subject in evaluators:
                    state = cell.value
                    new, out = evaluate(rule, state, reading, subject, now)
                    if new is not state:
                        cell.value = new
                        dirty.add(cell)
                    if out:
                        outputs.extend(out)
                evaluations += len(evaluators)
            for update in presence:
                self._presence(update, outputs)
            self.stats.readings += len(readings)
            self.stats.evaluations += evaluations
            self._emit_lock.acquire()
        self._emit(outputs)

    def _presence(self, update: PresenceUpdate, outputs: list[Output]) -> None:
        key = (update.site, update.sensor)
        slot = self._slots.get(key)
        if slot is None:
            return
        if update.online:
            self._heard(key, slot, update.received_at, outputs)
        elif key not in self._silent and slot.silence_after is not None:
            self._silent.add(key)
            outputs.append(last_will(slot.subject, update.received_at))

    def _heard(self, key: SensorKey, slot: Slot, at: datetime, outputs: list[Output]) -> None:
        """A sensor spoke: restart its silence timer and clear its silence alarm, if any."""
        self._last_seen[key] = at
        if key in self._silent:
            self._silent.discard(key)
            outputs.extend(heard(True, slot.subject, at)[1])  # noqa: FBT003

    # -- timers --------------------------------------------------------------------------

    def tick(self) -> None:
        """Sweep silence timers and every rule's timers (called every few seconds)."""
        now = self._clock.now()
        elapsed = self._clock.monotonic()
        outputs: list[Output] = []
        with self._lock:
            self.stats.sweeps += 1
            self._follow_clock_step(now, elapsed)
            healthy = self._input_healthy is None or self._input_healthy()
            if healthy:
                self._recovered(now, outputs)
                self._sweep_silence(now, outputs)
                self._run_tickers(now, outputs)
            else:
                self._degrading(now, outputs)
            self._emit_lock.acquire()
        self._emit(outputs)
        if self._last_save is None or now - self._last_save >= self._save_every:
            self.save()

    def _follow_clock_step(self, now: datetime, elapsed: float) -> None:
        """Silence is timed on the wall clock, from each sensor's last receive time: when
        NTP steps that clock, move those times with it, or a step forward makes every
        sensor "silent" at once and a step back hides a dead one for the step's length.

        Only times taken before the step move. Forward, those are the ones up to what the
        clock would say without the step; back, the ones ahead of the new time or older
        than the sweep's span (a reading heard since the step lies within it).
        """
        last, self._last_sweep = self._last_sweep, (now, elapsed)
        if last is None:
            return
        wall, mono = last
        passed = timedelta(seconds=elapsed - mono)
        step = (now - wall) - passed
        if abs(step) <= CLOCK_STEP_TOLERANCE:
            return
        if step > timedelta(0):
            unstepped = wall + passed

            def before_step(seen: datetime) -> bool:
                return seen <= unstepped
        else:
            since_step = now - passed

            def before_step(seen: datetime) -> bool:
                return seen > now or seen < since_step

        seen_times = self._last_seen
        for key, seen in seen_times.items():
            if before_step(seen):
                seen_times[key] = seen + step
        if self._unhealthy_since is not None:
            self._unhealthy_since += step
        log.warning("the wall clock stepped by %s; the silence timers moved with it", step)

    def _degrading(self, now: datetime, outputs: list[Output]) -> None:
        # Lantai cannot hear: hold every timer (a sensor is not silent, a door not held
        # open, because we are deaf), and after a grace raise one alarm per site.
        if self._unhealthy_since is None:
            self._unhealthy_since = now
        if not self._degraded_raised and now - self._unhealthy_since > DEGRADED_AFTER:
            self._degraded_raised = True
            outputs.extend(degraded(site, now, Transition.RAISE) for site in self._set.sites)

    def _recovered(self, now: datetime, outputs: list[Output]) -> None:
        if self._unhealthy_since is None:
            return
        began = self._unhealthy_since
        gap = now - began
        for key, seen in self._last_seen.items():
            # Only what we last heard before going deaf; a sensor heard since the input
            # came back (before this sweep) has a fresh time already.
            if seen <= began:
                self._last_seen[key] = seen + gap
        self._unhealthy_since = None
        if self._degraded_raised:
            self._degraded_raised = False
            outputs.extend(degraded(site, now, Transition.CLEAR) for site in self._set.sites)

    def _sweep_silence(self, now: datetime, outputs: list[Output]) -> None:
        for key, slot in self._slots.items():
            after = slot.silence_after
            if after is None or key in self._silent:
                continue
            raised, found = evaluate_silence(after, self._last_seen[key], False, slot.subject, now)  # noqa: FBT003
            if raised:
                self._silent.add(key)
                outputs.extend(found)

    def _run_tickers(self, now: datetime, outputs: list[Output]) -> None:
        for rule, tick, cell, subject in self._set.tickers:
            state = cell.value
            new, out = tick(rule, state, subject, now)
            if new is not state:
                cell.value = new
                self._dirty.add(cell)
            if out:
                outputs.extend(out)

    # -- outputs -------------------------------------------------------------------------

    def _emit(self, outputs: list[Output]) -> None:
        """Route outputs to their sinks, then release the emit lock taken while deciding."""
        try:
            if not outputs:
                return
            alarms = [o for o in outputs if isinstance(o, AlarmEvent)]
            tasks = [o for o in outputs if isinstance(o, TaskRequest)]
            metrics = [o for o in outputs if isinstance(o, MetricSample)]
            if alarms:
                self.stats.alarm_events += len(alarms)
                self._sink.publish(alarms)
            if tasks and self._tasks is not None:
                self.stats.tasks += len(tasks)
                self._tasks.request(tasks)
            if metrics and self._metrics is not None:
                self.stats.metrics += len(metrics)
                self._metrics.write_metrics(metrics)
        finally:
            self._emit_lock.release()

    # -- persistence ---------------------------------------------------------------------

    def save(self) -> None:
        """Snapshot changed states (under the lock), then write them (outside it)."""
        if self._store is None:
            return
        with self._lock:
            now = self._clock.now()
            snapshot: dict[str, tuple[str, Any]] = {
                cell.key: (
                    cell.kind.type,
                    self._adapter(cell.kind.state).dump_python(cell.value, mode="json"),
                )
                for cell in self._dirty
            }
            snapshot[ENGINE_RECORD] = ("engine", self._engine_record(now))
            self._dirty = set()
            self._last_save = now
        self._store.save(snapshot)
        self.stats.saves += 1

    def _engine_record(self, now: datetime) -> dict[str, Any]:
        since = self._unhealthy_since
        return {
            "saved_at": now.isoformat(),
            "last_seen": {f"{s}/{x}": t.isoformat() for (s, x), t in self._last_seen.items()},
            "silent": sorted(f"{s}/{x}" for s, x in self._silent),
            "unhealthy_since": None if since is None else since.isoformat(),
            "degraded_raised": self._degraded_raised,
        }

    def _restore(self, saved: dict[str, tuple[str, Any]], now: datetime) -> None:
        record = saved.pop(ENGINE_RECORD, None)
        cells = self._set.cells
        for key, (kind, data) in saved.items():
            cell = cells.get(key)
            if cell is None or cell.kind.type != kind:
                continue  # a rule removed or retyped since: its old state is not ours
            try:
                cell.value = self._adapter(cell.kind.state).validate_python(data)
            except ValidationError:
                log.warning("rule state %s could not be restored; starting it afresh", key)
                continue
            self.stats.restored_states += 1
        if record is None:
            return
        data = record[1]
        saved_at = datetime.fromisoformat(data["saved_at"])
        self._degraded_raised = bool(data.get("degraded_raised", False))
        since = data.get("unhealthy_since")
        if since is not None:
            # Deaf when we stopped: the outage goes on from when it began, and the sweep
            # that finds the input back moves every timer on by all of it, restart included.
            self._unhealthy_since = datetime.fromisoformat(since)
            gap = timedelta(0)
        else:
            # The time Lantai was down is not a sensor's silence: move every timer on by it.
            gap = max(now - saved_at, timedelta(0))
        for name, seen in data["last_seen"].items():
            site, _, sensor = name.partition("/")
            if (site, sensor) in self._slots:
                self._last_seen[(site, sensor)] = datetime.fromisoformat(seen) + gap
        for name in data["silent"]:
            site, _, sensor = name.partition("/")
            if (site, sensor) in self._slots:
                self._silent.add((site, sensor))

    def _adapter(self, state_type: type[Any]) -> TypeAdapter[Any]:
        adapter = self._adapters.get(state_type)
        if adapter is None:
            adapter = self._adapters[state_type] = TypeAdapter(state_type)
        return adapter

    # -- inspection (tests, API) -----------------------------------------------------------

    def state_of(self, key: str) -> Any:  # noqa: ANN401 - each rule has its own state type
        """The current state of one rule cell, by key (``rule:site:sensor-or-room``)."""
        with self._lock:
            return self._set.cells[key].value

    def subject_of(self, site: str, sensor: str) -> Subject | None:
        slot = self._slots.get((site, sensor))
        return None if slot is None else slot.subject
