"""Alarms that reach a person: incident timelines on a fake clock, with the real alarm
service, outbox and notifiers talking to a local Twilio stand-in and a real SMTP server.

The example archive's alerting file (alerts/example-alerting.yaml): on weekday nights li
is the guard on duty; chen is the shift supervisor, he the safety officer. Critical:
SMS to the guard at once (reminded every 5 min), a call after 2 min, chen by SMS and
call after 5, he by SMS, call and email after 10.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode
from xml.etree import ElementTree as ET

import httpx
import pytest
from twilio.request_validator import RequestValidator

from alerts.feed import AlarmFeed
from alerts.models import AlarmState
from alerts.notifiers.sms import SmsNotifier
from alerts.outbox import as_message
from collectors.sqlite_store import SqliteReadingStore
from console.app import create_app
from console.context import ConsoleContext
from sensors.clock import FakeClock
from sensors.events import Category, Severity
from sensors.facility import Facility
from tests.alarm_desk import Desk, Smtp, local_time, smtp_fixture  # noqa: F401
from tests.console_server import serve
from tests.fake_twilio import AUTH_TOKEN, PUBLIC_URL, FakeTwilio, fake_twilio_fixture, settings_for  # noqa: F401
from tests.postgres_server import postgres_url
from tests.test_alerts import pg_schema  # noqa: F401 - a fixture

FIRE = "fire:yunxi:B2-01"
LI, CHEN, ZHAO = "+8613800000002", "+8613800000004", "+8613800000003"


@pytest.fixture
def desk(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    facility: Facility,
    fake_twilio: FakeTwilio,
    smtp: Smtp,
) -> Iterator[Desk]:
    """On SQLite; a test parametrised indirectly with "postgresql" gets a fresh schema."""
    backend = getattr(request, "param", "sqlite")
    url = None if backend == "sqlite" else postgres_url(request.getfixturevalue("pg_schema"))
    # Tuesday 24 November 2026, 02:05 in Yunxi: Monday's night shift (li) is on duty.
    clock = FakeClock(local_time(facility, "2026-11-24 02:05"))
    opened = Desk.open(tmp_path, facility, clock, fake_twilio, smtp, url=url)
    yield opened
    opened.close()


@contextmanager
def console(desk: Desk, tmp_path: Path) -> Iterator[str]:
    """The console's real HTTP server, acting through the desk's alarm service."""
    readings = SqliteReadingStore(tmp_path / "readings.db")
    readings.start()
    ctx = ConsoleContext(
        facility=desk.facility,
        readings=readings,
        alarms=desk.service_store(),
        feed=AlarmFeed(),
        health=dict,
        clock=desk.clock,
        actions=desk.service,
        routing=desk.routing,
        twilio=settings_for(desk.twilio),
    )
    try:
        with serve(create_app(ctx)) as url:
            yield url
    finally:
        readings.stop()


def twilio_post(
    base: str, path: str, params: dict[str, str], *, sign: bool = True
) -> httpx.Response:
    """POST as Twilio does: form-encoded, signed over the public URL it was given."""
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if sign:
        headers["X-Twilio-Signature"] = RequestValidator(AUTH_TOKEN).compute_signature(
            PUBLIC_URL + path, params
        )
    return httpx.post(base + path, content=urlencode(params), headers=headers, timeout=10)


def said(twiml: str) -> str:
    return " ".join(s.text or "" for s in ET.fromstring(twiml).iter("Say"))


def test_a_night_fire_walks_the_chain_until_a_keypress_acknowledges_it(
    desk: Desk, tmp_path: Path
) -> None:
    desk.fire()  # 02:05:00 smoke in B2-01
    sms = desk.twilio_posts("Messages")
    assert sms == [
        {
            "To": LI,
            "From": settings_for(desk.twilio).from_number,
            "Body": "兰台紧急#1 云溪市档案馆：B2-01 烟感 b201-smoke1 报火警 02:05。回复1确认",
            "StatusCallback": f"{PUBLIC_URL}/api/twilio/status/1",
        }
    ]
    assert len(sms[0]["Body"]) <= 70  # one UCS-2 segment

    desk.wait(minutes=2)  # nobody answers: the guard's phone rings
    (call,) = desk.twilio_posts("Calls")
    assert call["To"] == LI
    assert "报火警" in said(call["Twiml"])
    gather = ET.fromstring(call["Twiml"]).find("Gather")
    assert gather is not None
    assert gather.get("action") == f"{PUBLIC_URL}/api/twilio/voice/2/keypress"

    desk.wait(minutes=3, seconds=30)  # 02:10:30: the supervisor is called and texted
    assert desk.log() == [
        ("02:05:00", "sms", "li", "sent"),
        ("02:07:00", "voice", "li", "sent"),
        ("02:10:00", "sms", "chen", "sent"),
        ("02:10:00", "voice", "chen", "sent"),
        ("02:10:00", "sms", "li", "sent"),  # the guard's 5-minute reminder
    ]
    messages = desk.service_store().messages(1)
    chen_call = next(r for r in messages if r.who == "chen" and r.channel == "voice")

    with console(desk, tmp_path) as url:
        path = f"/api/twilio/voice/{chen_call.id}/keypress"
        params = {"CallSid": chen_call.provider_id or "", "Digits": "1", "From": "+15005550006"}
        answer = twilio_post(url, path, params)
        assert answer.status_code == 200
        assert "已确认 #1" in said(answer.text)
        # Twilio retries a webhook it got no answer for: the retry acts no more.
        again = twilio_post(url, path, params)
        assert said(again.text) == said(answer.text)

    desk.service.outbox.deliver_due()  # the worker, woken by the acknowledgement
    fire = desk.alarm(FIRE)
    assert (fire.state, fire.acked_by) == (AlarmState.ACKED, "chen")
    desk.wait(minutes=10)  # past the safety officer's step: nobody else is called
    assert [line for line in desk.log() if line[2] == "he"] == []
    # The guard, already called, is told who took it (pain point 8).
    standdown = desk.log(kind="acked")
    assert standdown == [("02:10:30", "sms", "li", "sent")]
    assert desk.twilio_posts("Messages")[-1]["Body"].startswith("兰台#1 已由陈主任确认（电话）")
    timeline = [(e.action, e.by, e.via) for e in desk.service_store().timeline(fire.id)]
    assert ("acked", "chen", "voice") in timeline


def test_an_sms_reply_acknowledges_and_unsigned_requests_are_refused(
    desk: Desk, tmp_path: Path
) -> None:
    desk.fire()
    with console(desk, tmp_path) as url:
        forged = twilio_post(url, "/api/twilio/sms", {"From": LI, "Body": "1"}, sign=False)
        assert forged.status_code == 403
        assert desk.alarm(FIRE).state is AlarmState.UNACKED

        unknown = {"From": "+8613999999999", "Body": "确认", "MessageSid": "SMx1"}
        stranger = twilio_post(url, "/api/twilio/sms", unknown)
        assert "未登记" in stranger.text

        params = {"From": LI, "Body": "确认 1", "MessageSid": "SMr1"}
        reply = twilio_post(url, "/api/twilio/sms", params)
        assert reply.status_code == 200
        assert reply.headers["content-type"].startswith("application/xml")
        assert ET.fromstring(reply.text).findtext("Message") == "已确认 #1，共1条报警。谢谢。"

    fire = desk.alarm(FIRE)
    assert (fire.state, fire.acked_by) == (AlarmState.ACKED, "li")
    desk.wait(minutes=15)
    assert desk.log() == [("02:05:00", "sms", "li", "sent")]  # the chain stopped at once


def test_a_flood_of_fifty_alarms_makes_a_handful_of_notifications(desk: Desk) -> None:
    rooms = [room for (site, room) in desk.facility.rooms if site == "yunxi"]
    # A switch in the sensor network fails: 50 sensors fall silent within 2 minutes.
    sensors = [
        (sensor, info.room)
        for (site, sensor), info in desk.facility.sensors.items()
        if site == "yunxi"
    ]
    for n in range(50):
        sensor, room = sensors[n % len(sensors)]
        desk.report(
            f"sensor_silent:yunxi:{sensor}:{n}",
            room=room,
            sensor=sensor,
            severity=Severity.LOW,
            category=Category.TROUBLE,
            zh=f"{room} 传感器 {sensor} 失联",
            en=f"Sensor {sensor} in {room} is silent",
        )
        desk.wait(seconds=2)
    desk.wait(minutes=15)
    messages = desk.log()
    assert len(messages) <= 3, messages
    assert messages == [("02:07:20", "sms", "li", "sent")]
    (summary,) = [p["Body"] for p in desk.twilio_posts("Messages")]
    assert summary.startswith("兰台报警洪泛#")
    assert "50条" in summary
    assert len(rooms) >= 2


def test_an_sms_outage_falls_back_to_a_call_and_loses_nothing(desk: Desk) -> None:
    desk.twilio.outage("Messages")  # Twilio's messaging answers 503; calls still work
    desk.fire()  # 02:05:00
    desk.wait(minutes=1)  # three SMS attempts with backoff, then the guard's phone rings
    store = desk.service_store()
    first, fallback = store.messages(1)[:2]
    assert (first.channel, first.state, first.attempts) == ("sms", "failed", 3)
    assert "HTTP 503" in (first.last_error or "")
    assert (fallback.channel, fallback.who, fallback.state) == ("voice", "li", "sent")
    assert fallback.fallback_of == first.id
    assert desk.twilio_posts("Calls")[0]["To"] == LI
    # The desk sees that SMS is failing (and that alarm's own SMS falls back too).
    failing = desk.alarm("notification_failing:yunxi:sms")
    assert failing.state is AlarmState.UNACKED
    assert "短信无法发送" in failing.message_zh

    desk.wait(minutes=3)  # 02:09: messaging is restored
    desk.twilio.restore()
    desk.wait(minutes=2)  # 02:11: the supervisor's SMS gets through again
    assert ("02:10:00", "sms", "chen", "sent") in desk.log()
    assert desk.alarm("notification_failing:yunxi:sms").state is AlarmState.RTN_UNACKED
    # Nothing lost: every alarm message left, or failed and was carried by a fallback.
    rows = [r for n in (1, 2) for r in store.messages(n) if r.kind == "alarm"]
    carried = {r.fallback_of for r in rows if r.state == "sent"}
    for row in rows:
        assert row.state == "sent" or (row.state == "failed" and row.id in carried), row


# The outbox across a crash is where the database matters: on both.
@pytest.mark.parametrize("desk", ["sqlite", "postgresql"], indirect=True)
def test_a_restart_mid_escalation_resumes_where_it_was(desk: Desk) -> None:
    desk.fire()
    desk.wait(minutes=3)  # SMS at 02:05, call at 02:07
    before = desk.log()
    desk.restart()  # Lantai is killed and started again at 02:08
    desk.wait(minutes=3)
    assert desk.log() == [
        *before,
        ("02:10:00", "sms", "chen", "sent"),
        ("02:10:00", "voice", "chen", "sent"),
        ("02:10:00", "sms", "li", "sent"),
    ]
    assert len(desk.twilio_posts("Messages")) == 3  # nothing twice


@pytest.mark.parametrize("desk", ["sqlite", "postgresql"], indirect=True)
def test_a_crash_between_sending_and_recording_sends_nothing_twice(desk: Desk) -> None:
    # Lantai dies right after Twilio accepted the fire's SMS, before the outbox recorded it.
    _crash_after_send(desk)
    assert len(desk.twilio_posts("Messages")) == 1
    desk.restart()
    assert len(desk.twilio_posts("Messages")) == 1  # Twilio was asked, not told again
    assert desk.log() == [("02:05:00", "sms", "li", "sent")]


def _crash_after_send(desk: Desk) -> None:
    """Queue the fire's SMS, claim it, hand it to Twilio, and never record the outcome."""
    outbox = desk.service.outbox
    wake = outbox.deliver_due
    outbox.deliver_due = lambda: 0  # type: ignore[method-assign]  # the worker is "dead"
    try:
        desk.fire()
    finally:
        outbox.deliver_due = wake  # type: ignore[method-assign]
    (row,) = outbox._claim()
    SmsNotifier(settings_for(desk.twilio)).send(as_message(row))
