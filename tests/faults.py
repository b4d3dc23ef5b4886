"""Shared parts of the fault tests: a real ``lantai run``, a paced sensor stream, the tally.

A fault test runs the whole pipeline as an administrator would (``python -m lantai run``
with a settings file, a real Mosquitto, SQLite files in the test's folder), injects a fault
from outside, and ends by comparing what the sensors published with what was stored and
alarmed. The pieces:

- ``write_site``: the config folder (facility, rules, alerting, inspections, settings) of
  a small archive whose sensors report every 5 s, so that their 15 s silence deadlines fall
  inside any outage a test stages;
- ``LantaiProcess``: start, ``kill_9``, stop, and the console's health verdict;
- ``SensorStream``: QoS 1 readings at a steady pace from a client with a persistent session
  of its own, recording every message the broker acknowledged;
- ``tally``: published against stored (missing, unexpected, duplicates, quarantined);
- ``alarms`` and ``tasks``: the rows of the state database, read with plain SQL;
- ``WebhookRecorder``: the HTTP receiver of the alerting file's webhook, keeping every POST.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from lantai.broker import MosquittoBroker, free_port
from tests.local_http import LocalHttpServer

SITE = "fault"
# Climate sensors reporting every 5 s: silent after 15 s (three intervals).
SENSORS = {"r1-th1": "R1", "r1-th2": "R1", "r2-th1": "R2", "r3-th1": "R3"}
INTERVAL_S = 5
WEBHOOK_ID = "ops"
WEBHOOK_SECRET = "fault-test-secret-0123456789"  # noqa: S105 - a test receiver's key

# Without an inspection file the shipped templates apply, and a file needs one template:
# one that comes round once a year keeps the tests' state free of tasks they did not ask for.
YEARLY_ROUND = """
templates:
  - id: new-year-round
    title: {zh: 元旦巡查, en: New Year round}
    cadence: cron
    cron: "0 0 1 1 *"
    duration: 1h
    scope: site
    role: guard
    items:
      - key: looked
        label: {zh: 已巡查, en: Walked round}
"""


def _facility_yaml() -> str:
    """The fault tests' archive: one floor, three paper stacks, climate sensors every 5 s."""
    rooms = []
    for room in sorted(set(SENSORS.values())):
        sensors = "".join(
            f"                  - {{id: {s}, kind: climate, interval: {INTERVAL_S}s}}\n"
            for s, r in SENSORS.items()
            if r == room
        )
        rooms.append(
            f"              - id: {room}\n"
            f"                name: {{zh: 库房{room}, en: Stack {room}}}\n"
            "                class: paper\n"
            f"                sensors:\n{sensors}"
        )
    return (
        "sites:\n"
        f"  - id: {SITE}\n"
        "    name: {zh: 故障试验馆, en: Fault test archive}\n"
        "    timezone: Asia/Shanghai\n"
        "    buildings:\n"
        "      - id: main\n"
        "        name: {zh: 主馆, en: Main building}\n"
        "        floors:\n"
        "          - id: F1\n"
        "            name: {zh: 一层, en: First floor}\n"
        "            rooms:\n" + "".join(rooms)
    )


@dataclass(frozen=True)
class SiteFiles:
    """Where a written config folder keeps what a test reads back."""

    settings: Path
    readings_db: Path
    state_db: Path
    console_port: int
    log: Path


def write_site(
    folder: Path,
    broker: MosquittoBroker,
    *,
    client_id: str,
    rules: str = "rules: []\n",
    alerting: str | None = None,
    inspections: str | None = None,
    webhook_url: str | None = None,
) -> SiteFiles:
    """Write the facility, the given rule, alerting and inspection files, and settings."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "site.yaml").write_text(_facility_yaml(), encoding="utf-8")
    (folder / "rules.yaml").write_text(rules, encoding="utf-8")
    (folder / "inspections.yaml").write_text(inspections or YEARLY_ROUND, encoding="utf-8")
    console_port = free_port()
    lines = [
        "facility: site.yaml",
        "rules: rules.yaml",
        "inspections: inspections.yaml",
        # Reconnect within 2 s of the broker's return; sweep every second so that the
        # tests' timings are the rules' and not the sweep's.
        (
            f"mqtt: {{host: {broker.host}, port: {broker.port}, client_id: {client_id},"
            " reconnect_min_s: 1, reconnect_max_s: 2}"
        ),
        "store: {readings_path: readings.db}",
        'state: {url: "sqlite:///state.db"}',
        f"console: {{port: {console_port}}}",
        "sweep_interval_s: 1",
    ]
    if alerting is not None:
        (folder / "alerting.yaml").write_text(alerting, encoding="utf-8")
        lines.append("alerting: alerting.yaml")
    if webhook_url is not None:
        lines.append(
            f"webhooks: [{{id: {WEBHOOK_ID}, url: {webhook_url}, secret: {WEBHOOK_SECRET}}}]"
        )
    settings = folder / "settings.yaml"
    settings.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return SiteFiles(
        settings, folder / "readings.db", folder / "state.db", console_port, folder / "lantai.log"
    )


class LantaiProcess:
    """``python -m lantai run`` as a child process, its output appended to one log."""

    def __init__(self, site: SiteFiles) -> None:
        self.site = site
        self._proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> LantaiProcess:
        with self.site.log.open("ab") as out:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "lantai", "run", "--config", str(self.site.settings)],
                stdout=out,
                stderr=out,
            )
        self.starts += 1
        return self

    def kill_9(self) -> None:
        """No clean shutdown, no last save, no last acknowledgement."""
        assert self._proc is not None
        os.kill(self._proc.pid, signal.SIGKILL)
        self._proc.wait()

    def stop(self) -> int:
        """SIGTERM, as systemd or Docker stops it; returns the exit code."""
        assert self._proc is not None
        self._proc.send_signal(signal.SIGTERM)
        return self._proc.wait(30)

    def close(self) -> None:
        """Whatever happened, leave no process behind (for ``finally``)."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()

    def healthy(self) -> bool:
        """The console's verdict: connected to the broker and the store taking writes."""
        if self._proc is not None and self._proc.poll() is not None:
            raise AssertionError(f"lantai run exited with {self._proc.returncode}: {self.log()}")
        try:
            answer = httpx.get(f"http://127.0.0.1:{self.site.console_port}/api/health", timeout=1)
            return bool(answer.json()["status"] == "ok")
        except httpx.HTTPError:
            return False

    def log(self) -> str:
        """The last part of the process's output, for failure messages."""
        return self.site.log.read_text(encoding="utf-8", errors="replace")[-3000:]


@dataclass(frozen=True, slots=True)
class Sent:
    """One reading the broker acknowledged to the sensors' client."""

    sensor: str
    seq: int
    ts: datetime


Values = Callable[[str, datetime], Mapping[str, float]]


def normal(_sensor: str, _at: datetime) -> Mapping[str, float]:
    """A paper stack's normal climate and a healthy battery."""
    return {"temperature": 19.5, "humidity": 50.0, "battery": 90.0}


class SensorStream:
    """Every sensor's reading every ``period`` seconds at QoS 1, until ``stop``.

    The client keeps a persistent session (clean_session false) and reconnects by itself:
    while the broker is away paho keeps what is published in its own queue and sends it
    on reconnecting, as a gateway with a buffer would. A message counts as published once
    the broker acknowledged it (PUBACK).
    """

    def __init__(
        self,
        broker: MosquittoBroker,
        client_id: str,
        *,
        period: float = 1.0,
        values: Values = normal,
        sensors: Mapping[str, str] = SENSORS,
    ) -> None:
        self._broker = broker
        self._period = period
        self._values = values
        self._sensors = dict(sensors)
        self._quiet: set[str] = set()
        self._pending: dict[int, Sent] = {}
        self._early: set[int] = set()
        self._lock = threading.Lock()
        self.acked: list[Sent] = []
        self._seq = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sensor-stream", daemon=True)
        self._client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=False,
        )
        self._client.reconnect_delay_set(1, 2)
        self._client.max_queued_messages_set(0)  # unbounded: the outage's backlog
        self._client.on_publish = self._on_publish

    def _on_publish(self, _client: object, _userdata: object, mid: int, *_: object) -> None:
        with self._lock:
            sent = self._pending.pop(mid, None)
            if sent is None:
                self._early.add(mid)  # acknowledged before publish() returned its mid
            else:
                self.acked.append(sent)

    def start(self) -> SensorStream:
        self._client.connect(self._broker.host, self._broker.port, 10)
        self._client.loop_start()
        self._thread.start()
        return self

    def quiet(self, sensor: str) -> None:
        """This sensor publishes nothing more (a dead battery)."""
        with self._lock:
            self._quiet.add(sensor)

    def _run(self) -> None:
        next_round = time.monotonic()
        while not self._stop.is_set():
            now = datetime.now(UTC)
            for sensor, room in self._sensors.items():
                with self._lock:
                    if sensor in self._quiet:
                        continue
                    self._seq += 1
                    seq = self._seq
                body = {**self._values(sensor, now), "ts": now.isoformat(), "seq": seq}
                topic = f"archive/{SITE}/{room}/{sensor}"
                # Not under our lock: paho calls on_publish holding its own, and publish()
                # takes that one too.
                info = self._client.publish(topic, json.dumps(body), qos=1)
                # NO_CONN: queued by paho while the broker is away; sent on reconnect.
                assert info.rc in {mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN}, info.rc
                sent = Sent(sensor, seq, now)
                with self._lock:
                    if info.mid in self._early:
                        self._early.discard(info.mid)
                        self.acked.append(sent)
                    else:
                        self._pending[info.mid] = sent
            next_round += self._period
            self._stop.wait(max(0.0, next_round - time.monotonic()))

    def stop(self, drain_s: float = 30) -> None:
        """Stop publishing and wait until the broker acknowledged what was queued."""
        if not self._thread.is_alive():
            return  # never started, or stopped already
        self._stop.set()
        self._thread.join(10)
        deadline = time.monotonic() + drain_s
        while self.unacked and time.monotonic() < deadline:
            time.sleep(0.05)
        self._client.disconnect()
        self._client.loop_stop()

    @property
    def unacked(self) -> int:
        with self._lock:
            return len(self._pending)

    def published(self) -> list[Sent]:
        with self._lock:
            return list(self.acked)


@dataclass(frozen=True)
class Tally:
    """Published against stored, by (sensor, seq): what a fault cost."""

    published: int
    stored: int  # rows in the readings table for the published sensors
    missing: int  # acknowledged by the broker, never stored
    unexpected: int  # stored, never acknowledged (published before a failed PUBACK)
    duplicates: int  # rows beyond the first for one (sensor, seq)
    quarantined: int

    def __str__(self) -> str:
        return (
            f"published {self.published}, stored {self.stored}, missing {self.missing}, "
            f"unexpected {self.unexpected}, duplicates {self.duplicates}, "
            f"quarantined {self.quarantined}"
        )


def stored_count(readings_db: Path) -> int:
    """Rows in the readings table; 0 before the schema exists."""
    if not readings_db.exists():
        return 0
    conn = sqlite3.connect(readings_db)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM readings").fetchone()[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()


def tally(published: list[Sent], readings_db: Path) -> Tally:
    """Compare the broker-acknowledged readings with the rows of the readings table."""
    conn = sqlite3.connect(readings_db)
    try:
        rows = conn.execute(
            "SELECT sensor, json_extract(payload, '$.seq') FROM readings WHERE site = ?", (SITE,)
        ).fetchall()
        quarantined = int(conn.execute("SELECT COUNT(*) FROM quarantine").fetchone()[0])
    finally:
        conn.close()
    stored = Counter((str(sensor), int(seq)) for sensor, seq in rows)
    sent = {(s.sensor, s.seq) for s in published}
    return Tally(
        published=len(published),
        stored=len(rows),
        missing=len(sent - stored.keys()),
        # A message whose PUBACK was lost with the connection is sent again and stored,
        # but never counted as published: that is no loss, so it is reported apart.
        unexpected=len(stored.keys() - sent),
        duplicates=sum(n - 1 for n in stored.values()),
        quarantined=quarantined,
    )


@dataclass(frozen=True, slots=True)
class AlarmRow:
    id: int
    key: str
    rule: str
    state: str
    sensor: str | None
    raised_at: datetime
    cleared_at: datetime | None
    times_raised: int
    incident_id: int | None


def _when(value: str | None) -> datetime | None:
    if value is None:
        return None
    at = datetime.fromisoformat(value)
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def alarms(state_db: Path, rule: str | None = None) -> list[AlarmRow]:
    """Every alarm row (one per raise of a condition), oldest first."""
    if not state_db.exists():
        return []
    conn = sqlite3.connect(state_db)
    try:
        rows = conn.execute(
            "SELECT id, key, rule, state, sensor, raised_at, cleared_at, times_raised, "
            "incident_id FROM alarms WHERE ? IS NULL OR rule = ? ORDER BY id",
            (rule, rule),
        ).fetchall()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return []  # the process has not made its schema yet
        raise
    finally:
        conn.close()
    return [
        AlarmRow(r[0], r[1], r[2], r[3], r[4], _must(_when(r[5])), _when(r[6]), r[7], r[8])
        for r in rows
    ]


def outbox_keys(state_db: Path, incident_id: int) -> dict[int, str]:
    """The outbox rows of one incident: id (the webhook's X-Lantai-Delivery) → dedup key."""
    conn = sqlite3.connect(state_db)
    try:
        rows = conn.execute(
            "SELECT id, dedup_key FROM outbox WHERE incident_id = ? ORDER BY id", (incident_id,)
        ).fetchall()
    finally:
        conn.close()
    return {int(i): str(k) for i, k in rows}


def rule_state(state_db: Path, key: str) -> dict[str, Any] | None:
    """The saved state of one rule cell (``<rule>:<site>:<sensor>``), if saved yet."""
    if not state_db.exists():
        return None
    conn = sqlite3.connect(state_db)
    try:
        row = conn.execute("SELECT data FROM rule_state WHERE key = ?", (key,)).fetchone()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return None  # the process has not made its schema yet
        raise
    finally:
        conn.close()
    return None if row is None else dict(json.loads(row[0]))


def tasks(state_db: Path, template: str) -> list[tuple[int, datetime, bool]]:
    """(id, window start, reminded) of every task of one template, by window."""
    conn = sqlite3.connect(state_db)
    try:
        rows = conn.execute(
            "SELECT id, window_start, reminded FROM inspection_tasks WHERE template = ? "
            "ORDER BY window_start",
            (template,),
        ).fetchall()
    finally:
        conn.close()
    return [(int(i), _must(_when(w)), bool(r)) for i, w, r in rows]


def _must(value: datetime | None) -> datetime:
    assert value is not None
    return value


@dataclass
class Posted:
    """One POST the webhook receiver got."""

    delivery: int
    body: dict[str, Any]
    at: datetime


@dataclass
class _Posts:
    lock: threading.Lock = field(default_factory=threading.Lock)
    items: list[Posted] = field(default_factory=list)


class WebhookRecorder:
    """A webhook receiver on loopback that answers 200 and keeps every POST."""

    def __init__(self) -> None:
        self._posts = _Posts()
        self._http = LocalHttpServer(_recording_handler(self._posts), "fault-webhook")

    @property
    def url(self) -> str:
        return self._http.url + "/hook"

    def start(self) -> WebhookRecorder:
        self._http.start()
        return self

    def stop(self) -> None:
        self._http.stop()

    @property
    def posts(self) -> list[Posted]:
        with self._posts.lock:
            return list(self._posts.items)

    def for_incident(self, incident_id: int) -> list[Posted]:
        return [p for p in self.posts if p.body.get("incident") == incident_id]


def _recording_handler(posts: _Posts) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length))
            posted = Posted(int(self.headers["X-Lantai-Delivery"]), body, datetime.now(UTC))
            with posts.lock:
                posts.items.append(posted)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass  # the records are the log

    return Handler
