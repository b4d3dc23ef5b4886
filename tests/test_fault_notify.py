"""Faults: the notification provider failing, from the Twilio stand-in over real HTTP.

What tests/test_scenarios_alarms.py already proves (not repeated here): a 503 outage of
SMS falls back to a call after three attempts and raises "notification failing", which
clears when SMS works again, and every alarm message is sent or carried by its fallback;
a crash between Twilio's acceptance and the outbox's record sends nothing twice (the
outbox asks Twilio first). tests/test_twilio_notifiers.py proves which answers are worth
retrying (5xx, 429/20429, timeouts, no connection) and which fail for good.

Added here, on the example alerting file with the real outbox:

* a 500 then success: retried after the backoff, sent once;
* 429 twice: retried on the outbox's backoff (a Retry-After is not visible through
  the twilio library), sent once;
* a request that timed out on our side but that Twilio accepted: the retry asks Twilio
  before sending, so the guard gets one SMS, not two;
* Twilio down altogether (SMS and calls): every alarm message ends sent (by email, the
  last channel) or failed with its fallback recorded, and the desk is told.

Requests are counted at the stand-in per recipient: that is what a phone would receive.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import tests.alarm_desk
from alerts.models import AlarmState
from alerts.notifiers import DeliveryError
from alerts.notifiers.sms import SmsNotifier
from alerts.notifiers.twilio_account import make_twilio_client
from sensors.clock import FakeClock
from sensors.facility import Facility
from tests.alarm_desk import Desk, Smtp, local_time, smtp_fixture  # noqa: F401
from tests.fake_twilio import FakeTwilio, fake_twilio_fixture, settings_for  # noqa: F401
from tests.mqtt_helpers import wait_for
from tests.test_twilio_notifiers import message, refused_url

LI, CHEN = "+8613800000002", "+8613800000004"
# Our side gives up on a request after this long; the stand-in then answers after it.
CLIENT_TIMEOUT_S = 0.3


@pytest.fixture
def desk(
    tmp_path: Path,
    facility: Facility,
    fake_twilio: FakeTwilio,
    smtp: Smtp,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Desk]:
    # A short client timeout, so a slow Twilio costs the test a fraction of a second.
    def quick(fake: FakeTwilio, **overrides: Any) -> Any:
        return settings_for(fake, **({"timeout_s": CLIENT_TIMEOUT_S} | overrides))

    monkeypatch.setattr(tests.alarm_desk, "settings_for", quick)
    # Tuesday 24 November 2026, 02:05 in Yunxi: Monday's night shift (li) is on duty.
    clock = FakeClock(local_time(facility, "2026-11-24 02:05"))
    opened = Desk.open(tmp_path, facility, clock, fake_twilio, smtp)
    yield opened
    opened.close()


def sms_to(desk: Desk, number: str) -> int:
    """SMS requests Twilio received for ``number`` (accepted or not)."""
    return sum(1 for form in desk.twilio_posts("Messages") if form["To"] == number)


def messages_at_twilio(desk: Desk, number: str) -> int:
    """SMS Twilio holds as created for ``number``, asked through its list API."""
    client = make_twilio_client(settings_for(desk.twilio))
    return len(client.messages.list(to=number))


def test_a_500_is_retried_after_the_backoff_and_the_sms_goes_once(desk: Desk) -> None:
    desk.twilio.fail_next(status=500, code=20500)
    desk.fire()  # 02:05:00 the first attempt gets Twilio's 500
    first = desk.service_store().messages(1)[0]
    assert (first.state, first.attempts) == ("pending", 1)
    assert "HTTP 500" in (first.last_error or "")
    desk.wait(seconds=20)  # the retry is due about 10 s later (±20 % jitter)
    assert desk.log()[0] == ("02:05:10", "sms", "li", "sent")
    assert sms_to(desk, LI) == 2  # the refused request and the one that went
    assert messages_at_twilio(desk, LI) == 1
    assert desk.twilio_posts("Calls") == []  # no fallback was needed


def test_two_429s_are_retried_on_the_backoff_and_the_sms_goes_once(desk: Desk) -> None:
    # Twilio's 429 (error 20429, too many requests). The twilio library does not hand
    # on the answer's headers, so a Retry-After is not seen: the outbox's own backoff
    # (10 s, doubling, ±20 %) paces the retries.
    desk.twilio.fail_next(2, status=429, code=20429, message="Too Many Requests")
    desk.fire()
    desk.wait(seconds=40)
    store = desk.service_store()
    first = store.messages(1)[0]
    assert (first.channel, first.state, first.attempts) == ("sms", "sent", 3)
    assert sms_to(desk, LI) == 3
    assert messages_at_twilio(desk, LI) == 1
    assert desk.twilio_posts("Calls") == []


def test_a_timed_out_request_that_twilio_accepted_is_not_sent_again(desk: Desk) -> None:
    # Twilio takes the SMS but answers after our client has given up on the request.
    desk.twilio.delay_next(CLIENT_TIMEOUT_S * 4)
    desk.fire()  # 02:05:00: the attempt times out
    first = desk.service_store().messages(1)[0]
    assert (first.state, first.attempts) == ("pending", 1)
    assert "cannot reach Twilio" in (first.last_error or "")
    # Twilio created the message (the phone rings with it) after we stopped listening.
    wait_for(lambda: messages_at_twilio(desk, LI) == 1, 10, "Twilio to take the SMS")

    desk.wait(minutes=1)  # the retry is due: Twilio is asked before anything is sent
    assert sms_to(desk, LI) == 1  # one SMS to the guard, not two
    assert messages_at_twilio(desk, LI) == 1
    sent = desk.service_store().messages(1)[0]
    assert sent.state == "sent"
    assert (sent.provider_id or "").startswith("SM")  # the SID Twilio gave the first
    assert desk.twilio_posts("Calls") == []  # and it did not fall back to a call either


def test_twilio_down_altogether_loses_no_alarm_message(desk: Desk) -> None:
    desk.twilio.outage("Messages", status=500, code=20500)
    desk.twilio.outage("Calls", status=500, code=20500)
    desk.fire()  # 02:05:00
    desk.wait(minutes=15)  # every step of the critical policy is due by 02:15
    store = desk.service_store()
    rows = [r for r in store.messages(1) if r.kind == "alarm"]
    # Each SMS and call that ended was tried three times (the example's delivery section).
    for row in rows:
        if row.channel in {"sms", "voice"} and row.state != "pending":
            assert (row.state, row.attempts) == ("failed", 3), row
    # Nothing lost: for every step and reminder, each person it names got it by email
    # (the chain's last channel) or is still being tried, except the guard li, who has
    # no email: his chain ends failed, and the desk's own alarm below is about that.
    reached: dict[tuple[str, str], set[str]] = {}
    for row in rows:
        step = "/".join(row.dedup_key.split("/")[:4])
        reached.setdefault((step, row.who), set()).add(row.state)
    for (step, who), states in reached.items():
        if who != "li":
            assert "sent" in states or "pending" in states, (step, who, states)
    # Nothing twice: one email per person and step, however many channels failed first.
    emails = [("/".join(r.dedup_key.split("/")[:4]), r.who) for r in rows if r.channel == "email"]
    assert sorted(emails) == [("1/1/2/0", "chen"), ("1/1/3/0", "he")]
    assert all(r.state == "sent" for r in rows if r.channel == "email")
    for channel in ("sms", "voice"):
        failing = desk.alarm(f"notification_failing:yunxi:{channel}")
        assert failing.state is AlarmState.UNACKED
    # No phone got anything twice: Twilio created nothing at all.
    assert messages_at_twilio(desk, LI) == 0
    assert messages_at_twilio(desk, CHEN) == 0


def test_only_a_request_that_may_have_arrived_is_checked_before_a_resend(
    fake_twilio: FakeTwilio,
) -> None:
    # Refused: the request never left, so a resend needs no question to Twilio first.
    refused = settings_for(fake_twilio, api_base_url=refused_url())
    with pytest.raises(DeliveryError) as never_left:
        SmsNotifier(refused).send(message())
    assert never_left.value.maybe_sent is False
    # Timed out waiting for the answer: Twilio may have taken it.
    fake_twilio.delay_next(CLIENT_TIMEOUT_S * 4)
    with pytest.raises(DeliveryError, match="ReadTimeout") as no_answer:
        SmsNotifier(settings_for(fake_twilio, timeout_s=CLIENT_TIMEOUT_S)).send(message())
    assert no_answer.value.maybe_sent is True
    assert no_answer.value.retryable is True
