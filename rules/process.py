"""The rules engine in a process of its own, so that it does not share paho's interpreter lock.

The ingest's ceiling is paho's network thread (README "What bounds ingest"); in the same
interpreter the full rule set costs ~12 µs a reading under the same lock. ``RulesProcess``
runs the real ``RulesEngine`` in a child process (``spawn``: the parent has threads) and
stands in for it wherever the service used the engine: ``start``, ``stop``, ``tick``,
``on_readings``, ``stats``.

The parent's side of a batch costs ~0.3 µs a reading: each reading crosses as
``(site, room, sensor, received_at, raw)`` and the child validates ``raw`` again with the
same pydantic model (``Reading.raw`` is the validated message, so the payload comes out
the same). Pickling the ``Reading`` objects themselves costs ~5 µs a reading, measured.

Every message to the child has a sequence number; the child answers each, in order, with
the outputs it decided (alarm events, task requests, metric samples) and its counters. A
parent thread hands the outputs to the real sinks and only then counts the message as
evaluated, so ``wait_evaluated`` means "the rules have seen it and what they decided has
been handed on" — the ingest acknowledges a batch to MQTT only after that and after the
durable write. At most ``max_in_flight`` messages wait for an answer (back-pressure).

If the child dies, the parent notices at once (its pipe reaches EOF) and starts a new
one, which restores the saved state as a restart of the service would. The parent then
replays to it, silently (outputs dropped: they were handed on), the batches answered since
that save — so a crash takes no rule state back, and an alarm raised just before it still
clears — and sends it again every message not yet answered. A reading is thus evaluated
at least once (the dead child may have evaluated it without answering); its outputs reach
the sinks exactly once, because only an answered message's outputs are handed on and an
answered message is never answered again. Ticks are not replayed: a timer decision they
made is made again by the next tick (a RAISE repeated, which the alarm service treats as
the same alarm). The engine moves its timers on by the time it was away, so no sensor is
called silent for it. An outage longer than ``degraded_after`` (no rules at all: no child
can be started) raises the same "monitoring degraded" alarm the engine raises when Lantai
cannot hear, from the parent, since nobody else can; it clears once a child runs again
and the input is healthy. A message at the head of the queue when two children died is
the likely cause: it is dropped, counted and logged, so the rest can be evaluated.

As with any ``spawn`` child, a script that starts one must guard its entry point
(``if __name__ == "__main__":``): the child imports the parent's main module. The
``lantai`` command and ``python -m lantai`` are safe.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import pickle
import signal
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, Protocol

import sqlalchemy as sa
from pydantic import ValidationError

from rules.config import RuleFile
from rules.engine import DEGRADED_AFTER, EngineStats, RulesEngine
from rules.persistence import SqlStateStore
from rules.silence import degraded
from sensors.clock import Clock, SystemClock
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
from sensors.payload import ReadingPayload
from sensors.reading import PresenceUpdate, Reading

log = logging.getLogger(__name__)

# Batches (and ticks) handed over and not yet answered. The ingest keeps at most a few in
# flight (its write queue is two deep); this bounds any other caller, and memory.
MAX_IN_FLIGHT = 16
# A child that answers nothing for this long while work waits is stuck: it is killed and
# replaced. A batch of 5,000 readings takes ~60 ms; a save of 10,000 sensors' states ~2 s.
HUNG_AFTER_S = 60.0
# A new child compiles the rules and restores the state (~1 s for 1,000 sensors).
START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 30.0
# A tick waits this long for its answer, so the scheduler's thread is never held for long.
TICK_WAIT_S = 10.0
# The same message at the head of the queue when this many children died is dropped.
POISON_AFTER_DEATHS = 2
RESTART_BACKOFF_MAX_S = 10.0
# The child saves its state after this many readings, besides the engine's timed saves:
# the parent keeps every batch since the last save to replay to a successor, so this
# bounds that journal (~130 bytes a reading).
SAVE_EVERY_READINGS = 200_000

# Message kinds, parent → child.
_BATCH, _TICK, _STOP, _REPLAY_UPTO = 0, 1, 2, 3
# Output kinds, child → parent: which sink a list of outputs goes to.
_ALARMS, _TASKS, _METRICS = 0, 1, 2
_READY, _FAILED = "ready", "failed"
_ENGINE_FIELDS = tuple(f.name for f in fields(EngineStats))
_SAVES = _ENGINE_FIELDS.index("saves")
# Counters that add up over successive children; the others describe the current one.
_CUMULATIVE = frozenset(_ENGINE_FIELDS) - {"rules", "restored_states"}

CompactReading = tuple[str, str, str, datetime, bytes]
CompactPresence = tuple[str, str, str, bool, datetime]
OutputCall = tuple[int, list[Any]]
# (seq, outputs in emission order or None, error text or None, the engine's counters)
Answer = tuple[int, list[OutputCall] | None, str | None, tuple[int, ...]]


@dataclass(frozen=True, slots=True)
class RulesSpec:
    """What the child builds its engine from: validated configs, picklable."""

    facility: Facility
    rules: RuleFile | None = None
    # The state database (rule states survive restarts); None keeps no state.
    state_url: str | None = None
    save_every: timedelta = timedelta(seconds=10)


class ChildEngine(Protocol):
    """What the child needs of its engine (``RulesEngine``)."""

    @property
    def stats(self) -> EngineStats: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def tick(self) -> None: ...

    def save(self) -> None: ...

    def on_readings(
        self, readings: Sequence[Reading], presence: Sequence[PresenceUpdate]
    ) -> None: ...


class EngineBuilder(Protocol):
    """Builds the child's engine. It crosses to the child by name: a module-level function."""

    def __call__(
        self,
        spec: RulesSpec,
        sink: AlarmSink,
        *,
        tasks: TaskSink | None,
        metrics: MetricSink | None,
        input_healthy: Callable[[], bool],
    ) -> ChildEngine: ...


def build_engine(
    spec: RulesSpec,
    sink: AlarmSink,
    *,
    tasks: TaskSink | None,
    metrics: MetricSink | None,
    input_healthy: Callable[[], bool],
) -> RulesEngine:
    """The real engine on the wall clock, its state in the state database."""
    return RulesEngine(
        spec.facility,
        sink,
        SystemClock(),
        rules=spec.rules,
        tasks=tasks,
        metrics=metrics,
        state_store=None if spec.state_url is None else _state_store(spec.state_url),
        input_healthy=input_healthy,
        save_every=spec.save_every,
    )


def _state_store(url: str) -> SqlStateStore:
    # As alerts.tables.create_state_engine (which rules/ may not import): WAL, so the
    # parent's alarm store and this process share the SQLite file without blocking.
    engine = sa.create_engine(url)
    if engine.dialect.name == "sqlite":

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(conn: Any, _record: Any) -> None:  # noqa: ANN401 - DB-API types
            cursor = conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA busy_timeout=5000")
            cursor.close()

    store = SqlStateStore(engine)
    store.start()
    return store


@dataclass(slots=True)
class RulesProcessStats(EngineStats):
    """The engine's counters (summed over successive children) and the process's own.

    After a restart the engine's counters include the batches replayed to rebuild the
    state (``replayed``), whose outputs were not handed on a second time.
    """

    child_pid: int | None = None
    restarts: int = 0
    resent: int = 0  # unanswered messages sent again to a new child
    replayed: int = 0  # answered batches evaluated again by a new child, silently
    dropped: int = 0  # poison messages given up on
    errors: int = 0  # rule exceptions and unreadable readings, reported by the child
    sink_errors: int = 0
    in_flight: int = 0
    last_error: str | None = None


class RulesProcess:
    """The rules engine in a child process, supervised; a drop-in for ``RulesEngine``."""

    def __init__(
        self,
        spec: RulesSpec,
        sink: AlarmSink,
        *,
        tasks: TaskSink | None = None,
        metrics: MetricSink | None = None,
        input_healthy: Callable[[], bool] | None = None,
        clock: Clock | None = None,
        build: EngineBuilder = build_engine,
        max_in_flight: int = MAX_IN_FLIGHT,
        degraded_after: timedelta = DEGRADED_AFTER,
        hung_after_s: float = HUNG_AFTER_S,
    ) -> None:
        self._spec = spec
        self._sink = sink
        self._tasks = tasks
        self._metrics = metrics
        self._input_healthy = input_healthy
        self._clock = clock or SystemClock()
        self._build = build
        self._max_in_flight = max_in_flight
        self._degraded_after = degraded_after
        self._hung_after_s = hung_after_s
        self._context = multiprocessing.get_context("spawn")
        # _cond guards the queue and the counters below; _send_lock the child's pipe.
        self._cond = threading.Condition()
        self._send_lock = threading.Lock()
        # seq → pickled message (None while it is being pickled). Sequence numbers are
        # consecutive, and every one above _evaluated is here until it is answered.
        self._pending: dict[int, bytes | None] = {}
        self._next_seq = 1
        self._evaluated = 0  # every message up to this one is answered and handed on
        self._sent = 0  # the last message written to the current child (under _send_lock)
        self._tick_seq = 0
        # Answered batches since the child's last save: a successor restores that save and
        # replays these (its outputs dropped: they were handed on), so the rules' state
        # loses nothing a crash would otherwise take back to the last save.
        self._journal: list[tuple[int, bytes]] = []
        self._batches: dict[int, bytes] = {}  # pending batches, by seq (for the journal)
        self._replay_due: list[bytes] = []  # written to a new child before anything else
        self._progress_at = time.monotonic()
        self._running = False
        self._stopping = threading.Event()
        self._child: _Child | None = None
        self._receiver: threading.Thread | None = None
        self._down_since: datetime | None = None
        self._outage_alarm = False
        self._input_was_healthy = True
        self._head_deaths: tuple[int, int] = (0, 0)  # (head seq, children it saw die)
        self._totals = dict.fromkeys(_ENGINE_FIELDS, 0)  # summed over dead children
        self._current: tuple[int, ...] = (0,) * len(_ENGINE_FIELDS)
        self._own = RulesProcessStats()

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Start the child and wait until it has compiled the rules and restored the state."""
        self._stopping.clear()
        self._child = self._spawn()
        with self._cond:
            self._running = True
        self._receiver = threading.Thread(
            target=self._receive, name="lantai-rules-results", daemon=True
        )
        self._receiver.start()

    def stop(self) -> None:
        """Let the child evaluate what it has, save its state and leave; then join it."""
        with self._cond:
            if not self._running:
                return
            self._running = False
            self._cond.notify_all()  # submitters waiting for room give up
            seq = self._reserve()
        self._stopping.set()  # from here on, the child's end is not a crash
        self._fill(seq, _STOP, None)
        self._flush(block=True)
        if not self._await_last_answer(seq):
            log.warning("the rules process did not confirm its last save")
        child = self._child
        if child is not None:
            child.end(STOP_TIMEOUT_S)
        if self._receiver is not None:
            self._receiver.join(timeout=START_TIMEOUT_S)
            self._receiver = None
        # A child started while we were stopping: its pipe's end makes it save and leave.
        late = self._child
        if late is not None and late is not child:
            late.inbox.close()
            late.end(STOP_TIMEOUT_S)
            late.close()
        if child is not None:
            child.close()
        self._child = None

    def _await_last_answer(self, seq: int) -> bool:
        # Not past the results thread's end: a child that died just now never answers.
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while not self.wait_evaluated(seq, 0.2):
            receiver = self._receiver
            if receiver is None or not receiver.is_alive() or time.monotonic() > deadline:
                return False
        return True

    # -- input ---------------------------------------------------------------------------

    def submit(self, readings: Sequence[Reading], presence: Sequence[PresenceUpdate]) -> int:
        """Hand a batch to the child; returns its ticket for ``wait_evaluated``.

        Blocks while ``max_in_flight`` messages wait for an answer (back-pressure).
        """
        with self._cond:
            while len(self._pending) >= self._max_in_flight and self._running:
                self._cond.wait()
            if not self._running:
                raise RuntimeError("the rules process is not running")
            seq = self._reserve()
        compact_readings: list[CompactReading] = [
            (r.site, r.room, r.sensor, r.received_at, r.raw) for r in readings
        ]
        compact_presence: list[CompactPresence] = [
            (p.site, p.room, p.sensor, p.online, p.received_at) for p in presence
        ]
        self._fill(seq, _BATCH, (compact_readings, compact_presence), journal=True)
        self._flush(block=False)
        return seq

    def wait_evaluated(self, ticket: int, timeout: float | None = None) -> bool:
        """True once the child has evaluated message ``ticket`` and its outputs are handed on."""
        with self._cond:
            return self._cond.wait_for(lambda: self._evaluated >= ticket, timeout)

    def on_readings(self, readings: Sequence[Reading], presence: Sequence[PresenceUpdate]) -> None:
        """As ``RulesEngine.on_readings``: returns once the batch is evaluated."""
        ticket = self.submit(readings, presence)
        while not self.wait_evaluated(ticket, 1.0):
            if self._stopping.is_set():
                return

    # -- timers --------------------------------------------------------------------------

    def tick(self) -> None:
        """Sweep the child's timers, telling it whether Lantai can hear (the scheduler calls it)."""
        healthy = self._input_healthy is None or self._input_healthy()
        self._input_was_healthy = healthy
        self._watch_for_hang()
        with self._cond:
            if not self._running:
                return
            down = self._child is None or self._down_since is not None
            queued = self._tick_seq > self._evaluated  # one tick waiting is enough
            if not (down or queued):
                self._tick_seq = self._reserve()
            seq = self._tick_seq
        if down:
            self._judge_outage()
            return
        if healthy:
            self._clear_outage_alarm()
        if not queued:
            self._fill(seq, _TICK, healthy)
            self._flush(block=False)
        self.wait_evaluated(seq, TICK_WAIT_S)

    # -- inspection (health, tests) --------------------------------------------------------

    @property
    def stats(self) -> RulesProcessStats:
        with self._cond:
            current = dict(zip(_ENGINE_FIELDS, self._current, strict=True))
            merged = {
                name: self._totals[name] + current[name] if name in _CUMULATIVE else current[name]
                for name in _ENGINE_FIELDS
            }
            own = self._own
            child = self._child
            return RulesProcessStats(
                **merged,
                child_pid=None if child is None else child.process.pid,
                restarts=own.restarts,
                resent=own.resent,
                replayed=own.replayed,
                dropped=own.dropped,
                errors=own.errors,
                sink_errors=own.sink_errors,
                in_flight=len(self._pending),
                last_error=own.last_error,
            )

    @property
    def child_pid(self) -> int | None:
        child = self._child
        return None if child is None else child.process.pid

    # -- the queue -----------------------------------------------------------------------

    def _reserve(self) -> int:
        """The next sequence number, its place kept in the queue (under _cond)."""
        seq = self._next_seq
        self._next_seq += 1
        if not self._pending:
            self._progress_at = time.monotonic()
        self._pending[seq] = None
        return seq

    def _fill(self, seq: int, kind: int, body: object, *, journal: bool = False) -> None:
        # Pickled outside the lock: ~0.3 µs a reading, and the results thread must not wait.
        data = _dumps((seq, kind, body))
        with self._cond:
            if seq in self._pending:
                self._pending[seq] = data
                if journal and self._spec.state_url is not None:
                    self._batches[seq] = data

    def _flush(self, *, block: bool) -> None:
        """Write every filled message, in order, to the child.

        Whoever holds the pipe writes for everybody; a thread that finds it busy
        (``block=False``) leaves its message to the holder, who looks again after letting
        go. The results thread never writes: a full pipe could then wait on itself.
        """
        while True:
            if not self._send_lock.acquire(blocking=block):
                return
            try:
                child = self._child
                while child is not None and self._replay_due:
                    try:
                        child.inbox.send_bytes(self._replay_due[0])
                    except OSError:
                        child = None  # gone again; the next successor replays it all
                        break
                    del self._replay_due[0]
                while child is not None:
                    with self._cond:
                        data = self._pending.get(self._sent + 1)
                    if data is None:
                        break
                    try:
                        child.inbox.send_bytes(data)
                    except OSError:
                        break  # the child is gone; its successor gets everything again
                    self._sent += 1
            finally:
                self._send_lock.release()
            with self._cond:
                if self._child is None or self._pending.get(self._sent + 1) is None:
                    return

    # -- answers (the results thread) ------------------------------------------------------

    def _receive(self) -> None:
        while True:
            child = self._child
            if child is None:
                return
            try:
                data = child.outbox.recv_bytes()
            except (EOFError, OSError):
                if self._stopping.is_set() or not self._replace(child):
                    return
                continue
            self._answered(pickle.loads(data))  # noqa: S301 - our own child's answer

    def _answered(self, answer: Answer) -> None:
        seq, calls, error, stats = answer
        if error is not None:
            log.error("rules process: %s", error)
        if calls:
            self._deliver(calls)
        with self._cond:
            batch = self._batches.pop(seq, None)
            if batch is not None:
                self._journal.append((seq, batch))
            if stats[_SAVES] > self._current[_SAVES]:
                self._journal.clear()  # saved after this message: all of it is in the save
            self._current = stats
            if error is not None:
                self._own.errors += 1
                self._own.last_error = error.strip().splitlines()[-1][:300]
            self._pending.pop(seq, None)
            self._evaluated = seq
            self._progress_at = time.monotonic()
            self._cond.notify_all()

    def _deliver(self, calls: list[OutputCall]) -> None:
        """Hand outputs to the sinks in the order the engine emitted them."""
        for kind, items in calls:
            try:
                if kind == _ALARMS:
                    self._sink.publish(items)
                elif kind == _TASKS and self._tasks is not None:
                    self._tasks.request(items)
                elif kind == _METRICS and self._metrics is not None:
                    self._metrics.write_metrics(items)
            except Exception as exc:
                # As in-process, where a sink's failure reaches the ingest and is counted
                # there: the batch still counts as evaluated, or ingest would stall.
                with self._cond:
                    self._own.sink_errors += 1
                    self._own.last_error = f"sink: {exc!r}"[:300]
                log.exception("a sink refused the rules' outputs")

    # -- supervision -----------------------------------------------------------------------

    def _replace(self, dead: _Child) -> bool:
        """The child died: start another and send it what was not answered. False if stopping."""
        dead.end(5.0)
        log.error(
            "the rules process (pid %s) ended with exit code %s; starting a new one",
            dead.process.pid,
            dead.process.exitcode,
        )
        with self._cond:
            self._down_since = self._clock.now()
            for name, value in zip(_ENGINE_FIELDS, self._current, strict=True):
                if name in _CUMULATIVE:
                    self._totals[name] += value
            self._current = (0,) * len(_ENGINE_FIELDS)
            self._drop_poison()
        with self._send_lock:
            self._child = None
        dead.close()
        delay = 0.0
        child: _Child | None = None
        while child is None:
            if self._stopping.wait(delay):
                return False
            self._judge_outage()
            try:
                child = self._spawn()
            except RuntimeError as exc:
                log.error("the rules process could not be restarted: %s", exc)  # noqa: TRY400
                delay = min(max(delay * 2, 0.5), RESTART_BACKOFF_MAX_S)
        with self._send_lock:
            self._child = child
            self._sent = self._evaluated  # everything not answered goes again, in order
            # First what was answered since the last save, to be evaluated again silently.
            journal = [data for _, data in self._journal]
            if journal:
                marker = _dumps((0, _REPLAY_UPTO, self._journal[-1][0]))
                self._replay_due = [marker, *journal]
            with self._cond:
                self._own.restarts += 1
                self._own.resent += len(self._pending)
                self._own.replayed += len(journal)
                self._down_since = None
                self._progress_at = time.monotonic()
        if self._stopping.is_set():
            return False  # stop() found no child to stop; this one ends with the pipe
        if self._input_was_healthy:
            self._clear_outage_alarm()
        # Written from another thread: this one must keep reading the child's answers.
        threading.Thread(
            target=self._flush, kwargs={"block": True}, name="lantai-rules-resend", daemon=True
        ).start()
        return True

    def _drop_poison(self) -> None:
        """Give up on the head message once it has seen two children die (under _cond)."""
        head = next(iter(self._pending), None)
        if head is None:
            return
        seen, deaths = self._head_deaths
        deaths = deaths + 1 if seen == head else 1
        self._head_deaths = (head, deaths)
        if deaths < POISON_AFTER_DEATHS:
            return
        del self._pending[head]
        self._batches.pop(head, None)
        self._evaluated = head
        self._own.dropped += 1
        self._own.last_error = f"message {head} killed {deaths} rules processes; dropped"
        log.error("message %s killed %s rules processes; it is dropped", head, deaths)
        self._cond.notify_all()

    def _watch_for_hang(self) -> None:
        with self._cond:
            child = self._child
            stuck = (
                child is not None
                and self._down_since is None
                and bool(self._pending)
                and time.monotonic() - self._progress_at > self._hung_after_s
            )
        if stuck and child is not None:
            log.error("the rules process (pid %s) answers nothing; killing it", child.process.pid)
            child.process.kill()  # the results thread sees the pipe close and replaces it

    def _judge_outage(self) -> None:
        """No rules run: past ``degraded_after`` that is "monitoring degraded" for every site."""
        now = self._clock.now()
        with self._cond:
            since = self._down_since
            if since is None or self._outage_alarm or now - since <= self._degraded_after:
                return
            self._outage_alarm = True
        log.error("no rules process for %s: monitoring is degraded", now - since)
        self._publish_degraded(now, Transition.RAISE)

    def _clear_outage_alarm(self) -> None:
        with self._cond:
            if not self._outage_alarm or self._down_since is not None:
                return
            self._outage_alarm = False
        self._publish_degraded(self._clock.now(), Transition.CLEAR)

    def _publish_degraded(self, now: datetime, transition: Transition) -> None:
        events = [degraded(site, now, transition) for site in self._spec.facility.sites]
        self._deliver([(_ALARMS, events)])

    def _spawn(self) -> _Child:
        """A new child, once it says it is ready; RuntimeError if it cannot start."""
        inbox_reader, inbox = self._context.Pipe(duplex=False)
        outbox, outbox_writer = self._context.Pipe(duplex=False)
        # The facility crosses our own pipe, not multiprocessing's start-up data: a child
        # that dies before reading that data leaves Process.start() blocked for good once
        # it exceeds the pipe's 64 KB (the parent holds the read end while it writes).
        process = self._context.Process(
            target=_child_main, args=(inbox_reader, outbox_writer), name="lantai-rules", daemon=True
        )
        process.start()
        # Only the child holds its ends now, so its death closes the pipe for us at once.
        inbox_reader.close()
        outbox_writer.close()
        child = _Child(process, inbox, outbox)
        sinks = (self._tasks is not None, self._metrics is not None)
        orders = _dumps((self._spec, self._build, sinks))
        # From another thread: a child stuck before reading must not hold this one; the
        # wait below kills it, which ends the write.
        threading.Thread(target=_send_quietly, args=(inbox, orders), daemon=True).start()
        word, detail = _first_word(outbox)
        if word != _READY:
            child.end(5.0)
            child.close()
            raise RuntimeError(f"{detail} (exit code {process.exitcode})")
        with self._cond:
            self._current = detail
        return child


@dataclass(slots=True)
class _Child:
    process: BaseProcess
    inbox: Connection  # parent → child
    outbox: Connection  # child → parent

    def end(self, timeout: float) -> None:
        """Join; kill if it does not leave in time."""
        self.process.join(timeout)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5.0)

    def close(self) -> None:
        for conn in (self.inbox, self.outbox):
            with contextlib.suppress(OSError):
                conn.close()


def _send_quietly(conn: Connection, data: bytes) -> None:
    with contextlib.suppress(OSError):
        conn.send_bytes(data)


def _first_word(outbox: Connection) -> tuple[str, Any]:
    """The child's first answer: ready (with its counters) or failed (with why)."""
    try:
        if not outbox.poll(START_TIMEOUT_S):
            return _FAILED, f"not ready within {START_TIMEOUT_S:.0f} s"
        word: tuple[str, Any] = pickle.loads(outbox.recv_bytes())  # noqa: S301 - our child
    except (EOFError, OSError):
        return _FAILED, "ended while starting"
    return word


# -- the child ---------------------------------------------------------------------------


class _Outputs:
    """The child's sinks: what the engine emits, in order, until the answer takes it."""

    def __init__(self) -> None:
        self.calls: list[OutputCall] = []

    def publish(self, events: Sequence[AlarmEvent]) -> None:
        self.calls.append((_ALARMS, list(events)))

    def request(self, tasks: Sequence[TaskRequest]) -> None:
        self.calls.append((_TASKS, list(tasks)))

    def write_metrics(self, samples: Sequence[MetricSample]) -> None:
        self.calls.append((_METRICS, list(samples)))

    def take(self) -> list[OutputCall] | None:
        calls, self.calls = self.calls, []
        return calls or None


class _Health:
    """The parent's word on whether Lantai can hear, as of its last tick."""

    def __init__(self) -> None:
        self.healthy = True

    def __call__(self) -> bool:
        return self.healthy


def _child_main(inbox: Connection, outbox: Connection) -> None:
    # Ctrl-C reaches the whole process group; the parent stops the child in order.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    outputs = _Outputs()
    health = _Health()
    try:
        orders: tuple[RulesSpec, EngineBuilder, tuple[bool, bool]]
        orders = pickle.loads(inbox.recv_bytes())  # noqa: S301 - our parent
        spec, build, sinks = orders
        engine = build(
            spec,
            outputs,
            tasks=outputs if sinks[0] else None,
            metrics=outputs if sinks[1] else None,
            input_healthy=health,
        )
        engine.start()
    except Exception:  # noqa: BLE001 - reported to the parent, which logs it
        outbox.send_bytes(_dumps((_FAILED, traceback.format_exc())))
        return
    outputs.take()  # what start() decided is not ours to send: it answered no message
    outbox.send_bytes(_dumps((_READY, _counters(engine.stats))))
    server = _Server(engine, outputs, health)
    while True:
        try:
            seq, kind, body = pickle.loads(inbox.recv_bytes())  # noqa: S301 - our parent
        except EOFError:
            engine.stop()  # the parent is gone: keep what we know for the next start
            return
        answer = server.handle(seq, kind, body)
        if answer is not None:
            outbox.send_bytes(_dumps(answer))
        if kind == _STOP:
            return


class _Server:
    """The child's side of the conversation: one answer per message, in order."""

    def __init__(self, engine: ChildEngine, outputs: _Outputs, health: _Health) -> None:
        self._engine = engine
        self._outputs = outputs
        self._health = health
        self._replay_upto = 0  # messages up to this one were answered by a predecessor
        self._unsaved = 0  # readings evaluated since the last save

    def handle(self, seq: int, kind: int, body: Any) -> Answer | None:  # noqa: ANN401
        if kind == _REPLAY_UPTO:
            self._replay_upto = body
            return None
        engine = self._engine
        saves = engine.stats.saves
        error: str | None = None
        try:
            if kind == _BATCH:
                error = _evaluate(engine, body)
                self._unsaved += len(body[0])
                if self._unsaved >= SAVE_EVERY_READINGS:
                    engine.save()
            elif kind == _TICK:
                self._health.healthy = bool(body)
                engine.tick()
            else:
                engine.stop()
        except Exception:  # noqa: BLE001 - a rule's bug must not end the rules
            error = traceback.format_exc(limit=8)
        if engine.stats.saves != saves:
            self._unsaved = 0
        calls = self._outputs.take()
        if seq <= self._replay_upto:
            return None  # evaluated again to rebuild the state; its outputs were handed on
        return seq, calls, error, _counters(engine.stats)


def _evaluate(
    engine: ChildEngine, body: tuple[list[CompactReading], list[CompactPresence]]
) -> str | None:
    compact_readings, compact_presence = body
    validate = ReadingPayload.model_validate_json
    readings: list[Reading] = []
    unreadable = 0
    for site, room, sensor, received_at, raw in compact_readings:
        try:
            payload = validate(raw)
        except ValidationError:
            unreadable += 1
            continue
        ts = payload.ts or received_at
        readings.append(Reading(site, room, sensor, ts, received_at, payload, raw))
    presence = [PresenceUpdate(*p) for p in compact_presence]
    engine.on_readings(readings, presence)
    if unreadable:
        return f"{unreadable} reading(s) in message could not be read again; skipped"
    return None


def _counters(stats: EngineStats) -> tuple[int, ...]:
    return tuple(getattr(stats, name) for name in _ENGINE_FIELDS)


def _dumps(value: object) -> bytes:
    return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
