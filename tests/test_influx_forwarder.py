"""The InfluxDB forwarder at its HTTP boundary: the exact requests InfluxDB would receive,
retry and backoff, order across an outage, restart from the cursor, the spool's bound.

The real influxdb-client library writes to tests/fake_influx.py over real HTTP; the
reading store is a real SQLite file. Tests drive ``step()`` themselves, so time is the
fake clock's and a backoff is a returned number, never a wait.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from collectors.decode import Decoder
from collectors.influx_forwarder import InfluxForwarder, spool_path_for
from collectors.influx_lines import AlarmPoint, LineEncoder
from collectors.influx_schema import SystemMetric, SystemSample
from collectors.influx_writer import InfluxClientWriter, WriteFailed
from collectors.sqlite_store import Batch, SqliteReadingStore
from sensors.clock import FakeClock, to_ns
from sensors.facility import Facility
from sensors.reading import Reading
from tests.fake_influx import BUCKET, ORG, TOKEN, FakeInflux, fake_influx  # noqa: F401

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
TH1 = (
    "reading,site=yunxi,building=main,floor=F2,room=B2-01,room_class=paper,"
    "sensor=b201-th1,kind=climate"
)


@dataclass
class Rig:
    facility: Facility
    store: SqliteReadingStore
    fake: FakeInflux
    clock: FakeClock
    tmp: Path
    disk_free: list[int] = field(default_factory=lambda: [10**12])
    forwarders: list[InfluxForwarder] = field(default_factory=list)
    seconds: int = 0

    def forwarder(
        self, forwarder_class: type[InfluxForwarder] = InfluxForwarder, **settings: Any
    ) -> InfluxForwarder:
        """A forwarder on the store's spool, opened (its steps are the test's to take)."""
        values = {"retry_initial_s": 1.0, "retry_max_s": 8.0} | settings
        s = self.fake.settings(**values)
        forwarder = forwarder_class(
            s,
            self.store,
            spool_path_for(self.store.path),
            LineEncoder(self.facility),
            InfluxClientWriter(s),
            self.clock,
            disk_free=lambda _: self.disk_free[0],
        )
        forwarder.open()
        self.forwarders.append(forwarder)
        return forwarder

    def store_climate(self, count: int, sensor: str = "b201-th1") -> list[str]:
        """Store ``count`` readings of one sensor a second apart; returns their lines."""
        decoder = Decoder(self.facility)
        batch = Batch()
        lines = []
        for _ in range(count):
            self.seconds += 1
            ts = T0 + timedelta(seconds=self.seconds)
            humidity = 40 + self.seconds % 20
            payload = f'{{"humidity": {humidity}, "ts": "{ts.isoformat()}"}}'.encode()
            reading = decoder.decode(f"archive/yunxi/B2-01/{sensor}", payload, ts)
            assert isinstance(reading, Reading), reading
            batch.readings.append(reading)
            prefix = TH1.replace("b201-th1", sensor)
            lines.append(f"{prefix} humidity={float(humidity)!r} {to_ns(ts)}")
        self.store.write(batch)
        return lines


class KilledBeforeCommit(InfluxForwarder):
    """A forwarder whose process dies after InfluxDB took a batch, before the cursor moved."""

    def _finish(self, batch: Any) -> None:
        del batch


@pytest.fixture
def rig(facility: Facility, tmp_path: Path, fake_influx: FakeInflux) -> Iterator[Rig]:  # noqa: F811
    store = SqliteReadingStore(tmp_path / "readings.db")
    store.start()
    made = Rig(facility, store, fake_influx, FakeClock(T0), tmp_path)
    yield made
    for forwarder in made.forwarders:
        forwarder.stop()
    store.stop()


def drain(forwarder: InfluxForwarder, limit: int = 100) -> None:
    """Step until the forwarder is idle (its step answers with the flush interval)."""
    for _ in range(limit):
        if forwarder.step() == forwarder.settings.flush_interval_s:
            return
    raise AssertionError("the forwarder never caught up")


def test_a_stored_reading_reaches_influx_as_exactly_this_request(rig: Rig) -> None:
    forwarder = rig.forwarder()
    (line,) = rig.store_climate(1)
    assert forwarder.step() == 0.0
    (request,) = rig.fake.requests
    assert (request.method, request.path) == ("POST", "/api/v2/write")
    assert request.query == {"org": [ORG], "bucket": [BUCKET], "precision": ["ns"]}
    assert request.headers["Authorization"] == f"Token {TOKEN}"
    assert request.headers["Content-Encoding"] == "gzip"
    assert request.headers["Content-Type"] == "text/plain"
    assert request.raw[:2] == b"\x1f\x8b"  # gzip's magic: compressed on the wire
    assert request.body == (
        "reading,site=yunxi,building=main,floor=F2,room=B2-01,room_class=paper,"
        "sensor=b201-th1,kind=climate humidity=41.0 1772352001000000000"
    )
    assert request.body == line
    assert forwarder.step() == forwarder.settings.flush_interval_s  # caught up: idle
    assert forwarder.state().depth == 0
    assert forwarder.stats.forwarded == 1


def test_history_from_before_the_first_start_is_not_backfilled(rig: Rig) -> None:
    rig.store_climate(3)
    forwarder = rig.forwarder()
    new = rig.store_climate(2)
    drain(forwarder)
    assert rig.fake.accepted == new


def test_queued_points_go_first_then_readings_in_one_request(rig: Rig) -> None:
    forwarder = rig.forwarder()
    readings = rig.store_climate(2)
    forwarder.enqueue_system([SystemSample(SystemMetric.INGEST_STORED, (), 2)], T0)
    forwarder.enqueue_alarm(
        AlarmPoint(
            T0,
            "yunxi",
            "B2-01",
            None,
            "rh_high",
            "climate",
            "medium",
            "raised",
            4,
            "unacked",
            "湿度高",
            "RH high",
        )
    )
    drain(forwarder)
    (request,) = rig.fake.requests
    ns = to_ns(T0)
    assert request.lines == [
        f"lantai_system,metric=ingest_stored_total value=2.0 {ns}",
        (
            "alarm_event,site=yunxi,room=B2-01,rule=rh_high,category=climate,severity=medium,"
            'change=raised alarm_id=4i,state="unacked",message_zh="湿度高",'
            f'message_en="RH high" {ns}'
        ),
        *readings,
    ]


def test_retry_after_in_seconds_is_honoured_and_the_same_batch_is_sent_again(rig: Rig) -> None:
    forwarder = rig.forwarder()
    lines = rig.store_climate(3)
    rig.fake.answer_next(429, '{"code":"too many requests"}', {"Retry-After": "7"})
    assert forwarder.step() == 7.0
    assert forwarder.state().last_error is not None
    assert forwarder.state().last_error.startswith("429")  # type: ignore[union-attr]
    assert forwarder.step() == 0.0
    first, second = rig.fake.requests
    assert first.body == second.body == "\n".join(lines)
    assert rig.fake.accepted == lines
    assert forwarder.state().failing_since is None


def test_retry_after_as_an_http_date_is_honoured_up_to_the_cap(rig: Rig) -> None:
    forwarder = rig.forwarder(retry_max_s=60)
    rig.store_climate(1)
    when = format_datetime(rig.clock.now() + timedelta(seconds=30), usegmt=True)
    rig.fake.answer_next(503, "", {"Retry-After": when})
    assert forwarder.step() == 30.0
    rig.fake.answer_next(429, "", {"Retry-After": "3600"})
    assert forwarder.step() == 60.0  # a proxy's silly hour does not stall the archive


def test_no_answer_and_5xx_back_off_doubling_to_the_cap(rig: Rig) -> None:
    forwarder = rig.forwarder(retry_initial_s=1, retry_max_s=4)
    lines = rig.store_climate(2)
    rig.fake.outage(503)
    assert [forwarder.step() for _ in range(4)] == [1.0, 2.0, 4.0, 4.0]
    assert forwarder.state().failing_since == T0
    rig.fake.restore()
    assert forwarder.step() == 0.0
    assert rig.fake.accepted == lines
    assert forwarder.stats.writes_retried == 4


def test_a_hung_server_times_out_and_counts_as_down(rig: Rig) -> None:
    forwarder = rig.forwarder(timeout_s=0.3)
    lines = rig.store_climate(1)
    rig.fake.hang()
    assert forwarder.step() == 1.0
    assert forwarder.state().last_error is not None
    assert forwarder.state().last_error.startswith("no answer")  # type: ignore[union-attr]
    rig.fake.restore()
    drain(forwarder)
    assert rig.fake.accepted == lines


def test_a_wrong_token_keeps_everything_and_retries(rig: Rig) -> None:
    forwarder = rig.forwarder()
    rig.fake.token = "another-token"  # noqa: S105 - the server's token was rotated
    lines = rig.store_climate(2)
    assert forwarder.step() == 1.0
    assert forwarder.state().depth == 2
    assert forwarder.state().last_error.startswith("401")  # type: ignore[union-attr]
    rig.fake.token = TOKEN
    drain(forwarder)
    assert rig.fake.accepted == lines


def test_order_is_kept_across_an_outage(rig: Rig) -> None:
    forwarder = rig.forwarder(batch_points=4)
    expected = rig.store_climate(3)
    rig.fake.outage(503)
    forwarder.step()
    expected += rig.store_climate(5, "b201-th2")
    forwarder.step()
    forwarder.enqueue_system([SystemSample(SystemMetric.SPOOL_DEPTH, (), 8)], T0)
    expected += rig.store_climate(2)
    forwarder.step()  # the depth is measured at each step, failed ones too
    assert forwarder.state().depth == 11
    rig.fake.restore()
    drain(forwarder)
    # The batch in flight when InfluxDB went away goes first, as it was; then the queue.
    system = f"lantai_system,metric=spool_depth value=8.0 {to_ns(T0)}"
    assert rig.fake.accepted == [*expected[:3], system, *expected[3:]]
    assert [len(r.lines) for r in rig.fake.requests][-3:] == [3, 4, 4]


def test_a_new_forwarder_on_the_same_files_resumes_at_the_cursor(rig: Rig) -> None:
    first = rig.forwarder(batch_points=2)
    lines = rig.store_climate(5)
    first.step()
    first.step()  # four forwarded; the fifth waits
    first.enqueue_system([SystemSample(SystemMetric.MQTT_CONNECTED, (), 1)], T0)
    first.stop()
    rig.forwarders.remove(first)
    second = rig.forwarder(batch_points=2)
    assert second.state().depth == 2
    drain(second)
    system = f"lantai_system,metric=mqtt_connected value=1.0 {to_ns(T0)}"
    assert rig.fake.accepted == [*lines[:4], system, lines[4]]


def test_a_crash_between_write_and_cursor_replays_the_same_points(rig: Rig) -> None:
    # InfluxDB keeps one point per (series, time): a replay overwrites, never duplicates.
    first = rig.forwarder(forwarder_class=KilledBeforeCommit)
    lines = rig.store_climate(2)
    first.step()
    first.stop()
    rig.forwarders.remove(first)
    drain(rig.forwarder())
    assert rig.fake.accepted == lines + lines


def test_a_refused_point_is_isolated_skipped_and_counted(rig: Rig, caplog: Any) -> None:
    forwarder = rig.forwarder()
    lines = rig.store_climate(3)
    bad = rig.store_climate(1, "b201-th2")
    lines += rig.store_climate(3)
    rig.fake.refuse_points_containing("sensor=b201-th2")
    with caplog.at_level(logging.ERROR, "collectors.influx_forwarder"):
        drain(forwarder)
    assert rig.fake.accepted == lines
    assert forwarder.stats.rejected == 1
    assert bad[0] in caplog.text
    assert forwarder.state().depth == 0
    assert forwarder.state().failing_since is None  # the server answered: no outage


def test_a_full_spool_skips_the_oldest_readings_and_counts_them(rig: Rig) -> None:
    forwarder = rig.forwarder(spool_max_points=5, batch_points=10)
    rig.fake.outage(503)
    lines = rig.store_climate(8)
    forwarder.step()
    state = forwarder.state()
    assert (state.depth, state.dropped, state.near_full) == (5, 3, True)
    rig.fake.restore()
    drain(forwarder)
    assert rig.fake.accepted == lines[3:]
    # Skipped in InfluxDB only: the local store keeps every reading.
    assert rig.store.count_readings() == 8


def test_a_full_spool_of_queued_points_drops_the_oldest_rows(rig: Rig) -> None:
    forwarder = rig.forwarder(spool_max_points=2)
    rig.fake.outage(503)
    for value in range(4):
        forwarder.enqueue_system([SystemSample(SystemMetric.OUTBOX_PENDING, (), value)], T0)
    forwarder.step()
    assert (forwarder.state().depth, forwarder.state().dropped) == (2, 2)
    rig.fake.restore()
    drain(forwarder)
    assert [line.split()[1] for line in rig.fake.accepted] == ["value=2.0", "value=3.0"]


def test_near_full_low_disk_and_a_long_outage_show_in_the_state(rig: Rig) -> None:
    forwarder = rig.forwarder(
        spool_max_points=10, spool_near_full=0.5, min_free_disk_mb=100, outage_alarm_after_s=60
    )
    rig.fake.outage(503)
    rig.store_climate(4)
    forwarder.step()
    assert forwarder.state().problems == []
    rig.store_climate(1)
    rig.disk_free[0] = 50 * 1024 * 1024
    rig.clock.advance(61)
    forwarder.step()
    state = forwarder.state()
    assert state.problems == ["disk_low", "spool_near_full", "influx_unreachable"]
    assert (state.depth, state.capacity, state.disk_free_mb) == (5, 10, 50)


def test_the_token_never_reaches_logs_reprs_or_errors(rig: Rig, caplog: Any) -> None:
    with caplog.at_level(logging.DEBUG):
        forwarder = rig.forwarder()
        rig.store_climate(1)
        rig.fake.answer_next(401, '{"code":"unauthorized"}')
        forwarder.step()
        rig.fake.outage(500)
        forwarder.step()
        rig.fake.restore()
        forwarder.step()
    assert rig.fake.accepted  # the token was sent where it belongs
    assert TOKEN not in caplog.text
    assert TOKEN not in repr(forwarder.settings)
    assert TOKEN not in str(forwarder.settings.model_dump())
    assert TOKEN not in repr(forwarder.state())
    assert TOKEN not in str(WriteFailed(401, "unauthorized"))
