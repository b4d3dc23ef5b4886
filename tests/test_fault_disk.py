"""Faults: the disk holding the reading store and the InfluxDB spool fills up.

A real 8 MB filesystem (tmpfs, mounted for the test: root only, skipped otherwise) holds
the SQLite reading store and the spool beside it; a ballast file eats the space. The
whole service runs on it with a real Mosquitto and the InfluxDB stand-in.

What happens, and what this proves:

1. Space runs low (below ``influx.min_free_disk_mb``): the ``influx_spool`` alarm is
   raised for every site, its text saying how many MB are left.
2. The disk is full: SQLite's writes fail ("database or disk is full"). The process
   stays up; nothing is acknowledged, so the broker keeps every reading; /api/health
   names ``store_write_failing``; a fire alarm still comes at once (the rules see
   readings before the write, and the alarm database is elsewhere); after 30 s of it the
   rules raise "monitoring degraded" instead of calling sensors silent.
3. The ballast goes: writes resume, every reading is stored once in the order sent, all
   is acknowledged, "monitoring degraded" clears.

The clock is a FakeClock so that the 30 s of (2) cost nothing; the rules then run on the
ingest thread (the service does so on any clock but the wall clock).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from collectors.mqtt_source import MqttSettings
from lantai.broker import MosquittoBroker
from lantai.service import LantaiService
from lantai.settings import LantaiSettings, StateSettings, StoreSettings
from sensors.clock import FakeClock
from sensors.facility import Facility
from tests.conftest import EXAMPLE_SITE
from tests.fake_influx import FakeInflux, fake_influx  # noqa: F401
from tests.mqtt_helpers import drain_session, publish_all, wait_for
from tests.test_fault_store import FIRE, SMOKE, Changes, Stream, alarm_state, stored_seqs

pytestmark = pytest.mark.integration

DISK_MB = 8
LOW_MB = 4  # influx.min_free_disk_mb: below this the influx_spool alarm is raised
MB = 1024 * 1024


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """An 8 MB tmpfs of the test's own; skipped where mounting is not permitted."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs for the disk-full test needs root")
    where = tmp_path / "small-disk"
    where.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_MB}m", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(path: Path, leave_bytes: int) -> None:
    """Write ``path`` until only ``leave_bytes`` are free on its filesystem (or none)."""
    chunk = b"\0" * (256 * 1024)
    with path.open("ab") as ballast:
        while (free := shutil.disk_usage(path.parent).free) > leave_bytes:
            try:
                ballast.write(chunk[: max(min(len(chunk), free - leave_bytes), 1)])
                ballast.flush()
            except OSError:  # ENOSPC: nothing left, which is what was asked
                return


def test_a_full_disk_stops_the_acks_not_the_process_and_everything_resumes(
    broker: MosquittoBroker,
    facility: Facility,
    tmp_path: Path,
    small_disk: Path,
    unique_id: str,
    fake_influx: FakeInflux,  # noqa: F811
) -> None:
    settings = LantaiSettings(
        facility=EXAMPLE_SITE,
        mqtt=MqttSettings(host=broker.host, port=broker.port, client_id=unique_id),
        store=StoreSettings(readings_path=small_disk / "readings.db"),
        # Alarms, tasks and users live in the state database, on another disk.
        state=StateSettings(url=f"sqlite:///{tmp_path / 'state.db'}"),
        influx=fake_influx.settings(
            min_free_disk_mb=LOW_MB, flush_interval_s=0.05, retry_initial_s=0.05, retry_max_s=0.5
        ),
    )
    clock = FakeClock(datetime.now(UTC))
    changes = Changes()
    service = LantaiService(settings, facility, clock, extra_listeners=[changes])
    stream = Stream(broker, facility, f"{unique_id}-pub")
    service.start(console=False)
    try:
        assert service.source.wait_connected(10)
        stream.round()
        wait_for(lambda: service.ingest.stats.stored == stream.sent, 20, "the first round")
        space_runs_low(service, small_disk)
        the_disk_fills_up(service, small_disk, stream, clock, changes)
        the_space_comes_back(service, small_disk, stream, clock, fake_influx)
    finally:
        service.stop()
    assert drain_session(broker.host, broker.port, unique_id) == 0


def space_runs_low(service: LantaiService, disk: Path) -> None:
    """1. Below min_free_disk_mb: the store's own alarm says how much is left."""
    assert service.influx_health is not None
    fill(disk / "ballast-low", 2 * MB)
    wait_for(lambda: service.influx is not None and service.influx.state().disk_low, 10, "")
    service.influx_health.check()  # the service's 30 s timer, now
    low = alarm_state(service, "influx_spool:yunxi")
    assert low is not None
    assert low.state.active
    assert "MB free on the store's disk" in low.message_en
    assert "存储所在磁盘剩余" in low.message_zh


def the_disk_fills_up(
    service: LantaiService, disk: Path, stream: Stream, clock: FakeClock, changes: Changes
) -> None:
    """2. Full: SQLite cannot write, nothing is acknowledged, the alarms still come."""
    before = service.ingest.stats.stored
    fill(disk / "ballast-full", 0)
    for _ in range(20):  # enough new readings to need new pages of the WAL
        stream.round()
        if service.ingest.store_failing:
            break
    wait_for(lambda: service.ingest.store_failing, 20, "the store to fail on the full disk")
    # SQLite's own words, not a follow-on error of the rollback.
    assert "database or disk is full" in (service.ingest.stats.last_error or "")
    publish_all(stream.host, stream.port, [SMOKE], f"{stream.client_id}-smoke")
    wait_for(lambda: FIRE in changes.raised, 10, "the fire alarm on a full disk")
    problems = service.health()["problems"]
    assert isinstance(problems, list)
    assert "store_write_failing" in problems
    # The rules hold the silence timers and, past 30 s, say why once per site.
    service.rules.tick()
    clock.advance(31)
    service.rules.tick()
    assert "monitoring_degraded:yunxi" in changes.raised
    assert not [k for k in changes.raised if k.startswith("sensor_silent:")]
    # At most the round that found the last free page was written; the rest waits.
    assert service.ingest.stats.stored <= before + len(stream.sensors)
    assert service.ingest.stats.write_retries >= 1


def the_space_comes_back(
    service: LantaiService, disk: Path, stream: Stream, clock: FakeClock, influx: FakeInflux
) -> None:
    """3. The ballast goes: the broker's backlog is written and acknowledged, in order."""
    (disk / "ballast-full").unlink()
    (disk / "ballast-low").unlink()
    total = stream.sent + 1  # and the smoke reading
    wait_for(lambda: service.ingest.stats.stored == total, 60, "the backlog written")
    assert not service.ingest.store_failing
    assert stored_seqs(service) == list(range(stream.sent))
    assert len(service.readings.readings("yunxi", "b201-smoke1")) == 1
    clock.advance(5)
    service.rules.tick()
    degraded = alarm_state(service, "monitoring_degraded:yunxi")
    assert degraded is not None
    assert not degraded.state.active  # Lantai hears its sensors again
    # The forwarder, whose spool could not be written either, catches up too.
    wait_for(
        lambda: sum(1 for line in influx.accepted if line.startswith("reading,")) == total,
        30,
        "every reading in InfluxDB",
    )
    assert service.influx_health is not None
    service.influx_health.check()
    recovered = alarm_state(service, "influx_spool:yunxi")
    assert recovered is not None
    assert not recovered.state.active
