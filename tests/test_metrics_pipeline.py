"""The numbers /metrics serves, after a real pipeline moved readings and raised an alarm.

The whole service (real Mosquitto, SQLite, the rules, the alarm and inspection services,
the console's HTTP server) on a fake clock; a Prometheus-like client scrapes with an API
token and parses the text with prometheus-client's own parser. Each number is checked
against what the part itself reports through another path (the stores' own queries).
The outbox's counters by channel and outcome are checked on the alarm desk, against a
local Twilio stand-in having an SMS outage.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from alerts.models import Via
from alerts.notifiers import Channel
from alerts.outbox import Outcome
from collectors.influx_schema import SYSTEM_METRICS
from collectors.mqtt_source import MqttSettings
from collectors.quarantine import Reason
from console.auth import Role
from console.metrics_route import CONTENT_TYPE, METRICS_PATH
from inspections.models import ItemKind, Result, TaskStatus
from lantai.broker import MosquittoBroker, free_port
from lantai.service import LantaiService
from lantai.settings import ConsoleSettings, LantaiSettings, StateSettings, StoreSettings
from sensors.clock import FakeClock
from sensors.events import AlarmEvent, Category, Severity, Transition
from sensors.facility import Facility, load_facility
from tests.alarm_desk import Desk, Smtp, local_time, smtp_fixture  # noqa: F401
from tests.conftest import EXAMPLE_SITE
from tests.fake_influx import FakeInflux
from tests.fake_twilio import FakeTwilio, fake_twilio_fixture  # noqa: F401
from tests.mqtt_helpers import publish_all, wait_for

SITE = "yunxi"
FIRE = "fire:yunxi:B2-01"
# Monday 09:00 in Yunxi: the day's patrols exist and their windows are open.
MONDAY_9 = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)

Scraped = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture
def service(broker: MosquittoBroker, tmp_path: Path, unique_id: str) -> Iterator[LantaiService]:
    settings = LantaiSettings(
        facility=EXAMPLE_SITE,
        mqtt=MqttSettings(host=broker.host, port=broker.port, client_id=unique_id),
        store=StoreSettings(readings_path=tmp_path / "readings.db"),
        state=StateSettings(url=f"sqlite:///{tmp_path / 'state.db'}"),
        console=ConsoleSettings(port=free_port()),
    )
    running = LantaiService(settings, load_facility(EXAMPLE_SITE), FakeClock(MONDAY_9))
    running.start()
    try:
        assert running.source.wait_connected(10)
        wait_for(running.console_started, 10, "the console")
        yield running
    finally:
        running.stop()


def scrape(service: LantaiService, token: str) -> Scraped:
    port = service.settings.console.port
    response = httpx.get(
        f"http://127.0.0.1:{port}{METRICS_PATH}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == CONTENT_TYPE
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def family(scraped: Scraped, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {labels: value for (n, labels), value in scraped.items() if n == name}


@pytest.mark.integration
def test_a_scrape_counts_what_the_pipeline_did(
    service: LantaiService, broker: MosquittoBroker, unique_id: str
) -> None:
    token = service.auth.tokens.create("prometheus", Role.VIEWER, [SITE], "test").secret
    clock = service.clock
    assert isinstance(clock, FakeClock)
    climate = b'{"temperature": 19.5, "humidity": 50.0}'
    messages = [
        ("archive/yunxi/B2-01/b201-th1", climate),
        ("archive/yunxi/B2-01/b201-th2", climate),
        ("archive/yunxi/B2-01/b201-th1", b"{not json"),
        ("archive/yunxi/B2-01/b201-nobody", climate),
        ("archive/yunxi/B2-01/b201-smoke1", b'{"smoke": true}'),
    ]
    publish_all(broker.host, broker.port, messages, f"{unique_id}-pub")
    wait_for(lambda: service.ingest.stats.received == 5, 20, "five messages")
    wait_for(lambda: service.ingest.stats.stored == 3, 20, "three readings stored")
    wait_for(lambda: service.alarm_store.active_keys() >= {FIRE}, 20, "the fire alarm")
    # Today's patrols, and one failed check: a hazard.
    service.inspections.tick()
    today = service.inspections.local_today(SITE)
    tasks = service.inspections.tasks_for_day(SITE, today)
    assert tasks, "the example templates plan patrols on a Monday"
    task = tasks[0]
    item = next(i for i in task.items if i.kind is ItemKind.CHECK)
    service.inspections.answer(
        task.id, item.key, Result.FAIL, None, "", "wang", clock.now(), f"{unique_id}-answer"
    )
    clock.advance(timedelta(seconds=30))

    scraped = scrape(service, token)

    assert scraped[("lantai_ingest_received_total", ())] == 5
    assert scraped[("lantai_ingest_stored_total", ())] == 3
    quarantined = family(scraped, "lantai_ingest_quarantined_total")
    assert quarantined == {
        **{(("reason", r.value),): 0.0 for r in Reason},
        (("reason", "not_json"),): 1.0,
        (("reason", "unknown_sensor"),): 1.0,
    }
    assert scraped[("lantai_ingest_backlog", ())] == 0
    assert scraped[("lantai_ingest_lag_seconds", ())] == 30.0  # the fake clock moved on
    assert scraped[("lantai_store_write_retries_total", ())] == 0
    assert scraped[("lantai_mqtt_connected", ())] == 1
    assert scraped[("lantai_rule_evaluations_total", ())] == service.rules.stats.evaluations
    assert service.rules.stats.evaluations > 0

    open_alarms = Counter((a.site, a.severity.value) for a in service.alarm_store.list())
    assert open_alarms[(SITE, Severity.CRITICAL.value)] >= 1
    assert family(scraped, "lantai_alarms_open") == {
        (("severity", s.value), ("site", SITE)): float(open_alarms[(SITE, s.value)])
        for s in Severity
    }
    # No alerting file: nobody to tell, no channel to count.
    assert family(scraped, "lantai_notifications_total") == {}
    assert scraped[("lantai_outbox_pending", ())] == 0

    statuses = Counter(t.status for t in tasks)
    assert family(scraped, "lantai_inspection_tasks") == {
        (("site", SITE), ("status", s.value)): float(statuses[s]) for s in TaskStatus
    }
    assert scraped[("lantai_hazards_open", (("site", SITE),))] == 1
    # Without InfluxDB, no spool and no writes to report.
    assert not any(name.startswith(("lantai_spool", "lantai_influx")) for name, _ in scraped)


@pytest.mark.integration
def test_an_acknowledged_and_cleared_alarm_is_no_longer_open(service: LantaiService) -> None:
    token = service.auth.tokens.create("prometheus", Role.VIEWER, [SITE], "test").secret
    now = service.clock.now()
    event = AlarmEvent(
        key="water:yunxi:B2-01",
        transition=Transition.RAISE,
        rule="water",
        category=Category.WATER,
        severity=Severity.CRITICAL,
        site=SITE,
        room="B2-01",
        sensor="b201-leak",
        at=now,
        message_zh="漏水",
        message_en="Water",
    )
    service.alarms.publish([event])
    open_critical = ("lantai_alarms_open", (("severity", "critical"), ("site", SITE)))
    assert scrape(service, token)[open_critical] == 1
    (alarm,) = service.alarm_store.list()
    service.alarms.ack(alarm.id, "wang", Via.CONSOLE, None)
    service.alarms.publish([replace(event, transition=Transition.CLEAR)])
    assert scrape(service, token)[open_critical] == 0  # a zero, not a vanished series


# -- notifications by channel and outcome ------------------------------------------------


@pytest.fixture
def desk(tmp_path: Path, facility: Facility, fake_twilio: FakeTwilio, smtp: Smtp) -> Desk:
    # Tuesday 02:05 in Yunxi: Monday's night shift (li) is on duty.
    clock = FakeClock(local_time(facility, "2026-11-24 02:05"))
    return Desk.open(tmp_path, facility, clock, fake_twilio, smtp)


def test_the_outbox_counts_each_attempt_by_channel_and_outcome(desk: Desk) -> None:
    desk.twilio.outage("Messages")  # SMS answers 503: retries, then a call instead
    desk.fire()
    desk.wait(minutes=1)
    outcomes = desk.service.outbox.outcomes()
    assert outcomes[Channel.SMS, Outcome.RETRY] >= 2
    assert outcomes[Channel.SMS, Outcome.FAILED] >= 1
    assert outcomes[Channel.VOICE, Outcome.SENT] >= 1
    assert Outcome.SENT not in {o for c, o in outcomes if c is Channel.SMS}
    # Every attempt the outbox table records is counted once, under its channel.
    rows = [r for n in (1, 2) for r in desk.service_store().messages(n)]
    for channel in Channel:
        attempts = sum(r.attempts for r in rows if r.channel == channel.value)
        assert sum(n for (c, _), n in outcomes.items() if c is channel) == attempts, channel

    # Twilio reports later that the call never got through.
    (call,) = [r for r in rows if r.channel == "voice" and r.state == "sent"]
    assert call.provider_id is not None
    assert desk.service.outbox.provider_status(call.provider_id, "failed", "busy")
    assert desk.service.outbox.outcomes()[Channel.VOICE, Outcome.UNDELIVERED] == 1


# -- the same samples in InfluxDB --------------------------------------------------------


@pytest.fixture
def influx() -> Iterator[FakeInflux]:
    server = FakeInflux().start()
    yield server
    server.stop()


@pytest.mark.integration
def test_the_samples_reach_influxdb_and_the_spool_families_appear(
    broker: MosquittoBroker, tmp_path: Path, unique_id: str, influx: FakeInflux
) -> None:
    settings = LantaiSettings(
        facility=EXAMPLE_SITE,
        mqtt=MqttSettings(host=broker.host, port=broker.port, client_id=unique_id),
        store=StoreSettings(readings_path=tmp_path / "readings.db"),
        state=StateSettings(url=f"sqlite:///{tmp_path / 'state.db'}"),
        console=ConsoleSettings(port=free_port()),
        influx=influx.settings(flush_interval_s=0.05),
    )
    clock = FakeClock(MONDAY_9)
    service = LantaiService(settings, load_facility(EXAMPLE_SITE), clock)
    service.start()
    try:
        assert service.source.wait_connected(10)
        wait_for(service.console_started, 10, "the console")
        token = service.auth.tokens.create("prometheus", Role.VIEWER, [SITE], "test").secret
        publish_all(
            broker.host,
            broker.port,
            [("archive/yunxi/B2-01/b201-smoke1", b'{"smoke": true}')],
            f"{unique_id}-pub",
        )
        wait_for(lambda: service.alarm_store.active_keys() >= {FIRE}, 20, "the fire alarm")

        service.forward_system_samples()  # the 15 s job's body, once
        ns = int(MONDAY_9.timestamp()) * 1_000_000_000
        expected = [
            f"lantai_system,metric=alarms_open,severity=critical,site=yunxi value=1.0 {ns}",
            f"lantai_system,metric=mqtt_connected value=1.0 {ns}",
            f"lantai_system,metric=hazards_open,site=yunxi value=0.0 {ns}",
        ]
        wait_for(lambda: set(expected) <= set(influx.accepted), 20, "the samples in InfluxDB")
        # Every line of the batch is a lantai_system point of a known family.
        system = [line for line in influx.accepted if line.startswith("lantai_system,")]
        families = {line.split(",")[1].split(" ")[0].removeprefix("metric=") for line in system}
        assert families <= set(SYSTEM_METRICS)

        # The fake records a write before it answers: wait for the answer to be counted.
        forwarder = service.influx
        assert forwarder is not None
        wait_for(lambda: forwarder.state().writes_ok >= 1, 10, "the write counted")
        wait_for(lambda: forwarder.state().depth == 0, 10, "the spool drained")
        scraped = scrape(service, token)
        assert scraped[("lantai_spool_depth", ())] == 0
        assert scraped[("lantai_spool_dropped_total", ())] == 0
        assert scraped[("lantai_influx_writes_total", (("outcome", "ok"),))] >= 1
        assert set(family(scraped, "lantai_influx_writes_total")) == {
            (("outcome", "ok"),),
            (("outcome", "retry"),),
            (("outcome", "failed"),),
        }
    finally:
        service.stop()
