"""The rules engine in its own process: real child processes, a real broker, real kills.

Engine builders used here run in the child, which imports this module by name: they are
module-level functions, bound to their arguments with ``functools.partial``.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import pytest

from alerts.models import AlarmChange, Change
from collectors.decode import Decoder
from collectors.ingest import Ingest
from collectors.mqtt_source import AckToken, Delivery, MqttSettings, PahoSource
from collectors.sqlite_store import SqliteReadingStore
from lantai.broker import MosquittoBroker
from lantai.service import LantaiService
from lantai.settings import LantaiSettings, StateSettings, StoreSettings
from rules.engine import EngineStats, RulesEngine
from rules.process import RulesProcess, RulesSpec, build_engine
from rules.silence import DEGRADED_RULE
from sensors.clock import FakeClock, SystemClock
from sensors.events import (
    AlarmEvent,
    AlarmSink,
    Category,
    MetricSample,
    MetricSink,
    Severity,
    TaskSink,
    Transition,
)
from sensors.facility import Facility, FacilityConfig, load_facility
from sensors.payload import ReadingPayload
from sensors.reading import PresenceUpdate, Reading
from tests.conftest import EXAMPLE_SITE
from tests.mqtt_helpers import climate_stream, drain_session, publish_all, wait_for

pytestmark = pytest.mark.integration


class Alarms:
    """The parent's alarm sink: keeps what arrives, in order."""

    def __init__(self) -> None:
        self.events: list[AlarmEvent] = []
        self._lock = threading.Lock()

    def publish(self, events: Sequence[AlarmEvent]) -> None:
        with self._lock:
            self.events.extend(events)

    def about(self, key: str) -> list[Transition]:
        with self._lock:
            return [e.transition for e in self.events if e.key == key]


class Witnesses:
    """The parent's metric sink, fed one sample per evaluated reading by ``witness_engine``."""

    def __init__(self) -> None:
        self.count: dict[int, int] = {}
        self._lock = threading.Lock()

    def write_metrics(self, samples: Sequence[MetricSample]) -> None:
        with self._lock:
            for sample in samples:
                seq = int(dict(sample.values)["seq"])
                self.count[seq] = self.count.get(seq, 0) + 1

    def seen(self, seq: int) -> bool:
        with self._lock:
            return seq in self.count


def reading(site: str, room: str, sensor: str, body: dict[str, object]) -> Reading:
    """A reading as the decoder makes it: validated from its raw message."""
    raw = json.dumps(body).encode()
    payload = ReadingPayload.model_validate_json(raw)
    now = datetime.now(UTC)
    return Reading(site, room, sensor, payload.ts or now, now, payload, raw)


def smoke(value: bool) -> Reading:
    return reading("yunxi", "B2-01", "b201-smoke1", {"smoke": value})


def leak(value: bool) -> Reading:
    return reading("yunxi", "B2-01", "b201-leak", {"water_leak": value})


def evaluate(rules: RulesProcess, readings: Sequence[Reading]) -> None:
    assert rules.wait_evaluated(rules.submit(readings, ()), 60), "not evaluated within 60 s"


@pytest.fixture
def state_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'state.db'}"


@pytest.fixture
def running(facility: Facility, state_url: str) -> Iterator[Callable[..., RulesProcess]]:
    """Starts RulesProcesses over the example site and stops them after the test."""
    started: list[RulesProcess] = []

    def start(sink: AlarmSink, **kwargs: object) -> RulesProcess:
        rules = RulesProcess(RulesSpec(facility, state_url=state_url), sink, **kwargs)  # type: ignore[arg-type]
        rules.start()
        started.append(rules)
        return rules

    yield start
    for rules in started:
        rules.stop()


# -- engines the children build in some tests ---------------------------------------------


class _Wrapped:
    """The real engine behind a test's own ``on_readings``; the rest is the engine's."""

    def __init__(self, engine: RulesEngine) -> None:
        self.engine = engine

    @property
    def stats(self) -> EngineStats:
        return self.engine.stats

    def start(self) -> None:
        self.engine.start()

    def stop(self) -> None:
        self.engine.stop()

    def tick(self) -> None:
        self.engine.tick()

    def save(self) -> None:
        self.engine.save()


class _Witnessed(_Wrapped):
    """Adds one metric sample per evaluated reading: the test's witness of evaluation.

    A reading carrying ``"stall": true`` makes the child hang after evaluating its batch,
    before answering, once: the marker file is removed as it does.
    """

    def __init__(self, engine: RulesEngine, witness: MetricSink, stall_marker: Path) -> None:
        super().__init__(engine)
        self._witness = witness
        self._stall_marker = stall_marker

    def on_readings(self, readings: Sequence[Reading], presence: Sequence[PresenceUpdate]) -> None:
        self.engine.on_readings(readings, presence)
        self._witness.write_metrics(
            [
                MetricSample(r.site, r.room, r.ts, (("seq", float(r.payload.seq or 0)),))
                for r in readings
            ]
        )
        stall = any((r.payload.model_extra or {}).get("stall") for r in readings)
        if stall and self._stall_marker.exists():
            self._stall_marker.unlink()
            time.sleep(120)


def witness_engine(
    spec: RulesSpec,
    sink: AlarmSink,
    *,
    tasks: TaskSink | None,
    metrics: MetricSink | None,
    input_healthy: Callable[[], bool],
    stall_marker: str,
) -> _Witnessed:
    assert metrics is not None
    # The engine's own metric samples are left out: the sink holds witnesses only.
    engine = build_engine(spec, sink, tasks=tasks, metrics=None, input_healthy=input_healthy)
    return _Witnessed(engine, metrics, Path(stall_marker))


class _Fragile(_Wrapped):
    """A bug on purpose: a reading with ``explode`` raises, one with ``die`` ends the process."""

    def on_readings(self, readings: Sequence[Reading], presence: Sequence[PresenceUpdate]) -> None:
        extra = [r.payload.model_extra or {} for r in readings]
        if any(e.get("die") for e in extra):
            os._exit(3)
        if any(e.get("explode") for e in extra):
            raise RuntimeError("a rule blew up on purpose")
        self.engine.on_readings(readings, presence)


def fragile_engine(
    spec: RulesSpec,
    sink: AlarmSink,
    *,
    tasks: TaskSink | None,
    metrics: MetricSink | None,
    input_healthy: Callable[[], bool],
) -> _Fragile:
    return _Fragile(
        build_engine(spec, sink, tasks=tasks, metrics=metrics, input_healthy=input_healthy)
    )


def refusing_engine(
    spec: RulesSpec,
    sink: AlarmSink,
    *,
    tasks: TaskSink | None,
    metrics: MetricSink | None,
    input_healthy: Callable[[], bool],
    refuse_marker: str,
) -> RulesEngine:
    """The real engine, unless the marker file exists: then the child cannot start."""
    if Path(refuse_marker).exists():
        raise RuntimeError("refusing to start while the marker exists")
    return build_engine(spec, sink, tasks=tasks, metrics=metrics, input_healthy=input_healthy)


# -- tests -----------------------------------------------------------------------------------


def test_smoke_in_the_child_becomes_a_fire_alarm_at_the_parents_sink(
    running: Callable[..., RulesProcess],
) -> None:
    alarms = Alarms()
    rules = running(alarms)
    parent_pid = os.getpid()
    assert rules.child_pid not in (None, parent_pid)
    fire = smoke(True)
    evaluate(rules, [fire])
    [event] = alarms.events
    assert event.key == "fire:yunxi:B2-01"
    assert event.transition is Transition.RAISE
    assert (event.category, event.severity) == (Category.FIRE, Severity.CRITICAL)
    assert (event.site, event.room, event.sensor) == ("yunxi", "B2-01", "b201-smoke1")
    assert event.at == fire.ts
    evaluate(rules, [smoke(False)])
    assert alarms.about("fire:yunxi:B2-01") == [Transition.RAISE, Transition.CLEAR]
    stats = rules.stats
    assert (stats.readings, stats.alarm_events, stats.errors, stats.in_flight) == (2, 2, 0, 0)
    assert stats.rules > 0


def _two_leak_sensors() -> Facility:
    config = FacilityConfig.model_validate(
        {
            "sites": [
                {
                    "id": "t",
                    "name": {"zh": "测试", "en": "Test"},
                    "buildings": [
                        {
                            "id": "b",
                            "name": {"zh": "楼", "en": "Building"},
                            "floors": [
                                {
                                    "id": "f",
                                    "name": {"zh": "层", "en": "Floor"},
                                    "rooms": [
                                        {
                                            "id": "R1",
                                            "name": {"zh": "库房", "en": "Stack"},
                                            "class": "paper",
                                            "sensors": [
                                                {
                                                    "id": "leak1",
                                                    "kind": "water_leak",
                                                    "interval": "2s",
                                                },
                                                {
                                                    "id": "leak2",
                                                    "kind": "water_leak",
                                                    "interval": "2s",
                                                },
                                            ],
                                        }
                                    ],
                                }
                            ],
                        }
                    ],
                }
            ]
        }
    )
    return Facility.compile(config)


def test_the_tick_finds_a_silent_sensor_and_carries_the_input_health(tmp_path: Path) -> None:
    # Both sensors report every 2 s, so 6 s of silence is an alarm (3 intervals).
    alarms = Alarms()
    healthy = [True]
    rules = RulesProcess(
        RulesSpec(_two_leak_sensors(), state_url=f"sqlite:///{tmp_path / 'state.db'}"),
        alarms,
        input_healthy=lambda: healthy[0],
    )
    rules.start()
    try:
        began = time.monotonic()
        time.sleep(4)  # t = 4 s: leak1 speaks, leak2 stays quiet
        evaluate(rules, [reading("t", "R1", "leak1", {"water_leak": False})])
        time.sleep(max(0.0, began + 7 - time.monotonic()))
        # t = 7 s: leak2 has been silent past 6 s, but Lantai says it cannot hear: held.
        healthy[0] = False
        rules.tick()
        assert alarms.events == []
        healthy[0] = True
        rules.tick()
        assert alarms.about("sensor_silent:t:leak2") == [Transition.RAISE]
        assert alarms.about("sensor_silent:t:leak1") == []
        assert rules.stats.sweeps == 2
    finally:
        rules.stop()


def test_stop_saves_the_state_and_the_next_process_restores_it(
    facility: Facility, state_url: str
) -> None:
    alarms = Alarms()
    first = RulesProcess(RulesSpec(facility, state_url=state_url), alarms)
    first.start()
    evaluate(first, [leak(True)])
    first.stop()
    assert first.stats.saves == 1
    assert alarms.about("water_leak:yunxi:b201-leak") == [Transition.RAISE]

    second = RulesProcess(RulesSpec(facility, state_url=state_url), alarms)
    second.start()
    try:
        assert second.stats.restored_states > 0
        evaluate(second, [leak(True)])  # still wet: the restored state says it is raised
        assert alarms.about("water_leak:yunxi:b201-leak") == [Transition.RAISE]
        evaluate(second, [leak(False)])
        assert alarms.about("water_leak:yunxi:b201-leak") == [Transition.RAISE, Transition.CLEAR]
    finally:
        second.stop()


def test_an_alarm_raised_before_a_crash_clears_after_it(
    running: Callable[..., RulesProcess],
) -> None:
    # Nothing was saved between the leak and the kill: the new child restores an older
    # state, and only the replay of the answered batch lets it know the leak is raised.
    alarms = Alarms()
    rules = running(alarms)
    evaluate(rules, [leak(True)])
    first_pid = rules.child_pid
    assert first_pid is not None
    os.kill(first_pid, signal.SIGKILL)
    evaluate(rules, [leak(False)])  # waits for the new child
    assert rules.child_pid not in (None, first_pid)
    assert alarms.about("water_leak:yunxi:b201-leak") == [Transition.RAISE, Transition.CLEAR]
    stats = rules.stats
    assert (stats.restarts, stats.replayed, stats.alarm_events) == (1, 1, 3)


class AckAudit:
    """The real MQTT source, watched: at each acknowledgement, was the reading evaluated?"""

    def __init__(self, inner: PahoSource, witnesses: Witnesses) -> None:
        self.inner = inner
        self.witnesses = witnesses
        self.seq_of: dict[AckToken, int] = {}
        self.acked: list[int] = []
        self.early: list[int] = []  # acknowledged before the rules' outputs were handed on

    @property
    def connected(self) -> bool:
        return self.inner.connected

    def start(self, on_delivery: Callable[[Delivery], None]) -> None:
        def record(delivery: Delivery) -> None:
            _topic, payload, token = delivery
            self.seq_of[token] = json.loads(payload)["seq"]
            on_delivery(delivery)

        self.inner.start(record)

    def stop(self) -> None:
        self.inner.stop()

    def ack(self, tokens: Sequence[AckToken]) -> None:
        for token in tokens:
            seq = self.seq_of.pop(token)
            self.acked.append(seq)
            if not self.witnesses.seen(seq):
                self.early.append(seq)
        self.inner.ack(tokens)


def test_kill_9_mid_stream_loses_nothing_and_acknowledges_nothing_unevaluated(
    broker: MosquittoBroker, facility: Facility, tmp_path: Path, state_url: str, unique_id: str
) -> None:
    """At least once into the rules, exactly once out of them.

    The child hangs after evaluating the batch that holds reading 600, before answering,
    and is killed with SIGKILL. The new child restores the saved state, replays the
    batches answered since the save (their outputs dropped) and is sent again every batch
    not answered: the hung batch is evaluated twice, and each reading's witness reaches
    the parent exactly once. No reading is acknowledged to MQTT before its witness.
    """
    marker = tmp_path / "stall-once"
    marker.touch()
    alarms, witnesses = Alarms(), Witnesses()
    rules = RulesProcess(
        RulesSpec(facility, state_url=state_url),
        alarms,
        metrics=witnesses,
        build=partial(witness_engine, stall_marker=str(marker)),
    )
    rules.start()
    store = SqliteReadingStore(tmp_path / "readings.db")
    store.start()
    source = AckAudit(
        PahoSource(MqttSettings(host=broker.host, port=broker.port, client_id=unique_id)),
        witnesses,
    )
    ingest = Ingest(source, Decoder(facility), store, SystemClock(), rules)
    messages = climate_stream(facility, 1500)
    topic, body = messages[600]
    messages[600] = (topic, json.dumps({**json.loads(body), "stall": True}).encode())
    try:
        ingest.start()
        assert source.inner.wait_connected(10)
        publish_all(broker.host, broker.port, messages[:300], f"{unique_id}-pub")
        wait_for(lambda: len(source.acked) == 300, 30, "the first 300 acknowledged")
        publish_all(broker.host, broker.port, messages[300:], f"{unique_id}-pub")
        wait_for(lambda: not marker.exists(), 30, "the child to hang on reading 600")
        hung_pid = rules.child_pid
        assert hung_pid is not None
        assert not witnesses.seen(600)
        assert 600 not in source.acked
        os.kill(hung_pid, signal.SIGKILL)
        wait_for(lambda: ingest.stats.stored >= 1500, 60, "every reading stored")
        assert rules.child_pid not in (None, hung_pid)
    finally:
        ingest.stop()
        rules.stop()
        store.stop()
    stats = rules.stats
    assert stats.restarts == 1
    assert stats.resent >= 1  # the hung batch, at least
    assert stats.replayed >= 1  # what was answered before it, since no save
    assert source.early == []
    assert sorted(source.acked) == list(range(1500))
    assert witnesses.count == dict.fromkeys(range(1500), 1)
    assert store_count(tmp_path / "readings.db") == 1500
    assert drain_session(broker.host, broker.port, unique_id) == 0


def store_count(path: Path) -> int:
    store = SqliteReadingStore(path)
    store.start()
    try:
        return store.count_readings()
    finally:
        store.stop()


def test_a_bad_reading_or_a_rule_exception_does_not_end_the_child(
    running: Callable[..., RulesProcess],
) -> None:
    alarms = Alarms()
    rules = running(alarms, build=fragile_engine)
    pid = rules.child_pid
    evaluate(rules, [reading("yunxi", "B2-01", "b201-smoke1", {"explode": True})])
    assert rules.stats.errors == 1
    assert "a rule blew up on purpose" in (rules.stats.last_error or "")
    # A message the child cannot read again (not the validated message it claims to be)
    # is skipped; the rest of its batch is evaluated.
    now = datetime.now(UTC)
    garbled = Reading("yunxi", "B2-01", "b201-smoke2", now, now, smoke(True).payload, b"{oops")
    evaluate(rules, [garbled, smoke(True)])
    assert alarms.about("fire:yunxi:B2-01") == [Transition.RAISE]
    stats = rules.stats
    assert (stats.errors, stats.restarts, stats.readings) == (2, 0, 1)
    assert "could not be read again" in (stats.last_error or "")
    assert rules.child_pid == pid


def test_a_batch_that_kills_every_child_is_dropped(running: Callable[..., RulesProcess]) -> None:
    alarms = Alarms()
    rules = running(alarms, build=fragile_engine)
    first_pid = rules.child_pid
    # Given up on after it killed two children, so it counts as evaluated (and is acked).
    evaluate(rules, [reading("yunxi", "B2-01", "b201-smoke1", {"die": True})])
    evaluate(rules, [smoke(True)])  # the third child works
    assert alarms.about("fire:yunxi:B2-01") == [Transition.RAISE]
    stats = rules.stats
    assert (stats.restarts, stats.dropped, stats.readings) == (2, 1, 1)
    assert "killed 2 rules processes" in (stats.last_error or "")
    assert rules.child_pid != first_pid


def test_no_rules_for_longer_than_the_grace_is_monitoring_degraded(
    running: Callable[..., RulesProcess], tmp_path: Path
) -> None:
    marker = tmp_path / "refuse"
    alarms = Alarms()
    rules = running(
        alarms,
        build=partial(refusing_engine, refuse_marker=str(marker)),
        degraded_after=timedelta(seconds=1),
    )
    key = f"{DEGRADED_RULE}:yunxi"
    marker.touch()  # from now on no child can start
    pid = rules.child_pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: alarms.about(key) == [Transition.RAISE], 30, "monitoring degraded")
    marker.unlink()
    wait_for(lambda: alarms.about(key) == [Transition.RAISE, Transition.CLEAR], 30, "restored")
    evaluate(rules, [smoke(True)])
    assert alarms.about("fire:yunxi:B2-01") == [Transition.RAISE]
    assert rules.stats.restarts == 1


class Changes:
    """An alarm-service listener: the alarms as the service recorded them."""

    name = "test"

    def __init__(self) -> None:
        self.raised: list[str] = []

    def notify(self, change: AlarmChange) -> None:
        if change.change is Change.RAISED:
            self.raised.append(change.alarm.key)


def test_the_service_runs_its_rules_in_their_own_process(
    broker: MosquittoBroker, tmp_path: Path, unique_id: str
) -> None:
    settings = LantaiSettings(
        facility=EXAMPLE_SITE,
        mqtt=MqttSettings(host=broker.host, port=broker.port, client_id=unique_id),
        store=StoreSettings(readings_path=tmp_path / "readings.db"),
        state=StateSettings(url=f"sqlite:///{tmp_path / 'state.db'}"),
    )
    changes = Changes()
    service = LantaiService(settings, load_facility(EXAMPLE_SITE), extra_listeners=[changes])
    assert isinstance(service.rules, RulesProcess)
    service.start(console=False)
    try:
        assert service.source.wait_connected(10)
        health = service.health()
        assert health["problems"] == []
        rules_health = health["rules"]
        assert isinstance(rules_health, dict)
        assert rules_health["child_pid"] not in (None, os.getpid())
        topic = "archive/yunxi/B2-01/b201-smoke1"
        publish_all(broker.host, broker.port, [(topic, b'{"smoke": true}')], f"{unique_id}-pub")
        wait_for(lambda: "fire:yunxi:B2-01" in changes.raised, 20, "the fire alarm recorded")
        wait_for(lambda: service.ingest.stats.stored == 1, 10, "the reading stored")
    finally:
        service.stop()
    assert drain_session(broker.host, broker.port, unique_id) == 0


def test_a_service_on_another_clock_keeps_the_rules_in_process(tmp_path: Path) -> None:
    settings = LantaiSettings(
        facility=EXAMPLE_SITE,
        store=StoreSettings(readings_path=tmp_path / "readings.db"),
        state=StateSettings(url=f"sqlite:///{tmp_path / 'state.db'}"),
    )
    facility = load_facility(EXAMPLE_SITE)
    assert isinstance(LantaiService(settings, facility, FakeClock()).rules, RulesEngine)
    debugging = settings.model_copy(update={"rules_in_process": True})
    assert isinstance(LantaiService(debugging, facility).rules, RulesEngine)
