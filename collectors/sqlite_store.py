"""The embedded time-series store: readings, quarantine and presence in one SQLite file.

Writes come from one ingest thread, a batch per transaction (group commit), so a burst
costs one fsync, not one per message. WAL lets the console read while the collector
writes. A reading's key is (site, sensor, ts): a message redelivered after a crash
(acknowledged too late to stop the broker resending it) is ignored, not stored twice.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from collectors.quarantine import Rejected
from sensors.clock import from_ns, to_ns
from sensors.events import MetricSample
from sensors.payload import MEASUREMENTS
from sensors.reading import PresenceUpdate, Reading

# Quarantine keeps the newest rows only; the per-reason counters keep every message.
QUARANTINE_KEEP_ROWS = 10_000

# A reading is kept as the validated message the sensor sent (JSON text; SQLite's json
# functions read it), keyed by (site, sensor, ts). Measured on this machine: 3.2 µs a
# row, against 7.4 µs for a column per measurement in a WITHOUT ROWID table; the hot
# path has about 20 µs a message to spend in all.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS readings (
    id INTEGER PRIMARY KEY,
    site TEXT NOT NULL,
    sensor TEXT NOT NULL,
    ts_ns INTEGER NOT NULL,
    room TEXT NOT NULL,
    received_ns INTEGER NOT NULL,
    payload TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS readings_key ON readings (site, sensor, ts_ns);
CREATE TABLE IF NOT EXISTS quarantine (
    id INTEGER PRIMARY KEY,
    received_ns INTEGER NOT NULL,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    payload_size INTEGER NOT NULL,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS quarantine_counts (
    reason TEXT PRIMARY KEY,
    count INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS room_metrics (
    site TEXT NOT NULL,
    room TEXT NOT NULL,
    ts_ns INTEGER NOT NULL,
    metrics TEXT NOT NULL,
    PRIMARY KEY (site, room, ts_ns)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS presence (
    site TEXT NOT NULL,
    sensor TEXT NOT NULL,
    online INTEGER NOT NULL,
    received_ns INTEGER NOT NULL,
    PRIMARY KEY (site, sensor)
);
"""
# The whole batch is one statement over a JSON array, not executemany: Python's sqlite3
# releases and retakes the GIL for every row of an executemany, and with paho's thread
# competing each retake can wait a full switch interval (measured here: 3.3 µs a row
# alone, over 1 ms a row beside a busy thread). One statement releases the GIL once and
# lets SQLite insert the batch on the other core while paho keeps reading.
_INSERT_READINGS = (
    "INSERT OR IGNORE INTO readings (site, sensor, ts_ns, room, received_ns, payload) "
    "SELECT value->>0, value->>1, value->>2, value->>3, value->>4, value->'$[5]' "
    "FROM json_each(?)"
)
# How far back `latest` looks for a measurement a sensor sends only now and then.
LATEST_LOOKBACK_ROWS = 50
# Beyond any timestamp a reading can carry (int64 nanoseconds): "until now".
_FOREVER_NS = 2**63 - 1
# A stored reading as the InfluxDB forwarder tails it: (id, site, sensor, room, ts_ns, payload).
TailRow = tuple[int, str, str, str, int, str]


class Durability(StrEnum):
    """How hard a commit waits for the disk (SQLite ``synchronous`` in WAL mode)."""

    # fsync the WAL on every commit: survives power loss. The default.
    FULL = "full"
    # Survives a crash of the process, not of the machine; faster on slow disks.
    NORMAL = "normal"


@dataclass(slots=True)
class Batch:
    """What one ingest transaction writes."""

    readings: list[Reading] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    presence: list[PresenceUpdate] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class SensorLatest:
    """The newest value of each measurement a sensor has reported."""

    site: str
    sensor: str
    last_seen: datetime
    values: dict[str, Any]
    online: bool | None  # the device's own presence report, if it sends one


@dataclass(frozen=True, slots=True)
class Bucket:
    """One span of a downsampled series: how many readings carried the field, and their
    mean, minimum and maximum (a chart draws the mean and shades min-max)."""

    start: datetime
    count: int
    mean: float
    minimum: float
    maximum: float


@dataclass(frozen=True, slots=True)
class QuarantinedMessage:
    id: int
    received_at: datetime
    topic: str
    payload: str  # what was kept, decoded with replacement characters for display
    payload_size: int
    reason: str
    detail: str


class SqliteReadingStore:
    """Readings, quarantine and presence in one SQLite file (WAL)."""

    def __init__(self, path: Path, durability: Durability = Durability.FULL) -> None:
        self.path = path
        self._durability = durability
        self._writer: sqlite3.Connection | None = None
        self._local = threading.local()
        # The newest receive stamp given to a reading that came without its own ts, per
        # sensor: such readings share their batch's receive time, so each gets the next
        # free nanosecond instead, and none collides with another on the key.
        self._stamps: dict[tuple[str, str], int] = {}
        # Metrics come from the rules (ingest or timer thread): their own connection.
        self._metrics_writer: sqlite3.Connection | None = None
        self._metrics_lock = threading.Lock()

    def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self._durability.value.upper()}")
        conn.executescript(_SCHEMA)
        self._writer = conn

    def stop(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._metrics_writer is not None:
            self._metrics_writer.close()
            self._metrics_writer = None

    def write_metrics(self, samples: Sequence[MetricSample]) -> None:
        """Computed per-room figures (preservation metrics), from whichever thread has them."""
        with self._metrics_lock:
            if self._metrics_writer is None:
                conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
                conn.execute("PRAGMA busy_timeout=5000")
                self._metrics_writer = conn
            conn = self._metrics_writer
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(
                    "INSERT OR REPLACE INTO room_metrics (site, room, ts_ns, metrics) "
                    "VALUES (?, ?, ?, ?)",
                    [(s.site, s.room, to_ns(s.at), json.dumps(dict(s.values))) for s in samples],
                )
                conn.execute("COMMIT")
            except BaseException:
                # A full disk (SQLITE_FULL) or an I/O error has rolled it back already, and
                # a second ROLLBACK would hide that error behind "no transaction is active".
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def metrics(
        self, site: str, room: str, since: datetime, until: datetime | None = None
    ) -> list[tuple[datetime, dict[str, float]]]:
        """A room's metric samples in [since, until) (until: now), oldest first."""
        end = _FOREVER_NS if until is None else to_ns(until)
        rows = self._reader().execute(
            "SELECT ts_ns, metrics FROM room_metrics WHERE site = ? AND room = ? AND ts_ns >= ? "
            "AND ts_ns < ? ORDER BY ts_ns",
            (site, room, to_ns(since), end),
        )
        return [(from_ns(ts), json.loads(values)) for ts, values in rows]

    # -- write side: called from the ingest thread only ------------------------------

    def write(self, batch: Batch) -> None:
        """Write the batch in one transaction; returns only once it is durable."""
        conn = self._writer
        if conn is None:
            raise RuntimeError("the store is not started")
        conn.execute("BEGIN IMMEDIATE")
        try:
            if batch.readings:
                rows = ",".join(map(self._reading_row, batch.readings))
                conn.execute(_INSERT_READINGS, (f"[{rows}]",))
            if batch.rejected:
                self._write_rejected(conn, batch.rejected)
            if batch.presence:
                conn.executemany(
                    "INSERT INTO presence (site, sensor, online, received_ns) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (site, sensor) DO UPDATE SET online = excluded.online, "
                    "received_ns = excluded.received_ns WHERE excluded.received_ns >= received_ns",
                    [(p.site, p.sensor, p.online, to_ns(p.received_at)) for p in batch.presence],
                )
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _reading_row(self, reading: Reading) -> str:
        """One reading as a JSON array; the payload is embedded as it came (validated JSON)."""
        received_ns = to_ns(reading.received_at)
        if reading.payload.ts is not None:
            ts_ns = to_ns(reading.ts)
        else:
            key = (reading.site, reading.sensor)
            ts_ns = max(received_ns, self._stamps.get(key, 0) + 1)
            self._stamps[key] = ts_ns
        # Ids follow the contract's alphabet [A-Za-z0-9_-], so they need no escaping.
        raw = reading.raw.decode("utf-8")
        return f'["{reading.site}","{reading.sensor}",{ts_ns},"{reading.room}",{received_ns},{raw}]'

    @staticmethod
    def _write_rejected(conn: sqlite3.Connection, rejected: Sequence[Rejected]) -> None:
        conn.executemany(
            "INSERT INTO quarantine (received_ns, topic, payload, payload_size, reason, detail) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [
                (to_ns(r.received_at), r.topic, r.payload, r.payload_size, r.reason.value, r.detail)
                for r in rejected
            ],
        )
        counts: dict[str, int] = {}
        for r in rejected:
            counts[r.reason.value] = counts.get(r.reason.value, 0) + 1
        conn.executemany(
            "INSERT INTO quarantine_counts (reason, count) VALUES (?, ?) "
            "ON CONFLICT (reason) DO UPDATE SET count = count + excluded.count",
            counts.items(),
        )
        conn.execute(
            "DELETE FROM quarantine WHERE id <= (SELECT MAX(id) FROM quarantine) - ?",
            (QUARANTINE_KEEP_ROWS,),
        )

    # -- read side: any thread, each with its own connection -------------------------

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, check_same_thread=False)
            conn.execute("PRAGMA query_only=ON")
            self._local.conn = conn
        return conn

    def latest(self, site: str, sensors: Sequence[str]) -> dict[str, SensorLatest]:
        """Newest value per measurement for each sensor that has reported."""
        conn = self._reader()
        presence = {
            row[0]: bool(row[1])
            for row in conn.execute("SELECT sensor, online FROM presence WHERE site = ?", (site,))
        }
        result: dict[str, SensorLatest] = {}
        for sensor in sensors:
            rows = conn.execute(
                "SELECT received_ns, payload FROM readings WHERE site = ? AND sensor = ? "
                "ORDER BY ts_ns DESC LIMIT ?",
                (site, sensor, LATEST_LOOKBACK_ROWS),
            ).fetchall()
            if not rows:
                continue
            values: dict[str, Any] = {}
            for _, payload in rows:  # newest first: the first value seen of each wins
                for name, value in json.loads(payload).items():
                    if name in MEASUREMENTS and value is not None:
                        values.setdefault(name, value)
            last_seen = from_ns(max(row[0] for row in rows))
            result[sensor] = SensorLatest(site, sensor, last_seen, values, presence.get(sensor))
        return result

    def quarantine(self, limit: int = 100, reason: str | None = None) -> list[QuarantinedMessage]:
        sql = "SELECT id, received_ns, topic, payload, payload_size, reason, detail FROM quarantine"
        params: tuple[Any, ...] = ()
        if reason is not None:
            sql += " WHERE reason = ?"
            params = (reason,)
        sql += " ORDER BY id DESC LIMIT ?"
        rows = self._reader().execute(sql, (*params, limit)).fetchall()
        return [
            QuarantinedMessage(
                id=row[0],
                received_at=from_ns(row[1]),
                topic=row[2],
                payload=bytes(row[3]).decode("utf-8", errors="replace"),
                payload_size=row[4],
                reason=row[5],
                detail=row[6],
            )
            for row in rows
        ]

    def quarantine_counts(self) -> dict[str, int]:
        rows = self._reader().execute("SELECT reason, count FROM quarantine_counts").fetchall()
        return dict(rows)

    def count_readings(self) -> int:
        row = self._reader().execute("SELECT COUNT(*) FROM readings").fetchone()
        return int(row[0])

    # -- the InfluxDB forwarder's tail: in the order stored, by id --------------------
    # Ids only grow: one writer, and INTEGER PRIMARY KEY takes the largest plus one.

    def last_reading_id(self) -> int:
        """The id of the newest stored reading (0: none yet)."""
        row = self._reader().execute("SELECT MAX(id) FROM readings").fetchone()
        return int(row[0] or 0)

    def readings_after(self, after_id: int, limit: int) -> list[TailRow]:
        """Up to ``limit`` readings stored after ``after_id``, oldest first."""
        cursor = self._reader().execute(
            "SELECT id, site, sensor, room, ts_ns, payload FROM readings WHERE id > ? "
            "ORDER BY id LIMIT ?",
            (after_id, limit),
        )
        rows: list[TailRow] = cursor.fetchall()
        return rows

    def readings(self, site: str, sensor: str, limit: int = 1000) -> list[dict[str, Any]]:
        """A sensor's newest readings, newest first (for the console and tests)."""
        rows = self._reader().execute(
            "SELECT ts_ns, received_ns, room, payload FROM readings WHERE site = ? AND sensor = ? "
            "ORDER BY ts_ns DESC LIMIT ?",
            (site, sensor, limit),
        )
        return [
            {"ts": from_ns(ts), "received_at": from_ns(rx), "room": room, **json.loads(payload)}
            for ts, rx, room, payload in rows
        ]

    # -- history for the console's room and sensor-health pages (read-only) ----------

    def buckets(
        self,
        site: str,
        sensor: str,
        name: str,
        since: datetime,
        until: datetime,
        width: timedelta,
    ) -> list[Bucket]:
        """The numeric measurement ``name`` of a sensor's readings in [since, until), cut
        into spans of ``width`` counted from ``since``; spans without a value are left out.

        Aggregated by SQLite, so a month of minute readings costs one pass over the rows
        and no Python object per reading.
        """
        if name not in MEASUREMENTS:
            raise ValueError(f"not a measurement: {name!r}")
        start_ns, width_ns = to_ns(since), int(width.total_seconds() * 1_000_000_000)
        if width_ns <= 0:
            raise ValueError("a bucket needs a positive width")
        rows = self._reader().execute(
            "SELECT (ts_ns - ?) / ? AS bucket, COUNT(v), AVG(v), MIN(v), MAX(v) FROM ("
            "  SELECT ts_ns, json_extract(payload, ?) AS v FROM readings"
            "  WHERE site = ? AND sensor = ? AND ts_ns >= ? AND ts_ns < ?"
            ") WHERE typeof(v) IN ('integer', 'real') GROUP BY bucket ORDER BY bucket",
            (start_ns, width_ns, f"$.{name}", site, sensor, start_ns, to_ns(until)),
        )
        return [
            Bucket(from_ns(start_ns + index * width_ns), count, mean, low, high)
            for index, count, mean, low, high in rows
        ]

    def readings_between(
        self, site: str, sensor: str, since: datetime, until: datetime, limit: int = 2000
    ) -> list[tuple[datetime, dict[str, Any]]]:
        """A sensor's readings in [since, until) as (time, measurements), oldest first; the
        newest ``limit`` of them when there are more."""
        cursor = self._reader().execute(
            "SELECT ts_ns, payload FROM readings WHERE site = ? AND sensor = ? "
            "AND ts_ns >= ? AND ts_ns < ? ORDER BY ts_ns DESC LIMIT ?",
            (site, sensor, to_ns(since), to_ns(until), limit),
        )
        found = []
        for ts, payload in reversed(cursor.fetchall()):
            values = {
                name: value
                for name, value in json.loads(payload).items()
                if name in MEASUREMENTS and value is not None
            }
            found.append((from_ns(ts), values))
        return found

    def clock_offsets(self, site: str, sensors: Sequence[str]) -> dict[str, float]:
        """Seconds by which each sensor's newest self-stamped reading (one with ``ts``) was
        ahead of its arrival, negative when behind; sensors that send no ``ts`` are left
        out (their readings are stamped on arrival, so there is no clock to judge)."""
        conn = self._reader()
        offsets: dict[str, float] = {}
        for sensor in sensors:
            row = conn.execute(
                "SELECT ts_ns, received_ns FROM ("
                "  SELECT ts_ns, received_ns, payload FROM readings"
                "  WHERE site = ? AND sensor = ? ORDER BY ts_ns DESC LIMIT ?"
                ") WHERE json_type(payload, '$.ts') IS NOT NULL ORDER BY ts_ns DESC LIMIT 1",
                (site, sensor, LATEST_LOOKBACK_ROWS),
            ).fetchone()
            if row is not None:
                offsets[sensor] = (row[0] - row[1]) / 1_000_000_000
        return offsets

    def quarantine_by_topic(self) -> list[tuple[str, str, int]]:
        """(topic, reason, count) over the quarantine rows still kept (the newest
        QUARANTINE_KEEP_ROWS), to tell which device sends what is refused."""
        rows = self._reader().execute(
            "SELECT topic, reason, COUNT(*) FROM quarantine GROUP BY topic, reason"
        )
        return [(topic, reason, count) for topic, reason, count in rows]
