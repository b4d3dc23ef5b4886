"""The rules engine: owns every rule's state and feeds it to the pure evaluators.

Readings arrive from the ingest thread (``on_readings``); the silence timer is swept by
``tick``, which a scheduler calls (APScheduler only triggers: the time comes from the
injected clock). Events go to an ``AlarmSink`` after the lock is released, so a slow
sink never blocks the other thread's evaluation.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from rules.evaluate import (
    Subject,
    evaluate_heard,
    evaluate_silence,
    evaluate_smoke,
    evaluate_threshold,
    silence_key,
)
from rules.model import SensorRules, compile_rules
from sensors.clock import Clock
from sensors.events import AlarmEvent, AlarmSink, Category, Severity, Transition
from sensors.facility import Facility
from sensors.reading import PresenceUpdate, Reading

SensorKey = tuple[str, str]  # (site, sensor)


@dataclass(slots=True)
class EngineStats:
    readings: int = 0
    events: int = 0
    sweeps: int = 0


class RulesEngine:
    """Evaluates the compiled rules for every reading and on every timer tick."""

    def __init__(
        self,
        facility: Facility,
        sink: AlarmSink,
        clock: Clock,
        *,
        input_healthy: Callable[[], bool] | None = None,
    ) -> None:
        self._rules = compile_rules(facility)
        self._subjects = {key: Subject(r.site, r.room, r.sensor) for key, r in self._rules.items()}
        self._sink = sink
        self._clock = clock
        self._input_healthy = input_healthy
        self._lock = threading.Lock()
        # Events leave in the order they were decided: the emit lock is taken before the
        # state lock is let go, so a CLEAR decided after a RAISE cannot overtake it.
        self._emit_lock = threading.Lock()
        self._thresholds: dict[tuple[str, str, str], bool] = {}
        self._smoking: dict[tuple[str, str], frozenset[str]] = {}
        self._last_seen: dict[SensorKey, datetime] = {}
        self._silent: set[SensorKey] = set()
        self._input_was_down = False
        self.stats = EngineStats()

    def start(self) -> None:
        """Every sensor gets one silence period of grace from now."""
        now = self._clock.now()
        with self._lock:
            for key in self._rules:
                self._last_seen.setdefault(key, now)

    def on_readings(self, readings: Sequence[Reading], presence: Sequence[PresenceUpdate]) -> None:
        now = self._clock.now()
        events: list[AlarmEvent] = []
        with self._lock:
            for reading in readings:
                self._evaluate(reading, now, events)
            for update in presence:
                self._presence(update, now, events)
            self.stats.readings += len(readings)
            self._emit_lock.acquire()
        self._emit(events)

    def tick(self) -> None:
        """Sweep the silence timers (called every few seconds by the scheduler)."""
        now = self._clock.now()
        events: list[AlarmEvent] = []
        with self._lock:
            self.stats.sweeps += 1
            if self._input_healthy is not None and not self._input_healthy():
                # The broker or collector is down: every sensor would look silent. Hold
                # the timers instead of raising one alarm per sensor (pain point 2).
                self._input_was_down = True
                return
            if self._input_was_down:
                self._input_was_down = False
                for key in self._last_seen:
                    self._last_seen[key] = max(self._last_seen[key], now)
            for key, rules in self._rules.items():
                raised = key in self._silent
                now_raised, found = evaluate_silence(
                    rules.silence, self._last_seen.get(key, now), raised, self._subjects[key], now
                )
                if now_raised and not raised:
                    self._silent.add(key)
                events.extend(found)
            self._emit_lock.acquire()
        self._emit(events)

    def _evaluate(self, reading: Reading, now: datetime, events: list[AlarmEvent]) -> None:
        key = (reading.site, reading.sensor)
        rules = self._rules.get(key)
        if rules is None:
            return
        subject = self._subjects[key]
        self._heard(key, rules, subject, now, events)
        payload = reading.payload
        for rule in rules.thresholds:
            value = getattr(payload, rule.field)
            if value is None:
                continue
            state_key = (rule.id, *key)
            active = self._thresholds.get(state_key, False)
            now_active, found = evaluate_threshold(rule, active, value, subject, now)
            if now_active is not active:
                self._thresholds[state_key] = now_active
                events.extend(found)
        if rules.smoke is not None and payload.smoke is not None:
            room_key = (reading.site, reading.room)
            smoking = self._smoking.get(room_key, frozenset())
            after, found = evaluate_smoke(rules.smoke, smoking, payload.smoke, subject, now)
            if after is not smoking:
                self._smoking[room_key] = after
                events.extend(found)

    def _heard(
        self,
        key: SensorKey,
        rules: SensorRules,
        subject: Subject,
        now: datetime,
        events: list[AlarmEvent],
    ) -> None:
        self._last_seen[key] = now
        if key in self._silent:
            _, found = evaluate_heard(rules.silence, raised=True, subject=subject, now=now)
            self._silent.discard(key)
            events.extend(found)

    def _presence(self, update: PresenceUpdate, now: datetime, events: list[AlarmEvent]) -> None:
        key = (update.site, update.sensor)
        rules = self._rules.get(key)
        if rules is None:
            return
        subject = self._subjects[key]
        if update.online:
            self._heard(key, rules, subject, now, events)
        elif key not in self._silent:
            # The device's Last Will: do not wait out the silence timer.
            self._silent.add(key)
            events.append(
                AlarmEvent(
                    key=silence_key(subject),
                    transition=Transition.RAISE,
                    rule=rules.silence.id,
                    category=Category.TROUBLE,
                    severity=Severity.LOW,
                    site=subject.site,
                    room=subject.room,
                    sensor=subject.sensor,
                    at=now,
                    message_zh=f"{subject.room} 传感器 {subject.sensor} 报告离线",
                    message_en=f"Sensor {subject.sensor} in {subject.room} reported offline",
                    value="offline",
                )
            )

    def _emit(self, events: list[AlarmEvent]) -> None:
        """Publish, then release the emit lock taken while the events were decided."""
        try:
            if events:
                self.stats.events += len(events)
                self._sink.publish(events)
        finally:
            self._emit_lock.release()
