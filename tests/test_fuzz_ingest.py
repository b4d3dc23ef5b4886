"""Fuzzing the ingest: 100,000 messages, good and bad, through a real ``lantai run``.

The messages are the hand-written corpus (tests/fuzz_corpus.py, each case with its
verdict), hypothesis-generated topics and payloads, and valid readings, shuffled with a
fixed seed. They go at QoS 1 to a fresh Mosquitto that a real ``lantai run`` child reads.
The test then counts, from the readings database alone, that every message was either
stored or quarantined with a reason (a batch counts its elements), that nothing else was
lost, that the child stayed up throughout and stopped cleanly, and that its memory did
not grow with the messages.

The generated messages are deterministic: hypothesis draws them once, up front, in a
``@given`` function run with ``derandomize=True`` and no example database, so the same
100,000 messages are sent on every run and machine (a failure can be replayed). Their
verdicts come from the decoder itself (the oracle): the end-to-end count then proves the
pipeline lost none of them, while the corpus's verdicts are stated by hand and checked
against the decoder here first.
"""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Self

import httpx
import psutil
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from collectors.batch import DecodedBatch
from collectors.decode import Decoder
from collectors.quarantine import Reason, Rejected
from collectors.sqlite_store import Batch, SqliteReadingStore
from lantai.broker import MosquittoBroker, free_port
from sensors.clock import to_ns
from sensors.facility import Facility, SensorKind
from sensors.reading import PresenceUpdate, Reading
from tests.conftest import EXAMPLE_SITE
from tests.fuzz_corpus import BATCH, SITE, Case, corpus, outcome
from tests.mqtt_helpers import publish_all, wait_for

MESSAGES = 100_000
# Drawn by hypothesis: it builds structured messages well but slowly here (~4 ms each),
# so it draws a few thousand and a seeded mutator (bit flips, splices, cuts, interesting
# numbers, as AFL and radamsa do) derives many more from the corpus and good messages.
GENERATED = 2_500
MUTATED = 20_000
CORPUS_ROUNDS = 60  # the light corpus cases, sent this many times each
START = datetime(2026, 3, 1, tzinfo=UTC)
# Memory, sampled four times a second while the messages flow: the highest sample of the last
# half may exceed the highest of the first quarter by at most this. Measured here: the
# child and its rules process grow 10-15 MB over the stream (the rules' per-sensor windows
# fill with 70,000 readings' worth of in-limits data, SQLite's page cache warms up). A leak
# of one record per message (a Reading with its payload and raw bytes is ~1 KB) would add
# ~75 MB over the last three quarters, well above the limit.
RSS_GROWTH_LIMIT_MB = 40
SAMPLE_EVERY_S = 0.25

Message = tuple[str, bytes]


# -- the corpus's verdicts, against the decoder alone -------------------------------------


@dataclass
class Verdicts:
    """What the decoder makes of a list of messages, counted as the store would."""

    stored_keys: set[tuple[str, str, int]] = field(default_factory=set)
    stamped: int = 0  # readings without ts: each gets a fresh stamp, so each is stored
    duplicates: int = 0  # readings whose (site, sensor, ts) came before: stored once
    reasons: Counter[Reason] = field(default_factory=Counter)
    presence: int = 0
    parts: int = 0  # messages, with a batch counted as its elements

    @property
    def stored(self) -> int:
        return len(self.stored_keys) + self.stamped

    def add(self, result: Reading | PresenceUpdate | Rejected | DecodedBatch) -> None:
        if isinstance(result, Reading):
            self._reading(result)
        elif isinstance(result, Rejected):
            self.reasons[result.reason] += 1
            self.parts += 1
        elif isinstance(result, DecodedBatch):
            for reading in result.readings:
                self._reading(reading)
            self.reasons.update(r.reason for r in result.rejected)
            self.parts += len(result.rejected)
        else:
            self.presence += 1

    def _reading(self, reading: Reading) -> None:
        self.parts += 1
        if reading.payload.ts is None:
            self.stamped += 1
            return
        key = (reading.site, reading.sensor, to_ns(reading.ts))
        if key in self.stored_keys:
            self.duplicates += 1
        self.stored_keys.add(key)


def decode_all(facility: Facility, messages: Sequence[Message]) -> Verdicts:
    decoder, verdicts = Decoder(facility), Verdicts()
    for topic, payload in messages:
        verdicts.add(decoder.decode(topic, payload, START))
    return verdicts


def test_every_corpus_case_gets_its_stated_verdict(facility: Facility) -> None:
    decoder = Decoder(facility)
    wrong = []
    for case in corpus():
        verdicts = Verdicts()
        verdicts.add(decoder.decode(case.topic, case.payload, START))
        got = (verdicts.stored, dict(verdicts.reasons), verdicts.presence)
        if got != (case.stored, dict(case.reasons), 0):
            wrong.append(f"{case.name}: {got}")
    assert not wrong, wrong
    kinds = {reason for case in corpus() for reason in case.reasons}
    assert kinds == set(Reason), f"no case for {set(Reason) - kinds}"


def test_non_finite_numbers_in_unknown_keys_are_refused_not_stuck_in_the_store(
    facility: Facility, tmp_path: Path
) -> None:
    """The bug the fuzzing found: NaN in an unknown key passed the decoder, and SQLite's
    json functions then refused the whole batch's write, retried for ever."""
    decoder = Decoder(facility)
    topic = f"archive/{SITE}/B2-01/b201-th1"
    for payload in (b'{"x": NaN}', b'{"x": [Infinity]}', b'{"x": {"y": -Infinity}}'):
        result = decoder.decode(topic, payload, START)
        assert isinstance(result, Rejected), payload
        assert result.reason is Reason.OUT_OF_RANGE
        assert result.detail == "x: NaN and Infinity are not JSON numbers"
    batch = decoder.decode(BATCH, b'[{"room": "B2-01", "sensor": "b201-th1", "x": NaN}]', START)
    assert isinstance(batch, DecodedBatch)
    assert [r.reason for r in batch.rejected] == [Reason.OUT_OF_RANGE]
    assert batch.rejected[0].detail == "batch[0]: x: NaN and Infinity are not JSON numbers"
    # What still passes stores: finite extras of any size and depth the parser allows.
    store = SqliteReadingStore(tmp_path / "readings.db")
    store.start()
    try:
        kept = [
            decoder.decode(topic, payload, START)
            for payload in (
                b'{"x": 1e308}',
                json.dumps({"x": 10**100}).encode(),
                b'{"x": "\\u0000"}',
            )
        ]
        readings = [r for r in kept if isinstance(r, Reading)]
        assert len(readings) == len(kept)
        store.write(Batch(readings=readings))
    finally:
        store.stop()


# -- the messages --------------------------------------------------------------------------

# Topic characters Mosquitto accepts from a publisher: no control characters, surrogates
# or non-characters (it disconnects a client that sends them), no wildcards.
_TOPIC_TEXT = st.text(
    st.characters(blacklist_categories=("Cc", "Cs", "Cn"), blacklist_characters="+#/"),
    max_size=12,
)
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(),  # NaN and ±Infinity included: json.dumps writes them as literals
    st.text(max_size=12),
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)
_TIMESTAMPS = st.one_of(
    st.datetimes(timezones=st.sampled_from([UTC, None])).map(datetime.isoformat),
    st.integers(min_value=-(2**40), max_value=2**45),
    _SCALARS,
)
_FIELDS = {
    "temperature": _SCALARS,
    "humidity": _SCALARS | st.floats(min_value=0, max_value=100),
    "smoke": _SCALARS,
    "door": st.sampled_from(["open", "closed", "ajar", "OPEN"]) | _SCALARS,
    "water_leak": st.booleans() | _SCALARS,
    "ts": _TIMESTAMPS,
    "seq": st.integers(min_value=-5, max_value=2**65) | _SCALARS,
    "note": _JSON,
}
_READING_LIKE = st.fixed_dictionaries({}, optional=_FIELDS)


def _dumps(value: object) -> bytes:
    return json.dumps(value).encode()


def _messages(facility: Facility) -> st.SearchStrategy[Message]:
    sensors = sorted(facility.all_sensors(), key=lambda s: (s.room, s.id))
    places = [(s.room, s.id) for s in sensors]
    readings = st.sampled_from([f"archive/{s.site}/{s.room}/{s.id}" for s in sensors])
    statuses = readings.map(lambda t: f"{t}/status")
    garbage_topics = st.lists(_TOPIC_TEXT, max_size=6).map(
        lambda parts: "/".join(["archive", *parts])
    )
    topics = st.one_of(readings, readings, statuses, garbage_topics)
    payloads = st.one_of(
        st.binary(max_size=48),
        _JSON.map(_dumps),
        _READING_LIKE.map(_dumps),
        st.tuples(_READING_LIKE.map(_dumps), st.integers(0, 60)).map(lambda p: p[0][: p[1]]),
        st.text(max_size=24).map(lambda s: s.encode("utf-8")),
        st.text(max_size=12).map(lambda s: s.encode("utf-16")),
    )
    element = st.one_of(
        _JSON,
        st.tuples(st.sampled_from(places), _READING_LIKE).map(
            lambda p: {"room": p[0][0], "sensor": p[0][1], **p[1]}
        ),
    )
    batches = st.tuples(st.just(BATCH), st.lists(element, max_size=6).map(_dumps))
    return st.one_of(st.tuples(topics, payloads), batches)


def generated(facility: Facility, count: int) -> list[Message]:
    """``count`` messages drawn by hypothesis, the same on every run (derandomize)."""
    drawn: list[Message] = []

    @settings(
        max_examples=count,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(_messages(facility))
    def draw(message: Message) -> None:
        drawn.append(message)

    draw()
    return drawn


# Bytes and tokens that break parsers: structure, escapes, non-UTF-8, numbers at the edges.
_INTERESTING = (
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b":",
    b'"',
    b"\\",
    b"\x00",
    b"\xff",
    b"\xc3",
    b"\xef\xbb\xbf",
    b"NaN",
    b"-Infinity",
    b"1e309",
    b"-0",
    b"99999999999999999999999",
    b"null",
    b"true",
    b"\\ud800",
    b"\\u0000",
)


def mutated(seeds: Sequence[Message], count: int, seed: int = 8) -> list[Message]:
    """``count`` mutants of the seed messages' payloads, the same for the same seed."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        topic, original = rng.choice(seeds)
        payload = bytearray(original)
        for _ in range(rng.randint(1, 4)):
            at = rng.randint(0, len(payload))
            op = rng.randrange(5)
            if op == 0 and payload:  # flip a bit
                i = min(at, len(payload) - 1)
                payload[i] ^= 1 << rng.randrange(8)
            elif op == 1:  # insert a token
                payload[at:at] = rng.choice(_INTERESTING)
            elif op == 2:  # cut a slice out
                del payload[at : at + rng.randint(1, 16)]
            elif op == 3:  # repeat a slice
                payload[at:at] = payload[at : at + rng.randint(1, 32)] * rng.randint(1, 4)
            else:  # overwrite with a token
                token = rng.choice(_INTERESTING)
                payload[at : at + len(token)] = token
        out.append((topic, bytes(payload)))
    return out


def valid_readings(facility: Facility, count: int) -> list[Message]:
    """In-limits readings, each with its own ts, round-robin over the climate sensors."""
    sensors = sorted(
        (s for s in facility.all_sensors() if s.kind is SensorKind.CLIMATE), key=lambda s: s.id
    )
    out = []
    for i in range(count):
        s = sensors[i % len(sensors)]
        ts = START + timedelta(seconds=i // len(sensors))
        body = {"temperature": 19.5, "humidity": 50.0, "ts": ts.isoformat(), "seq": i}
        out.append((f"archive/{s.site}/{s.room}/{s.id}", _dumps(body)))
    return out


def all_messages(facility: Facility) -> tuple[list[Message], Verdicts, int]:
    """The shuffled messages, the decoder's verdicts on them, and how many are corpus."""
    cases: list[Case] = corpus()
    sent: list[Message] = []
    for case in cases:
        copies = case.copies if case.copies is not None else CORPUS_ROUNDS
        sent += [(case.topic, case.payload)] * copies
    corpus_count = len(sent)
    valid = valid_readings(facility, MESSAGES)
    seeds = [(c.topic, c.payload) for c in cases if len(c.payload) < 4096] + valid[:200]
    # Made-up messages that happen to be a device's presence report are left out: they
    # are neither stored nor quarantined, only remembered per device.
    decoder = Decoder(facility)
    for topic, payload in [*generated(facility, GENERATED), *mutated(seeds, MUTATED)]:
        if not isinstance(decoder.decode(topic, payload, START), PresenceUpdate):
            sent.append((topic, payload))
    sent += valid[: MESSAGES - len(sent)]
    random.Random(8).shuffle(sent)
    return sent, decode_all(facility, sent), corpus_count


# -- the run -------------------------------------------------------------------------------


def _settings(tmp_path: Path, broker: MosquittoBroker, console_port: int) -> Path:
    path = tmp_path / "settings.yaml"
    path.write_text(
        f"""
facility: {EXAMPLE_SITE}
mqtt: {{host: {broker.host}, port: {broker.port}, client_id: fuzz-test}}
store: {{readings_path: {tmp_path / "readings.db"}, durability: normal}}
state: {{url: "sqlite:///{tmp_path / "state.db"}"}}
console: {{port: {console_port}}}
""",
        encoding="utf-8",
    )
    return path


def _healthy(port: int) -> bool:
    try:
        return bool(
            httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).json()["status"] == "ok"
        )
    except httpx.HTTPError:
        return False


def _counts(db: Path) -> tuple[int, dict[str, int]]:
    conn = sqlite3.connect(db)
    try:
        stored = int(conn.execute("SELECT COUNT(*) FROM readings").fetchone()[0])
        reasons = dict(conn.execute("SELECT reason, count FROM quarantine_counts").fetchall())
    except sqlite3.OperationalError:
        return 0, {}  # the schema is not there yet
    finally:
        conn.close()
    return stored, reasons


class Watch:
    """Samples the child's memory (with its rules process), and whether it lives."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self._proc = proc
        self._process = psutil.Process(proc.pid)
        self.rss_mb: list[float] = []
        self.died_at: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            if self._proc.poll() is not None:
                self.died_at = len(self.rss_mb)
                return
            try:
                family = [self._process, *self._process.children(recursive=True)]
                self.rss_mb.append(sum(p.memory_info().rss for p in family) / 2**20)
            except psutil.NoSuchProcess:
                pass  # a child of the child came or went between the two calls
            self._stop.wait(SAMPLE_EVERY_S)


@pytest.mark.integration
@pytest.mark.timeout(240)
def test_100k_fuzzed_messages_are_all_stored_or_quarantined(
    fresh_broker: MosquittoBroker, facility: Facility, tmp_path: Path
) -> None:
    messages, expected, corpus_count = all_messages(facility)
    assert len(messages) == MESSAGES
    assert expected.presence == 0
    console_port = free_port()
    settings_file = _settings(tmp_path, fresh_broker, console_port)
    db = tmp_path / "readings.db"
    log = tmp_path / "lantai.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "lantai", "run", "--config", str(settings_file)],
            stdout=out,
            stderr=out,
        )
    try:
        with Watch(proc) as watch:
            wait_for(lambda: _healthy(console_port), 30, "lantai run to connect")
            began, first_sample = time.monotonic(), len(watch.rss_mb)
            publish_all(fresh_broker.host, fresh_broker.port, messages, "fuzz-pub")

            def arrived() -> bool:
                stored, reasons = _counts(db)
                return stored + sum(reasons.values()) >= expected.parts - expected.duplicates

            wait_for(arrived, 120, "every message stored or quarantined")
            took, last_sample = time.monotonic() - began, len(watch.rss_mb)
            time.sleep(1)  # anything more than expected would show now
        proc.send_signal(signal.SIGTERM)
        returncode = proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    tail = log.read_text(encoding="utf-8", errors="replace")[-3000:]
    assert watch.died_at is None, f"lantai run died after {watch.died_at} samples:\n{tail}"
    assert returncode == 0, tail

    stored, reasons = _counts(db)
    # Every part of every message: stored, or quarantined with a reason; a reading sent
    # twice with the same (site, sensor, ts) is stored once (a redelivery, by design).
    assert stored + sum(reasons.values()) + expected.duplicates == expected.parts
    assert stored == expected.stored
    assert reasons == {reason.value: n for reason, n in expected.reasons.items()}
    # The corpus alone accounts for its stated verdicts (what the generated part adds on
    # top is the decoder's, as the oracle says).
    corpus_stored, corpus_reasons = outcome(
        case for case in corpus() for _ in range(case.copies or CORPUS_ROUNDS)
    )
    assert corpus_stored <= stored
    assert all(reasons[r.value] >= n for r, n in corpus_reasons.items())
    # Every quarantined row kept names a known reason and says why.
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT reason, detail FROM quarantine").fetchall()
    conn.close()
    assert rows
    assert all(reason in set(Reason) and detail for reason, detail in rows)

    samples = watch.rss_mb[first_sample:last_sample]  # while the messages flowed
    assert len(samples) >= 16, f"too few memory samples ({len(samples)}) to judge"
    quarter, half = len(samples) // 4, len(samples) // 2
    early, late = max(samples[:quarter]), max(samples[half:])
    print(
        f"\n{MESSAGES} messages ({corpus_count} corpus, {GENERATED} generated) in {took:.1f} s; "
        f"stored {stored}, quarantined {sum(reasons.values())}; "
        f"RSS (with the rules process) first quarter max {early:.0f} MB, "
        f"last half max {late:.0f} MB: {[round(s) for s in samples]}"
    )
    assert late - early <= RSS_GROWTH_LIMIT_MB, [round(s) for s in samples]
