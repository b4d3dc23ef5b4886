"""The InfluxDB forwarder: what SQLite has durably stored goes on to InfluxDB, in order.

SQLite stays the write that gates the MQTT acknowledgement; InfluxDB is downstream. A
thread of its own tails the reading store by id and sends batches of line protocol. The
other points (room metrics, alarm events, Lantai's own metrics) are queued in a small
SQLite file beside the store, the spool file, which also keeps the readings' cursor. So
the spool *is* the part of the local record not yet in InfluxDB, and it survives a crash:

* the cursor moves, and the queued rows go, only after InfluxDB answered 2xx; a crash
  replays from the cursor, and InfluxDB keeps one point per (measurement, tags, time), so
  a replay overwrites, never duplicates;
* retry and backoff live here and nowhere else (the client library's are off): 429, 5xx,
  no answer, and 401/403/404 (a token or bucket wrong: the data is not at fault) are
  retried with doubling delays, honouring Retry-After; 400, 413 and 422 split the batch
  in halves until the one bad point is isolated, which is logged, counted and skipped;
* the spool is bounded (``spool_max_points``): past it the oldest points are skipped,
  readings first (they stay in the local store; they are only missing in InfluxDB), and
  counted as ``dropped``. Near the bound, low disk or a long outage shows in ``state()``,
  from which ``lantai.influx_health`` raises an alarm;
* the forwarder has its own thread and its own SQLite connections, and never takes the
  readings store's write lock, so an InfluxDB outage cannot delay ingest or alarms.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import sqlite3
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Protocol

from collectors.influx_lines import AlarmPoint, LineEncoder
from collectors.influx_schema import SystemSample
from collectors.influx_settings import InfluxSettings
from collectors.influx_writer import InfluxWriter, WriteFailed
from collectors.sqlite_store import TailRow
from sensors.clock import Clock
from sensors.events import MetricSample, MetricSink

log = logging.getLogger(__name__)

READINGS_STREAM = "readings"
# Statuses that say the data is fine and the server (or its setup) is not: keep, retry.
_RETRY_4XX = frozenset({401, 403, 404, 408, 429})
# Statuses that say something in the body is refused: split to find it.
_SPLIT = frozenset({400, 413, 422})
_HTTP_SERVER_ERROR = 500
_MB = 1024 * 1024

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cursor (
    stream TEXT PRIMARY KEY,
    position INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS outbound (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    points INTEGER NOT NULL,
    lines TEXT NOT NULL
);
"""


class ReadingTail(Protocol):
    """The reading store, read in the order it stored (SqliteReadingStore)."""

    def last_reading_id(self) -> int: ...

    def readings_after(self, after_id: int, limit: int) -> list[TailRow]: ...


@dataclass(slots=True)
class ForwarderStats:
    """Counters since start, for /api/health and /metrics."""

    forwarded: int = 0  # points InfluxDB accepted
    enqueued: int = 0  # points queued by enqueue_* (metrics, alarms, system)
    writes_ok: int = 0
    writes_retried: int = 0  # requests that failed and will be tried again
    writes_split: int = 0  # requests refused for their content, split in halves
    rejected: int = 0  # single points InfluxDB refused: logged and skipped
    dropped: int = 0  # points skipped by the full-spool policy
    last_error: str | None = None
    failing_since: datetime | None = None
    last_ok_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class InfluxState:
    """The forwarder's health view (``lantai.influx_health`` raises its alarm from it)."""

    depth: int  # points stored locally and not yet in InfluxDB
    capacity: int  # spool_max_points
    near_full: bool
    dropped: int
    rejected: int
    forwarded: int
    writes_ok: int
    writes_retried: int
    last_error: str | None
    failing_since: datetime | None
    outage: bool  # failing for longer than outage_alarm_after_s
    disk_free_mb: int
    disk_low: bool

    @property
    def problems(self) -> list[str]:
        """What an operator must hear about, most serious first."""
        found = []
        if self.disk_low:
            found.append("disk_low")
        if self.near_full:
            found.append("spool_near_full")
        if self.outage:
            found.append("influx_unreachable")
        return found


@dataclass(slots=True)
class _Batch:
    """Lines taken from the spool and what to commit once all of them are written."""

    parts: deque[list[str]]  # sent one after another; a refused part is split in place
    reading_upto: int | None  # the readings cursor after this batch
    outbound_upto: int | None  # queued rows up to this id are done after this batch
    points: int = 0


@dataclass(slots=True)
class _Spool:
    """The spool file: the readings cursor and the queue of other points."""

    path: Path
    conn: sqlite3.Connection | None = None
    # enqueue_* may come from any thread; they share one connection under a lock.
    enqueue_conn: sqlite3.Connection | None = None
    enqueue_lock: threading.Lock = field(default_factory=threading.Lock)

    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = self._connect()
        self.conn.executescript(_SCHEMA)
        self.enqueue_conn = self._connect()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        # NORMAL: a process crash loses nothing; a power cut may lose the last queued
        # points (the alarm records themselves are in the state database) or move the
        # cursor back (a replay, which InfluxDB overwrites).
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=5000")
        return conn

    def close(self) -> None:
        for conn in (self.conn, self.enqueue_conn):
            if conn is not None:
                conn.close()
        self.conn = self.enqueue_conn = None

    def _c(self) -> sqlite3.Connection:
        if self.conn is None:
            raise RuntimeError("the InfluxDB forwarder is not started")
        return self.conn

    def cursor(self, stream: str) -> int | None:
        row = self._c().execute("SELECT position FROM cursor WHERE stream = ?", (stream,))
        found = row.fetchone()
        return None if found is None else int(found[0])

    def set_cursor(self, stream: str, position: int) -> None:
        self._c().execute(
            "INSERT INTO cursor (stream, position) VALUES (?, ?) "
            "ON CONFLICT (stream) DO UPDATE SET position = excluded.position",
            (stream, position),
        )

    def add(self, kind: str, lines: Sequence[str]) -> None:
        if self.enqueue_conn is None:
            raise RuntimeError("the InfluxDB forwarder is not started")
        with self.enqueue_lock:
            self.enqueue_conn.execute(
                "INSERT INTO outbound (kind, points, lines) VALUES (?, ?, ?)",
                (kind, len(lines), "\n".join(lines)),
            )

    def take(self, limit: int) -> tuple[list[str], int | None]:
        """Queued lines, oldest first: whole rows, at least one, about ``limit`` lines."""
        lines: list[str] = []
        upto = None
        for row_id, points, text in self._c().execute(
            "SELECT id, points, lines FROM outbound ORDER BY id LIMIT ?", (max(limit, 1),)
        ):
            if lines and len(lines) + points > limit:
                break
            lines.extend(text.split("\n"))
            upto = row_id
        return lines, upto

    def queued(self, *, from_any_thread: bool = False) -> int:
        """Points queued; ``from_any_thread`` reads on the enqueuers' connection instead
        of the forwarder's (which may be busy in a step)."""
        sql = "SELECT COALESCE(SUM(points), 0) FROM outbound"
        if not from_any_thread:
            return int(self._c().execute(sql).fetchone()[0])
        if self.enqueue_conn is None:
            raise RuntimeError("the InfluxDB forwarder is not started")
        with self.enqueue_lock:
            return int(self.enqueue_conn.execute(sql).fetchone()[0])

    def drop_oldest(self, points: int) -> int:
        """Delete the oldest queued rows holding at least ``points`` points; how many went."""
        dropped, upto = 0, None
        for row_id, count in self._c().execute("SELECT id, points FROM outbound ORDER BY id"):
            if dropped >= points:
                break
            dropped += count
            upto = row_id
        if upto is not None:
            self._c().execute("DELETE FROM outbound WHERE id <= ?", (upto,))
        return dropped

    def commit(self, reading_upto: int | None, outbound_upto: int | None) -> None:
        conn = self._c()
        conn.execute("BEGIN IMMEDIATE")
        try:
            if outbound_upto is not None:
                conn.execute("DELETE FROM outbound WHERE id <= ?", (outbound_upto,))
            if reading_upto is not None:
                self.set_cursor(READINGS_STREAM, reading_upto)
            conn.execute("COMMIT")
        except BaseException:
            # A full disk (SQLITE_FULL) or an I/O error has rolled it back already, and
            # a second ROLLBACK would hide that error behind "no transaction is active".
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise


def spool_path_for(readings_path: Path) -> Path:
    """The spool file sits beside the reading store: readings.db → readings-influx.db."""
    return readings_path.with_name(f"{readings_path.stem}-influx.db")


def _disk_free(path: Path) -> int:
    return shutil.disk_usage(path).free


class InfluxForwarder:
    """Tails the reading store and the spool queue into InfluxDB on a thread of its own."""

    def __init__(
        self,
        settings: InfluxSettings,
        readings: ReadingTail,
        spool_path: Path,
        encoder: LineEncoder,
        writer: InfluxWriter,
        clock: Clock,
        *,
        disk_free: Callable[[Path], int] = _disk_free,
    ) -> None:
        self.settings = settings
        self._readings = readings
        self._spool = _Spool(spool_path)
        self._encoder = encoder
        self._writer = writer
        self._clock = clock
        self._disk_free = disk_free
        self._cursor = 0
        self._batch: _Batch | None = None
        self._failures = 0  # consecutive failed requests: the backoff's exponent
        self._depth = 0
        self._disk_free_bytes = 0
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.stats = ForwarderStats()

    # -- life --------------------------------------------------------------------------

    def open(self) -> None:
        """Open the spool and find the cursor; ``start`` does this and starts the thread
        (tests drive ``step`` themselves after ``open``)."""
        self._spool.open()
        self._writer.start()
        cursor = self._spool.cursor(READINGS_STREAM)
        if cursor is None:
            # First start: forward from now on. The history stays in the local store (no
            # backfill: a year of readings would crowd out today's).
            cursor = self._readings.last_reading_id()
            self._spool.set_cursor(READINGS_STREAM, cursor)
        self._cursor = cursor
        self._measure()

    def start(self) -> None:
        self.open()
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="lantai-influx", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop sending; what is not yet in InfluxDB stays in the spool for the next start."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            # A request in flight ends by its own timeout at the latest.
            self._thread.join(timeout=self.settings.timeout_s + 5)
            self._thread = None
        self._writer.stop()
        self._spool.close()

    # -- what others hand in -----------------------------------------------------------

    def enqueue_system(self, samples: Sequence[SystemSample], at: datetime) -> None:
        """Lantai's own metrics (lantai.metrics), as ``lantai_system`` points at ``at``."""
        self._enqueue("system", self._encoder.system(samples, at))

    def enqueue_metrics(self, samples: Sequence[MetricSample]) -> None:
        """The rules' computed room figures, as ``room_metrics`` points."""
        lines = [line for s in samples if (line := self._encoder.room_metrics(s)) is not None]
        self._enqueue("room_metrics", lines)

    def enqueue_alarm(self, point: AlarmPoint) -> None:
        """One alarm change (lantai.influx_alarms), as an ``alarm_event`` point."""
        self._enqueue("alarm", [self._encoder.alarm(point)])

    def _enqueue(self, kind: str, lines: Sequence[str]) -> None:
        if not lines:
            return
        self._spool.add(kind, lines)
        self.stats.enqueued += len(lines)
        self._wake.set()

    # -- health ------------------------------------------------------------------------

    def state(self) -> InfluxState:
        """Measured now, from any thread: a step may be stuck in a request for a while."""
        s, stats = self.settings, self.stats
        now = self._clock.now()
        try:
            readings = max(self._readings.last_reading_id() - self._cursor, 0)
            self._depth = readings + self._spool.queued(from_any_thread=True)
        except (RuntimeError, sqlite3.ProgrammingError):
            pass  # not started, or stopping: the last step's measure stands
        # Free space now too: after a failed step the thread waits retry_max_s, and the
        # alarm must not say "disk low" that long after the space came back.
        with contextlib.suppress(OSError):
            self._disk_free_bytes = self._disk_free(self._spool.path.parent)
        failing = stats.failing_since
        free_mb = self._disk_free_bytes // _MB
        return InfluxState(
            depth=self._depth,
            capacity=s.spool_max_points,
            near_full=self._depth >= s.spool_near_full * s.spool_max_points,
            dropped=stats.dropped,
            rejected=stats.rejected,
            forwarded=stats.forwarded,
            writes_ok=stats.writes_ok,
            writes_retried=stats.writes_retried,
            last_error=stats.last_error,
            failing_since=failing,
            outage=failing is not None
            and (now - failing).total_seconds() >= s.outage_alarm_after_s,
            disk_free_mb=free_mb,
            disk_low=free_mb < s.min_free_disk_mb,
        )

    # -- the loop ----------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                delay = self.step()
            except Exception as exc:  # the spool file failing (disk full, locked): keep trying
                self.stats.last_error = f"spool: {exc!r}"
                log.exception("the InfluxDB forwarder failed a step; trying again")
                delay = self.settings.retry_max_s
            if delay <= 0:
                continue
            if self._failures:
                self._stopping.wait(delay)  # backing off: new points do not hurry it
            else:
                self._wake.wait(delay)

    def step(self) -> float:
        """Send one request if there is anything to send; returns how long to wait before
        the next step (0: go on at once)."""
        self._measure()
        if self._batch is None:
            self._batch = self._next_batch()
            if self._batch is None:
                return self.settings.flush_interval_s
        batch = self._batch
        if not batch.parts:
            # Every part was written but the cursor's commit failed (a full disk): commit
            # again rather than send nothing, or the forwarder would stay stuck here.
            self._finish(batch)
            return 0.0
        part = batch.parts[0]
        try:
            self._writer.write("\n".join(part).encode("utf-8"))
        except WriteFailed as failed:
            return self._on_failure(failed, batch)
        batch.parts.popleft()
        self.stats.writes_ok += 1
        self.stats.forwarded += len(part)
        self._succeeded()
        if not batch.parts:
            self._finish(batch)
        return 0.0

    def _finish(self, batch: _Batch) -> None:
        """Every part is written (or skipped): move the cursor, forget the queued rows."""
        self._spool.commit(batch.reading_upto, batch.outbound_upto)
        if batch.reading_upto is not None:
            self._cursor = batch.reading_upto
        self._batch = None

    def _next_batch(self) -> _Batch | None:
        limit = self.settings.batch_points
        lines, outbound_upto = self._spool.take(limit)
        reading_upto = None
        if len(lines) < limit:
            rows = self._readings.readings_after(self._cursor, limit - len(lines))
            encode = self._encoder.reading
            for _, site, sensor, room, ts_ns, payload in rows:
                line = encode(site, sensor, room, ts_ns, payload)
                if line is not None:
                    lines.append(line)
            if rows:
                reading_upto = rows[-1][0]
        if reading_upto is None and outbound_upto is None:
            return None
        if not lines:  # only heartbeats: nothing to send, but the cursor moves on
            self._spool.commit(reading_upto, outbound_upto)
            self._cursor = reading_upto if reading_upto is not None else self._cursor
            return None
        return _Batch(deque([lines]), reading_upto, outbound_upto, len(lines))

    def _succeeded(self) -> None:
        self._failures = 0
        self.stats.failing_since = None
        self.stats.last_ok_at = self._clock.now()

    def _on_failure(self, failed: WriteFailed, batch: _Batch) -> float:
        status = failed.status
        part = batch.parts[0]
        if status in _SPLIT:
            # The body is refused: find the bad point by halves. The server answered, so
            # this is no outage and no backoff.
            log.warning("InfluxDB refused %d points (%s): %s", len(part), status, failed.detail)
            self.stats.last_error = f"{status}: {failed.detail}"
            if len(part) > 1:
                half = len(part) // 2
                batch.parts.popleft()
                batch.parts.extendleft((part[half:], part[:half]))
                self.stats.writes_split += 1
            else:
                log.error("InfluxDB refused this point; skipped (kept locally): %s", part[0])
                batch.parts.popleft()
                self.stats.rejected += 1
                if not batch.parts:
                    self._finish(batch)
            return 0.0
        # No answer, 429, 5xx, or a setup problem (401, 403, 404): keep it and retry.
        if status is not None and status < _HTTP_SERVER_ERROR and status not in _RETRY_4XX:
            log.warning("InfluxDB answered %s; treated as temporary", status)
        self._failures += 1
        self.stats.writes_retried += 1
        self.stats.last_error = f"{status or 'no answer'}: {failed.detail}"
        if self.stats.failing_since is None:
            self.stats.failing_since = self._clock.now()
        delay = self._backoff(failed.retry_after)
        log.warning(
            "InfluxDB write failed (%s); %d points kept, retrying in %.1fs",
            self.stats.last_error,
            self._depth,
            delay,
        )
        return delay

    def _backoff(self, retry_after: str | None) -> float:
        s = self.settings
        asked = self._retry_after(retry_after)
        if asked is not None:
            return min(asked, s.retry_max_s)
        return min(s.retry_initial_s * 2.0 ** (self._failures - 1), s.retry_max_s)

    def _retry_after(self, value: str | None) -> float | None:
        """Retry-After as seconds: a number of seconds or an HTTP date (RFC 9110 §10.2.3)."""
        if value is None or not value.strip():
            return None
        text = value.strip()
        if text.isdigit():
            return float(text)
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max((when - self._clock.now()).total_seconds(), 0.0)

    # -- the bound ---------------------------------------------------------------------

    def _measure(self) -> None:
        """Depth, the full-spool policy and free disk space."""
        last = self._readings.last_reading_id()
        if last < self._cursor:
            # The reading store was replaced by a younger file: its ids start again.
            log.warning("the reading store is behind the InfluxDB cursor; starting it over")
            self._cursor = 0
            self._spool.set_cursor(READINGS_STREAM, 0)
            self._batch = None
        readings = last - self._cursor
        queued = self._spool.queued()
        over = readings + queued - self.settings.spool_max_points
        if over > 0:
            skipped = min(over, readings)
            if skipped:
                self._cursor += skipped
                self._spool.set_cursor(READINGS_STREAM, self._cursor)
                readings -= skipped
            if over > skipped:
                removed = self._spool.drop_oldest(over - skipped)
                queued -= removed
                skipped += removed
            self.stats.dropped += skipped
            self._batch = None  # rebuilt from the new cursor
            log.warning(
                "InfluxDB spool full: %d oldest points skipped (kept in the local store)", skipped
            )
        self._depth = readings + queued
        self._disk_free_bytes = self._disk_free(self._spool.path.parent)


class MetricsToInflux:
    """A MetricSink that writes the rules' room figures to the store, then queues them for
    InfluxDB (the store is the record; the queue is its copy on the way out)."""

    def __init__(self, store: MetricSink, forwarder: InfluxForwarder) -> None:
        self._store = store
        self._forwarder = forwarder

    def write_metrics(self, samples: Sequence[MetricSample]) -> None:
        self._store.write_metrics(samples)
        self._forwarder.enqueue_metrics(samples)
