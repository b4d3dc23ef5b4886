"""The ingest worker: decode, hand on to the rules, write durably, then acknowledge.

Two threads. The first drains the delivery queue in batches (group commit: under load a
batch grows to thousands of messages and costs one transaction; when quiet each message
is its own batch, so a smoke reading reaches the rules at once; under a flood it waits a
few milliseconds for a part worth its costs, ``LINGER_S``), decodes them and hands them
to the rules. The second writes each batch durably and only then acknowledges it,
batches in order. SQLite writes in C without the interpreter lock, so while one batch is
being written the next is decoded and evaluated instead of waiting. Rules that run in a
process of their own (``EvaluatingListener``) take the batch at once and evaluate it while
it is written; the writer then acknowledges it only once it is both written and evaluated,
so no reading the rules have not seen is acknowledged. The broker's in-flight
window and a bound on what is evaluated but not yet written (``MAX_UNWRITTEN``) bound what
can wait here, which bounds memory; while the store refuses writes, the rules go on
seeing new readings up to that bound, so a locked or full store does not hold an alarm.

Retry lives here and nowhere else: if the store refuses a batch, the same batch is tried
again with backoff and nothing is acknowledged until it is written, so the broker keeps
every message until it is safe.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, cast, runtime_checkable

from collectors.batch import DecodedBatch
from collectors.decode import Decoder
from collectors.mqtt_source import AckToken, Delivery, MessageSource
from collectors.quarantine import Rejected
from collectors.sqlite_store import Batch
from sensors.clock import Clock
from sensors.reading import PresenceUpdate, Reading

log = logging.getLogger(__name__)

DEFAULT_MAX_BATCH = 5000
# Readings (and refused messages) decoded and evaluated but not yet written. Under load
# that is two full batches, as many as overlap the two threads. When the store refuses
# writes (a lock, a full disk) the trickle of a site's normal rate comes in small
# batches, and the decoder must go on handing them to the rules meanwhile: a bound in
# batches would stop the alarms after two messages. At 200 sensors a minute this lasts
# nearly an hour of outage; past it the decoder waits (and the broker keeps the rest).
MAX_UNWRITTEN = 2 * DEFAULT_MAX_BATCH
# Under load the decoder waits once two parts are waiting for the writer, so messages pile
# up in the delivery queue and the next part is large: one transaction, one fsync and one
# hand-over to the rules for thousands of messages (group commit). Only a writer stuck in
# one write for longer than this (a lock, a full disk) lets the decoder go on to
# MAX_UNWRITTEN, so that the rules keep seeing new readings.
WRITE_QUEUE = 2
WRITE_STALL_S = 0.25
# A busy stream makes small parts: the decoder is quicker than paho's loop, so it wakes for
# every few messages, and each part costs interpreter-lock hand-offs with paho's thread, a
# rules round trip and a place in a transaction. So once the stream is busy, the decoder
# waits LINGER_S (unless LINGER_ENOUGH messages already wait) for paho to queue more.
# "Busy" has two thresholds so that a moderate stream is not held: it starts when a part
# gathered without waiting holds LINGER_START messages (they piled up while one part was
# decoded), and lasts while a part gathered by waiting holds LINGER_KEEP (the stream runs
# at over LINGER_KEEP / LINGER_S = 6,400 messages/s). Measured at 1,000 sensors: parts
# grow from ~15 to ~230 messages, and the ratio to bare paho from ~0.65 to ~0.9 without
# rules and from ~0.5 to ~0.75 with them (README "Gathering a busy stream" has the runs
# and the alarm benchmark's figures). A quiet or moderate stream is never held, so a smoke
# reading goes on at once; in a flood an alarm waits at most LINGER_S more: 0.1 % of the
# 10 s NFPA 72 allows from detector to annunciation, 0.3 % of GB 50166's 3 s for linkage
# (archive-standards.md, fire-timing norms).
LINGER_S = 0.010
LINGER_ENOUGH = 256
LINGER_START = 16
LINGER_KEEP = 64
# How long a stopping writer still waits for the rules to evaluate a written batch; past
# it the batch stays unacknowledged, and the broker sends it again on the next start.
STOP_EVALUATION_WAIT_S = 30.0
_STOP = object()


class ReadingListener(Protocol):
    """Who gets each accepted batch before it is written (the rules engine)."""

    def on_readings(
        self, readings: Sequence[Reading], presence: Sequence[PresenceUpdate]
    ) -> None: ...


@runtime_checkable
class EvaluatingListener(Protocol):
    """Rules that evaluate elsewhere: ``submit`` hands a batch over and returns a ticket."""

    def submit(self, readings: Sequence[Reading], presence: Sequence[PresenceUpdate]) -> int: ...

    def wait_evaluated(self, ticket: int, timeout: float | None = None) -> bool: ...


class BatchWriter(Protocol):
    """The durable store: ``write`` returns only once the batch is safe."""

    def write(self, batch: Batch) -> None: ...


@dataclass(slots=True)
class IngestStats:
    """Counters for /api/health and the benchmarks."""

    received: int = 0
    parts: int = 0  # what the decoder handed on; received / parts is the mean part size
    lingers: int = 0  # times the decoder waited for a busy stream to queue more
    stored: int = 0
    quarantined: int = 0
    presence: int = 0
    batches: int = 0
    write_retries: int = 0
    listener_errors: int = 0
    last_error: str | None = None
    last_write_at: datetime | None = None


class Ingest:
    """Runs source → decode → listener → store → ack on one worker thread."""

    def __init__(
        self,
        source: MessageSource,
        decoder: Decoder,
        store: BatchWriter,
        clock: Clock,
        listener: ReadingListener | EvaluatingListener | None = None,
        *,
        max_batch: int = DEFAULT_MAX_BATCH,
        retry_max_s: float = 30.0,
        linger_s: float = LINGER_S,
    ) -> None:
        self._source = source
        self._decoder = decoder
        self._store = store
        self._clock = clock
        self._listener: ReadingListener | None = None
        self._evaluating: EvaluatingListener | None = None
        if isinstance(listener, EvaluatingListener):
            self._evaluating = listener
        else:
            self._listener = listener
        self._max_batch = max_batch
        self._retry_max_s = retry_max_s
        self._linger_s = linger_s
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._writes: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._held: object | None = None  # taken from _writes, left for the next write
        # Messages handed to the writer and not yet written (bounded by MAX_UNWRITTEN).
        self._unwritten = 0
        self._parts_unwritten = 0
        self._write_started: float | None = None  # monotonic, while a write is under way
        self._room = threading.Condition()
        self._stopping = threading.Event()
        self._failing = False
        self._thread: threading.Thread | None = None
        self._writer: threading.Thread | None = None
        self.stats = IngestStats()

    def start(self) -> None:
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="lantai-ingest", daemon=True)
        self._writer = threading.Thread(target=self._write_loop, name="lantai-write", daemon=True)
        self._writer.start()
        self._thread.start()
        self._source.start(self._enqueue)

    def stop(self) -> None:
        """Finish what is queued (write and acknowledge it), then disconnect."""
        self._stopping.set()
        self._queue.put(_STOP)
        for thread in (self._thread, self._writer):
            if thread is not None:
                thread.join(timeout=60)
        self._thread = self._writer = None
        self._source.stop()

    @property
    def store_failing(self) -> bool:
        """The store is refusing writes right now (the batch is being retried)."""
        return self._failing

    @property
    def backlog(self) -> int:
        return self._queue.qsize()

    def _enqueue(self, delivery: Delivery) -> None:
        # paho's thread is the pipeline's ceiling: hand over and get out of the way.
        self._queue.put(delivery)

    def _run(self) -> None:
        try:
            self._decode_loop()
        finally:
            self._hand_to_writer(_STOP)

    def _decode_loop(self) -> None:
        get, get_nowait = self._queue.get, self._queue.get_nowait
        busy = False
        while True:
            first = get()
            if first is _STOP:
                return
            lingered = busy and self._linger_s > 0 and self._queue.qsize() < LINGER_ENOUGH
            if lingered:
                # Let paho's thread queue a part worth its costs (LINGER_S above).
                self.stats.lingers += 1
                time.sleep(self._linger_s)
            items = [first]
            stop_after = False
            while len(items) < self._max_batch:
                try:
                    item = get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop_after = True
                    break
                items.append(item)
            busy = len(items) >= (LINGER_KEEP if lingered else LINGER_START)
            self._process(items)  # type: ignore[arg-type]
            if stop_after:
                return

    def _process(self, items: list[Delivery]) -> None:
        # One receive time per batch: a batch is drained within milliseconds, and a clock
        # call per message would cost more than the precision is worth.
        received_at = self._clock.now()
        batch = Batch()
        decode = self._decoder.decode
        readings, rejected, presence = batch.readings, batch.rejected, batch.presence
        start = 0  # the first delivery of the part not yet handed on
        for item in items:
            result = decode(item[0], item[1], received_at)
            if isinstance(result, Reading):
                readings.append(result)
            elif isinstance(result, Rejected):
                rejected.append(result)
            elif isinstance(result, DecodedBatch):
                # A gateway's batch: its elements share its transaction, then its one ack.
                readings.extend(result.readings)
                rejected.extend(result.rejected)
                if len(readings) + len(rejected) >= self._max_batch:
                    # Drained batches could make one huge transaction: hand on this part.
                    # The position is looked up only here, to keep the loop as it was.
                    end = items.index(item, start) + 1
                    self._hand_part(batch, items[start:end])
                    start = end
                    batch = Batch()
                    readings, rejected, presence = batch.readings, batch.rejected, batch.presence
            else:
                presence.append(result)
        self.stats.received += len(items)
        if start < len(items):
            self._hand_part(batch, items[start:] if start else items)

    def _hand_part(self, batch: Batch, items: list[Delivery]) -> None:
        """To the rules, then to the writer, with the acks of the deliveries it came from."""
        self.stats.parts += 1
        ticket = self._hand_on(batch)
        size = _size(batch)
        with self._room:
            # Back-pressure once the writer is MAX_UNWRITTEN behind, but never on a
            # writer that has stopped for good.
            while self._unwritten > 0 and (
                self._unwritten + size > MAX_UNWRITTEN
                or (self._parts_unwritten >= WRITE_QUEUE and not self._write_stalled())
            ):
                if self._room.wait(WRITE_STALL_S / 5):
                    continue
                if self._writer is None or not self._writer.is_alive():
                    return
            self._unwritten += size
            self._parts_unwritten += 1
        self._hand_to_writer((batch, [token for _, _, token in items], ticket))

    def _hand_to_writer(self, item: object) -> None:
        self._writes.put(item)

    def _write_stalled(self) -> bool:
        started = self._write_started
        return started is not None and time.monotonic() - started > WRITE_STALL_S

    def _written(self, batch: Batch, parts: int) -> None:
        with self._room:
            self._unwritten -= _size(batch)
            self._parts_unwritten -= parts
            self._room.notify()

    def _write_loop(self) -> None:
        while True:
            parts, stop_after = self._take_waiting()
            if parts:
                batch, tokens, tickets = _joined(parts)
                if not self._write_durably(batch):
                    return  # stopping with the store down: unacknowledged, so redelivered
                for ticket in tickets:
                    if not self._await_evaluation(ticket):
                        return  # stopping with the rules away: unacknowledged, redelivered
                self._source.ack(tokens)
                self._written(batch, len(parts))
                stats = self.stats
                stats.stored += len(batch.readings)
                stats.quarantined += len(batch.rejected)
                stats.presence += len(batch.presence)
                stats.batches += 1
            if stop_after:
                return

    def _take_waiting(self) -> tuple[list[_Part], bool]:
        """Everything handed over so far, for one transaction (group commit).

        While a write is under way the decoder goes on handing over small parts (the rules
        must see them at once); writing them one by one would cost an fsync each, so the
        writer takes what waits, up to ``max_batch`` rows, and commits it as one.
        """
        parts: list[_Part] = []
        rows = 0
        item = self._held if self._held is not None else self._writes.get()
        self._held = None
        while item is not _STOP:
            part = cast("_Part", item)
            size = _size(part[0])
            if parts and rows + size > self._max_batch:
                self._held = item  # the next transaction's first part
                return parts, False
            parts.append(part)
            rows += size
            try:
                item = self._writes.get_nowait()
            except queue.Empty:
                return parts, False
        return parts, True

    def _hand_on(self, batch: Batch) -> int | None:
        """Rules see readings before the write, so a slow disk never delays an alarm.

        Returns the ticket the writer must see evaluated before it acknowledges, if the
        rules evaluate elsewhere.
        """
        if not (batch.readings or batch.presence):
            return None
        try:
            if self._evaluating is not None:
                return self._evaluating.submit(batch.readings, batch.presence)
            if self._listener is not None:
                self._listener.on_readings(batch.readings, batch.presence)
        except Exception as exc:
            # A rule bug must not cost the readings: they are still written and acked.
            self.stats.listener_errors += 1
            self.stats.last_error = f"rules: {exc!r}"
            log.exception("the reading listener failed; readings are stored regardless")
        return None

    def _await_evaluation(self, ticket: int) -> bool:
        evaluating = cast("EvaluatingListener", self._evaluating)
        patience = STOP_EVALUATION_WAIT_S
        while not evaluating.wait_evaluated(ticket, 0.5):
            if self._stopping.is_set():
                patience -= 0.5
                if patience <= 0:
                    log.warning("the rules did not evaluate a batch in time; not acknowledged")
                    return False
        return True

    def _write_durably(self, batch: Batch) -> bool:
        delay = 0.1
        self._write_started = time.monotonic()
        while True:
            try:
                self._store.write(batch)
            except Exception as exc:  # noqa: BLE001 - any store failure means: keep and retry
                self._failing = True
                self.stats.write_retries += 1
                self.stats.last_error = f"store: {exc!r}"
                log.warning("store write failed (%r); retrying in %.1fs", exc, delay)
                if self._stopping.wait(delay):
                    return False
                delay = min(delay * 2, self._retry_max_s)
            else:
                self._write_started = None
                self._failing = False
                self.stats.last_write_at = self._clock.now()
                return True


# What the decoder hands the writer: a batch, its messages' acks, and the rules' ticket.
_Part = tuple[Batch, list[AckToken], int | None]


def _joined(parts: list[_Part]) -> tuple[Batch, list[AckToken], list[int]]:
    """Parts as one batch, their acks in delivery order, and the tickets to wait for."""
    if len(parts) == 1:
        batch, tokens, ticket = parts[0]
        return batch, tokens, [] if ticket is None else [ticket]
    joined = Batch()
    tokens_all: list[AckToken] = []
    tickets: list[int] = []
    for batch, tokens, ticket in parts:
        joined.readings.extend(batch.readings)
        joined.rejected.extend(batch.rejected)
        joined.presence.extend(batch.presence)
        tokens_all.extend(tokens)
        if ticket is not None:
            tickets.append(ticket)
    return joined, tokens_all, tickets


def _size(batch: Batch) -> int:
    """What a batch counts against MAX_UNWRITTEN."""
    return len(batch.readings) + len(batch.rejected) + len(batch.presence)
