"""Line protocol as InfluxDB must receive it: tags from the facility, typed fields, escaping."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from collectors import influx_schema as schema
from collectors.influx_lines import MAX_NS, AlarmPoint, LineEncoder, escape_tag, quote_string
from sensors.clock import to_ns
from sensors.events import MetricSample
from sensors.facility import Facility
from sensors.payload import EARLIEST_TS, LATEST_TS

AT = datetime(2026, 3, 1, 8, 30, 15, 123456, tzinfo=UTC)
AT_NS = 1772353815123456000


@pytest.fixture
def encoder(facility: Facility) -> LineEncoder:
    return LineEncoder(facility)


def test_the_test_time_is_the_nanoseconds_it_claims() -> None:
    assert to_ns(AT) == AT_NS


def test_a_climate_reading_is_tagged_with_its_place_and_written_as_floats(
    encoder: LineEncoder,
) -> None:
    payload = '{"temperature": 19, "humidity": 50.5, "ts": "2026-03-01T08:30:15Z", "seq": 7}'
    line = encoder.reading("yunxi", "b201-th1", "B2-01", AT_NS, payload)
    assert line == (
        "reading,site=yunxi,building=main,floor=F2,room=B2-01,room_class=paper,"
        f"sensor=b201-th1,kind=climate temperature=19.0,humidity=50.5 {AT_NS}"
    )


def test_booleans_stay_booleans_and_door_and_badge_are_strings(encoder: LineEncoder) -> None:
    payload = '{"door": "open", "badge": "card \\"7\\" \\\\x", "granted": false, "forced": true}'
    line = encoder.reading("yunxi", "b201-door", "B2-01", AT_NS, payload)
    assert line == (
        "reading,site=yunxi,building=main,floor=F2,room=B2-01,room_class=paper,"
        'sensor=b201-door,kind=door door="open",badge="card \\"7\\" \\\\x",granted=false,'
        f"forced=true {AT_NS}"
    )
    smoke = encoder.reading("yunxi", "b201-smoke1", "B2-01", AT_NS, '{"smoke": true}')
    assert smoke is not None
    assert smoke.endswith(f"kind=smoke smoke=true {AT_NS}")


def test_a_heartbeat_without_measurements_makes_no_line(encoder: LineEncoder) -> None:
    assert encoder.reading("yunxi", "b201-smoke1", "B2-01", AT_NS, '{"seq": 3}') is None
    assert encoder.reading("yunxi", "b201-smoke1", "B2-01", AT_NS, '{"smoke": null}') is None


def test_unknown_keys_are_not_fields(encoder: LineEncoder) -> None:
    line = encoder.reading("yunxi", "b201-th1", "B2-01", AT_NS, '{"humidity": 40, "rssi": -70}')
    assert line is not None
    assert line.endswith(f" humidity=40.0 {AT_NS}")


def test_a_sensor_the_facility_no_longer_has_keeps_the_stored_tags(encoder: LineEncoder) -> None:
    line = encoder.reading("yunxi", "gone-1", "X-9", AT_NS, '{"temperature": 1.25}')
    assert line == f"reading,site=yunxi,room=X-9,sensor=gone-1 temperature=1.25 {AT_NS}"


def test_escaping_of_tags_and_strings() -> None:
    assert escape_tag("a b,c=d") == r"a\ b\,c\=d"
    assert escape_tag("two\nlines") == r"two\ lines"
    assert quote_string('say "hi" \\ now') == r'"say \"hi\" \\ now"'
    assert quote_string("one\ntwo") == '"one two"'


def test_room_metrics(encoder: LineEncoder) -> None:
    sample = MetricSample("yunxi", "B2-01", AT, (("dew_point", 8.5), ("pi", 45), ("emc", 9.1)))
    assert encoder.room_metrics(sample) == (
        "room_metrics,site=yunxi,building=main,floor=F2,room=B2-01,room_class=paper "
        f"dew_point=8.5,pi=45.0,emc=9.1 {AT_NS}"
    )
    assert encoder.room_metrics(MetricSample("yunxi", "B2-01", AT, ())) is None


def test_an_alarm_event_leaves_out_what_it_lacks(encoder: LineEncoder) -> None:
    point = AlarmPoint(
        at=AT,
        site="yunxi",
        room="B2-01",
        sensor="b201-smoke1",
        rule="fire",
        category="fire",
        severity="critical",
        change="raised",
        alarm_id=12,
        state="unacked",
        message_zh="B2-01 烟感报警",
        message_en='Smoke in "B2-01"',
        value="True",
    )
    assert encoder.alarm(point) == (
        "alarm_event,site=yunxi,room=B2-01,sensor=b201-smoke1,rule=fire,category=fire,"
        'severity=critical,change=raised alarm_id=12i,state="unacked",'
        'message_zh="B2-01 烟感报警",message_en="Smoke in \\"B2-01\\"",value="True" '
        f"{AT_NS}"
    )
    site_wide = AlarmPoint(
        at=AT,
        site="yunxi",
        room=None,
        sensor=None,
        rule="monitoring_degraded",
        category="system",
        severity="high",
        change="acked",
        alarm_id=3,
        state="acked",
        message_zh="监控降级",
        message_en="Monitoring degraded",
        by="wang",
    )
    assert encoder.alarm(site_wide) == (
        "alarm_event,site=yunxi,rule=monitoring_degraded,category=system,severity=high,"
        'change=acked alarm_id=3i,state="acked",message_zh="监控降级",'
        f'message_en="Monitoring degraded",by="wang" {AT_NS}'
    )


def test_system_samples_carry_the_family_and_sorted_labels(encoder: LineEncoder) -> None:
    samples = [
        schema.SystemSample(schema.SystemMetric.INGEST_STORED, (), 1500),
        schema.SystemSample(
            schema.SystemMetric.NOTIFICATIONS, (("outcome", "sent"), ("channel", "sms")), 3
        ),
        schema.SystemSample(schema.SystemMetric.INGEST_LAG_SECONDS, (), float("nan")),
    ]
    assert encoder.system(samples, AT) == [
        f"lantai_system,metric=ingest_stored_total value=1500.0 {AT_NS}",
        f"lantai_system,metric=notifications_total,channel=sms,outcome=sent value=3.0 {AT_NS}",
    ]


def test_every_sensor_time_the_payload_accepts_fits_influx_nanoseconds() -> None:
    # The payload refuses ts outside 2000-2100, well inside int64 ns (until 2262-04-11).
    assert 0 < to_ns(EARLIEST_TS) < to_ns(LATEST_TS) < MAX_NS


def test_a_time_past_2262_is_refused_with_a_clear_error(encoder: LineEncoder) -> None:
    with pytest.raises(ValueError, match="outside InfluxDB's range"):
        encoder.system([schema.SystemSample("x", (), 1.0)], datetime(2263, 1, 1, tzinfo=UTC))
    with pytest.raises(ValueError, match="outside InfluxDB's range"):
        encoder.reading("yunxi", "b201-th1", "B2-01", MAX_NS + 1, '{"humidity": 40}')
