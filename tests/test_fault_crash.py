"""kill -9 of ``lantai run`` in the middle of an incident, then a restart: nothing lost,
nothing twice.

A real ``lantai run`` on the wall clock, a real Mosquitto, a webhook receiver over real
HTTP. When the process is killed there is, at once:

- a QoS 1 stream of readings, four sensors every 0.1 s, part of it not yet stored;
- a pending alarm: r3-th1's battery has been low since T0, and its rule waits 30 s;
- an escalation under way: r2-th1's battery alarm (high) was sent to the webhook by the
  policy's first step at T0; the second step is due at T0 + 20 s;
- an inspection timer: a template that opens a task every minute, with a reminder.

After the restart every acknowledged reading is stored once; the pending alarm is raised
at T0 + 30 s (not lost, not started over at the restart, not raised twice); the second
step reaches the webhook once; every minute's task exists once. Takes ~50 s.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lantai.broker import MosquittoBroker
from tests.faults import (
    SITE,
    WEBHOOK_ID,
    AlarmRow,
    LantaiProcess,
    SensorStream,
    WebhookRecorder,
    alarms,
    outbox_keys,
    rule_state,
    stored_count,
    tally,
    tasks,
    write_site,
)
from tests.mqtt_helpers import wait_for

pytestmark = pytest.mark.integration

RULES = """
rules:
  # r2-th1: raised at once, severity high: the two-step policy below.
  - {id: battery_low, type: threshold, scope: {room: R2}, field: battery,
     raise_below: 20, clear_above: 25, severity: high}
  # r3-th1: raised only after 30 s below the limit: pending when the process is killed.
  - {id: battery_low, type: threshold, scope: {room: R3}, field: battery,
     raise_below: 20, clear_above: 25, for: 30s, severity: medium}
"""
ALERTING = f"""
policies:
  - id: urgent
    severities: [critical, high]
    steps:
      - {{after: 0s, notify: [{{webhook: {WEBHOOK_ID}}}], channels: [console]}}
      - {{after: 20s, notify: [{{webhook: {WEBHOOK_ID}}}], channels: [console]}}
  - id: routine
    severities: [medium]
    steps:
      - {{after: 0s, notify: [{{webhook: {WEBHOOK_ID}}}], channels: [console]}}
"""
INSPECTIONS = """
templates:
  - id: minute-round
    title: {zh: 每分钟巡查, en: Round every minute}
    cadence: cron
    cron: "* * * * *"
    duration: 1m
    scope: site
    role: guard
    remind_before: 30s
    overdue_severity: low
    items:
      - key: looked
        label: {zh: 已巡查, en: Walked round}
"""
LOW = {"r2-th1", "r3-th1"}
PENDING_KEY = f"battery_low:{SITE}:r3-th1"
DELAY = timedelta(seconds=30)
SECOND_STEP = timedelta(seconds=20)


def _values(sensor: str, _at: datetime) -> Mapping[str, float]:
    return {"temperature": 19.5, "humidity": 50.0, "battery": 15.0 if sensor in LOW else 90.0}


def _alarm(state_db: Path, sensor: str) -> list[AlarmRow]:
    return [a for a in alarms(state_db, "battery_low") if a.sensor == sensor]


def test_kill_9_mid_incident_then_restart(  # noqa: PLR0915 - one timeline, told in order
    fresh_broker: MosquittoBroker, tmp_path: Path
) -> None:
    hook = WebhookRecorder().start()
    site = write_site(
        tmp_path / "site",
        fresh_broker,
        client_id="fault-crash",
        rules=RULES,
        alerting=ALERTING,
        inspections=INSPECTIONS,
        webhook_url=hook.url,
    )
    lantai = LantaiProcess(site).start()
    stream = SensorStream(fresh_broker, "fault-crash-sensors", period=0.1, values=_values)
    try:
        wait_for(lantai.healthy, 60, "lantai run to connect")
        started = datetime.now(UTC)
        stream.start()
        wait_for(lambda: len(_alarm(site.state_db, "r2-th1")) == 1, 20, "r2-th1's alarm")
        (urgent,) = _alarm(site.state_db, "r2-th1")
        assert urgent.incident_id is not None
        incident = urgent.incident_id
        wait_for(lambda: len(hook.for_incident(incident)) == 1, 20, "the first step")

        def pending_saved() -> bool:
            state = rule_state(site.state_db, PENDING_KEY)
            return state is not None and state.get("pending_since") is not None

        # The engine saves its states every 10 s: kill after the pending delay was saved
        # (a kill before that loses at most those 10 s of rule state, by design).
        wait_for(pending_saved, 20, "r3-th1's pending delay to be saved")
        saved = rule_state(site.state_db, PENDING_KEY)
        assert saved is not None
        t0 = datetime.fromisoformat(str(saved["pending_since"]))
        killed = datetime.now(UTC)
        stored_at_kill = stored_count(site.readings_db)
        lantai.kill_9()
        # The moment proves something: mid-stream, the delay running, step 2 not yet due.
        assert killed - t0 < SECOND_STEP - timedelta(seconds=3), killed - t0
        assert _alarm(site.state_db, "r3-th1") == []
        assert len(hook.for_incident(incident)) == 1

        lantai.start()
        wait_for(lantai.healthy, 60, "lantai run to come back")
        back = datetime.now(UTC)
        wait_for(lambda: len(_alarm(site.state_db, "r3-th1")) == 1, 30, "the pending alarm")
        wait_for(lambda: len(hook.for_incident(incident)) >= 2, 30, "the second step")
        # Stream on past the second step, so that a repeat of anything would show.
        rest = t0 + DELAY + timedelta(seconds=8) - datetime.now(UTC)
        time.sleep(max(0.0, rest.total_seconds()))
        stream.stop()
        published = stream.published()
        wait_for(lambda: stored_count(site.readings_db) >= len(published), 30, "every reading")
        time.sleep(2)  # a duplicate post or alarm would come now
        ended = datetime.now(UTC)
        assert lantai.stop() == 0
    finally:
        lantai.close()
        stream.stop(drain_s=0)
        hook.stop()

    # 1. Every acknowledged reading stored exactly once.
    counted = tally(published, site.readings_db)
    print(
        f"killed {killed - t0} after T0, back {back - killed} later; "
        f"stored at kill {stored_at_kill}; {counted}"
    )
    assert stored_at_kill < counted.published, "the kill came after the stream was stored"
    assert (counted.missing, counted.unexpected, counted.duplicates) == (0, 0, 0), counted
    assert counted.stored == counted.published

    # 2. The pending alarm fired at its due time, T0 + 30 s, once: the restored delay, not
    # one started over by the first reading after the restart (that would be >= kill + 30 s).
    (pending,) = _alarm(site.state_db, "r3-th1")
    assert pending.times_raised == 1
    # (If the restart took past T0 + 30 s, at the first sweep after it.)
    due_at = max(t0 + DELAY, back)
    assert t0 + DELAY <= pending.raised_at < due_at + timedelta(seconds=3), pending.raised_at - t0
    assert pending.raised_at < killed + DELAY
    assert pending.incident_id is not None
    assert len(hook.for_incident(pending.incident_id)) == 1

    # 3. The escalation resumed: step 2 sent once, after the restart, at T0 + 20 s or
    # (if Lantai was still down then) as soon as it was back; every post is an outbox row,
    # posted once.
    (still,) = _alarm(site.state_db, "r2-th1")
    assert still.times_raised == 1
    posts = hook.for_incident(incident)
    rows = outbox_keys(site.state_db, incident)
    steps = sorted(key.split("/")[2] for key in rows.values())
    assert steps == ["0", "1"], rows
    assert Counter(p.delivery for p in posts) == Counter(dict.fromkeys(rows, 1)), posts
    second = next(p for p in posts if rows[p.delivery].split("/")[2] == "1")
    assert second.at >= max(back, t0 + SECOND_STEP)

    # 4. Every minute's task exists once, and no reminder was raised twice. (The minute
    # boundaries the run spans are those of the wall clock: 1 or 2 in ~50 s.)
    found = tasks(site.state_db, "minute-round")
    windows = [w for _, w, _ in found]
    assert len(windows) == len(set(windows)), found
    minute = timedelta(minutes=1)
    first = started.replace(second=0, microsecond=0) + minute
    # A task appears within a second or two of its minute: boundaries 5 s before the end.
    # None when the run spans no boundary (floor division: a negative span is no minute).
    settled = ended - timedelta(seconds=5)
    due = [first + i * minute for i in range((settled - first) // minute + 1)]
    assert set(due) <= set(windows), (due, found)
    reminders = alarms(site.state_db, "inspection_due")
    assert len({a.key for a in reminders}) == len(reminders), reminders
    assert all(a.times_raised == 1 for a in reminders), reminders
    print(
        f"tasks {len(found)} (windows opened in the run: {len(due)}), "
        f"reminders {len(reminders)}; started {started:%H:%M:%S}, killed {killed:%H:%M:%S}, "
        f"back {back:%H:%M:%S}, ended {ended:%H:%M:%S}"
    )
