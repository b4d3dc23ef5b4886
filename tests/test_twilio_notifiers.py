"""The Twilio channels against a fake api.twilio.com over real HTTP, and the webhook helpers."""

from __future__ import annotations

import base64
import logging
import re
import socket
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import SecretStr, ValidationError
from twilio.request_validator import RequestValidator

from alerts.notifiers import Channel, DeliveryError, Message, MessageKind, Notifier
from alerts.notifiers.sms import SmsNotifier
from alerts.notifiers.twilio_account import (
    TwilioSettings,
    keypress_url,
    make_twilio_client,
    sms_reply_url,
    status_url,
)
from alerts.notifiers.voice import MAX_TWIML_CHARS, VOICES, VoiceNotifier, voice_twiml
from alerts.twilio_inbound import (
    Keypress,
    Reply,
    messaging_reply,
    parse_keypress,
    parse_reply,
    signature_valid,
    voice_reply,
)
from tests.fake_twilio import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    FROM_NUMBER,
    PUBLIC_URL,
    FakeTwilio,
    fake_twilio_fixture,  # noqa: F401  (registers the fake_twilio fixture)
    settings_for,
)

TO = "+8613800138000"
OTHER = "+8613900139000"
T0 = datetime(2025, 3, 14, 2, 30, 15, tzinfo=UTC)
ZH_ALARM = "这里是兰台报警，编号 5 7。兰台严重#57 云溪市档案馆：B2-03 烟雾报警 02:30。"
EN_ALARM = "This is a Lantai alarm, number 5 7. Lantai CRITICAL #57: smoke in B2-03 at 02:30."


def message(
    *,
    channel: Channel = Channel.SMS,
    kind: MessageKind = MessageKind.ALARM,
    text: str = "兰台严重#57 云溪市档案馆：B2-03 烟雾报警 02:30。回复1确认",
    address: str = TO,
    language: str = "zh-CN",
    outbox_id: int = 41,
) -> Message:
    return Message(
        outbox_id=outbox_id,
        channel=channel,
        kind=kind,
        address=address,
        language="en" if language == "en" else "zh-CN",
        subject="[兰台][严重] #57 云溪市档案馆 B2-03",
        text=text,
        incident_id=57,
        code="57",
        created_at=T0,
    )


def parse_twiml(twiml: str) -> ET.Element:
    return ET.fromstring(twiml)  # our own TwiML, not untrusted input


def refused_url() -> str:
    """A local URL where nothing listens: the port was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# -- settings ------------------------------------------------------------------------------


def test_settings_take_a_valid_account(fake_twilio: FakeTwilio) -> None:
    settings = settings_for(fake_twilio)
    assert settings.account_sid == ACCOUNT_SID
    assert settings.auth_token.get_secret_value() == AUTH_TOKEN
    assert TwilioSettings.model_fields["api_base_url"].default == "https://api.twilio.com"


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("account_sid", "SK" + "0" * 32, "must be AC followed by 32 hex digits"),
        ("account_sid", "AC123", "must be AC followed by 32 hex digits"),
        ("auth_token", SecretStr(" "), "must not be empty"),
        ("from_number", "13800138000", "is not an E.164 number"),
        ("from_number", "+86 138 0013 8000", "is not an E.164 number"),
        ("public_url", "http://lantai.example.org", "is not an https URL"),
        ("public_url", "https://lantai.example.org/", "leave out the trailing slash"),
        ("public_url", "https://lantai.example.org?x=1", "no query or fragment"),
        ("api_base_url", "ftp://proxy.example", "is not an https or http URL"),
        ("timeout_s", 0, "greater than 0"),
    ],
)
def test_settings_refuse(fake_twilio: FakeTwilio, field: str, value: object, error: str) -> None:
    with pytest.raises(ValidationError, match=error) as caught:
        settings_for(fake_twilio, **{field: value})
    assert caught.value.errors()[0]["loc"] == (field,)


def test_the_auth_token_never_shows(fake_twilio: FakeTwilio) -> None:
    settings = settings_for(fake_twilio)
    for shown in (
        repr(settings),
        str(settings),
        settings.model_dump_json(),
        str(settings.auth_token),
    ):
        assert AUTH_TOKEN not in shown
    assert AUTH_TOKEN not in repr(SmsNotifier(settings)) + repr(VoiceNotifier(settings))
    # A misspelt key would carry the token into the validation error, and so into a log.
    with pytest.raises(ValidationError) as caught:
        TwilioSettings.model_validate(
            {
                "account_sid": ACCOUNT_SID,
                "authtoken": AUTH_TOKEN,
                "auth_token": AUTH_TOKEN,
                "from_number": FROM_NUMBER,
                "public_url": PUBLIC_URL,
            }
        )
    assert "authtoken" in str(caught.value)
    assert AUTH_TOKEN not in str(caught.value)


def test_webhook_urls_are_fixed_paths_under_the_public_url(fake_twilio: FakeTwilio) -> None:
    settings = settings_for(fake_twilio)
    assert sms_reply_url(settings) == "https://lantai.example.org/api/twilio/sms"
    assert keypress_url(settings, 41) == "https://lantai.example.org/api/twilio/voice/41/keypress"
    assert status_url(settings, 41) == "https://lantai.example.org/api/twilio/status/41"


def test_the_client_ignores_twilio_environment_variables(
    fake_twilio: FakeTwilio, monkeypatch: pytest.MonkeyPatch
) -> None:
    # TWILIO_REGION would send requests to api.ie1.twilio.com; the settings decide alone.
    monkeypatch.setenv("TWILIO_REGION", "ie1")
    monkeypatch.setenv("TWILIO_EDGE", "dublin")
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC" + "f" * 32)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "from-the-environment")
    client = make_twilio_client(settings_for(fake_twilio))
    assert SmsNotifier(settings_for(fake_twilio), client).send(message()) is not None
    assert fake_twilio.requests[-1].basic_auth() == (ACCOUNT_SID, AUTH_TOKEN)


def test_both_notifiers_are_notifiers(fake_twilio: FakeTwilio) -> None:
    settings = settings_for(fake_twilio)
    notifiers: list[Notifier] = [SmsNotifier(settings), VoiceNotifier(settings)]
    assert [(n.channel, n.can_confirm) for n in notifiers] == [
        (Channel.SMS, True),
        (Channel.VOICE, True),
    ]


# -- SMS ---------------------------------------------------------------------------------


def test_sms_posts_exactly_these_fields(fake_twilio: FakeTwilio) -> None:
    sms = message()
    sid = SmsNotifier(settings_for(fake_twilio)).send(sms)

    assert sid is not None
    assert sid.startswith("SM")
    assert len(sid) == 34
    [request] = fake_twilio.requests
    assert request.method == "POST"
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert request.form == {
        "To": TO,
        "From": FROM_NUMBER,
        "Body": sms.text,
        "StatusCallback": "https://lantai.example.org/api/twilio/status/41",
    }
    assert request.basic_auth() == (ACCOUNT_SID, AUTH_TOKEN)
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"


def test_each_sms_gets_its_own_sid(fake_twilio: FakeTwilio) -> None:
    sms = SmsNotifier(settings_for(fake_twilio))
    assert sms.send(message(outbox_id=1)) != sms.send(message(outbox_id=2))


@pytest.mark.parametrize(
    ("status", "code", "retryable"),
    [
        (500, 20500, True),  # Twilio's internal error
        (503, 20503, True),  # unavailable
        (429, 20429, True),  # too many requests
        (400, 21211, False),  # invalid 'To' number
        (400, 21610, False),  # the recipient replied STOP
        (400, 21614, False),  # not a mobile number
        (400, 21611, False),  # the sender's queue is full: fall back now, do not wait
        (401, 20003, False),  # wrong credentials
        (404, 20404, False),  # no such account
    ],
)
def test_sms_errors_say_whether_to_retry(
    fake_twilio: FakeTwilio, status: int, code: int, retryable: bool
) -> None:
    fake_twilio.fail_next(status=status, code=code, message="The Twilio explanation")
    with pytest.raises(DeliveryError) as caught:
        SmsNotifier(settings_for(fake_twilio)).send(message())
    assert caught.value.retryable is retryable
    assert caught.value.reason == (
        f"SMS to {TO}: Twilio answered HTTP {status}, error {code}: "
        "Unable to create record: The Twilio explanation"
    )


def test_errors_in_the_rfc_9457_shape_are_understood(fake_twilio: FakeTwilio) -> None:
    fake_twilio.fail_next(status=400, code=21211, message="Invalid 'To' Phone Number", problem=True)
    with pytest.raises(DeliveryError) as caught:
        SmsNotifier(settings_for(fake_twilio)).send(message())
    assert caught.value.retryable is False
    assert caught.value.reason == (
        f"SMS to {TO}: Twilio answered HTTP 400, error 21211: Invalid 'To' Phone Number"
    )


def test_a_proxy_error_page_is_worth_retrying(fake_twilio: FakeTwilio) -> None:
    fake_twilio.answer_next(502, "<html><body>Bad Gateway</body></html>")
    with pytest.raises(DeliveryError) as caught:
        SmsNotifier(settings_for(fake_twilio)).send(message())
    assert caught.value.retryable is True
    assert caught.value.reason == f"SMS to {TO}: Twilio answered HTTP 502: Unable to create record"


def test_an_unreadable_answer_is_worth_retrying(fake_twilio: FakeTwilio) -> None:
    fake_twilio.answer_next(200, "<html>Welcome to the hotel wifi</html>")
    with pytest.raises(DeliveryError, match="not JSON") as caught:
        SmsNotifier(settings_for(fake_twilio)).find_sent(message(), T0)
    assert caught.value.retryable is True


def test_an_unreachable_twilio_is_worth_retrying(fake_twilio: FakeTwilio) -> None:
    settings = settings_for(fake_twilio, api_base_url=refused_url())
    with pytest.raises(
        DeliveryError, match=f"SMS to {re.escape(TO)}: cannot reach Twilio"
    ) as caught:
        SmsNotifier(settings).send(message())
    assert caught.value.retryable is True
    assert caught.value.__cause__ is None  # a chained requests error would hold the token


def test_a_slow_twilio_times_out_and_is_worth_retrying(fake_twilio: FakeTwilio) -> None:
    fake_twilio.delay_next(1.0)
    with pytest.raises(DeliveryError, match="ReadTimeout") as caught:
        SmsNotifier(settings_for(fake_twilio, timeout_s=0.2)).send(message())
    assert caught.value.retryable is True


def test_wrong_credentials_fail_for_good_without_showing_the_token(
    fake_twilio: FakeTwilio, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = settings_for(fake_twilio, auth_token=SecretStr("wrong-" + AUTH_TOKEN))
    with pytest.raises(DeliveryError) as caught:
        SmsNotifier(settings).send(message())
    assert caught.value.retryable is False
    assert "HTTP 401, error 20003" in caught.value.reason
    assert AUTH_TOKEN not in str(caught.value) + repr(caught.value)
    assert AUTH_TOKEN not in caplog.text


def test_requests_and_errors_leave_no_secret_in_the_log(
    fake_twilio: FakeTwilio, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sms = SmsNotifier(settings_for(fake_twilio))
    sms.send(message())
    fake_twilio.fail_next(status=400, code=21211)
    with pytest.raises(DeliveryError) as caught:
        sms.send(message())
    basic = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    for text in (caplog.text, caught.value.reason, str(caught.value)):
        assert AUTH_TOKEN not in text
        assert basic not in text
    assert "Messages.json" in caplog.text  # twilio's own request log did run


def test_sms_find_sent_finds_the_message_that_left(fake_twilio: FakeTwilio) -> None:
    fake_twilio.now = lambda: T0
    sms = SmsNotifier(settings_for(fake_twilio))
    sid = sms.send(message())

    assert sms.find_sent(message(), T0 - timedelta(minutes=2)) == sid
    request = fake_twilio.requests[-1]
    assert request.method == "GET"
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert request.query == {
        "To": [TO],
        "From": [FROM_NUMBER],
        "DateSent>": ["2025-03-14"],
        "PageSize": ["200"],
    }


def test_sms_find_sent_ignores_other_texts_numbers_and_earlier_sends(
    fake_twilio: FakeTwilio,
) -> None:
    sms = message()
    since = T0 - timedelta(minutes=2)
    # Twilio's DateSent> filter is by day: these all pass it, and must be filtered here.
    fake_twilio.add_message(to=TO, body=sms.text, created=since - timedelta(seconds=1))
    fake_twilio.add_message(to=TO, body=sms.text + " ", created=T0)
    fake_twilio.add_message(to=OTHER, body=sms.text, created=T0)
    fake_twilio.add_message(to=TO, body=sms.text, created=T0, from_="+15005550001")
    assert SmsNotifier(settings_for(fake_twilio)).find_sent(sms, since) is None

    same_second = fake_twilio.add_message(to=TO, body=sms.text, created=since)
    assert SmsNotifier(settings_for(fake_twilio)).find_sent(sms, since + timedelta(0, 0, 5)) == (
        same_second
    )


def test_sms_find_sent_asks_by_the_utc_day(fake_twilio: FakeTwilio) -> None:
    # 07:00 in Beijing is 23:00 the day before in GMT, the day Twilio filters by.
    since = datetime(2025, 3, 15, 7, 0, tzinfo=timezone(timedelta(hours=8)))
    sid = fake_twilio.add_message(to=TO, body=message().text, created=since + timedelta(hours=1))
    assert SmsNotifier(settings_for(fake_twilio)).find_sent(message(), since) == sid
    assert fake_twilio.requests[-1].query["DateSent>"] == ["2025-03-14"]


def test_sms_find_sent_takes_naive_times_as_utc(fake_twilio: FakeTwilio) -> None:
    sid = fake_twilio.add_message(to=TO, body=message().text, created=T0)
    naive = T0.replace(tzinfo=None) - timedelta(minutes=1)
    assert SmsNotifier(settings_for(fake_twilio)).find_sent(message(), naive) == sid


def test_sms_find_sent_raises_when_twilio_cannot_be_asked(fake_twilio: FakeTwilio) -> None:
    fake_twilio.fail_next(status=503, code=20503)
    with pytest.raises(
        DeliveryError, match=rf"looking up SMS to {re.escape(TO)}: .*HTTP 503"
    ) as caught:
        SmsNotifier(settings_for(fake_twilio)).find_sent(message(), T0)
    assert caught.value.retryable is True


# -- voice -------------------------------------------------------------------------------


def test_an_alarm_call_posts_exactly_these_fields(fake_twilio: FakeTwilio) -> None:
    call = message(channel=Channel.VOICE, text=ZH_ALARM)
    sid = VoiceNotifier(settings_for(fake_twilio)).send(call)

    assert sid is not None
    assert sid.startswith("CA")
    [request] = fake_twilio.requests
    assert request.method == "POST"
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json"
    assert request.basic_auth() == (ACCOUNT_SID, AUTH_TOKEN)
    assert request.form == {
        "To": TO,
        "From": FROM_NUMBER,
        "Twiml": voice_twiml(call, "https://lantai.example.org/api/twilio/voice/41/keypress"),
        "StatusCallback": "https://lantai.example.org/api/twilio/status/41",
    }


def test_an_alarm_call_reads_twice_then_asks_for_a_key(fake_twilio: FakeTwilio) -> None:
    VoiceNotifier(settings_for(fake_twilio)).send(message(channel=Channel.VOICE, text=ZH_ALARM))
    root = parse_twiml(fake_twilio.requests[-1].form["Twiml"])

    assert root.tag == "Response"
    assert [child.tag for child in root] == ["Gather", "Say"]
    gather, goodbye = root
    assert gather.attrib == {
        "action": "https://lantai.example.org/api/twilio/voice/41/keypress",
        "input": "dtmf",
        "method": "POST",
        "numDigits": "1",
        "timeout": "10",
    }
    assert [(c.tag, c.text) for c in gather] == [
        ("Say", ZH_ALARM),
        ("Pause", None),
        ("Say", ZH_ALARM),
        ("Say", "确认请按1，立即上报请按2。"),
    ]
    assert gather[1].attrib == {"length": "1"}
    assert goodbye.text == "未收到按键，再见。"
    for say in root.iter("Say"):
        assert say.attrib == {"voice": "Polly.Zhiyu-Neural", "language": "cmn-CN"}


def test_an_english_alarm_call_speaks_english() -> None:
    root = parse_twiml(voice_twiml(message(text=EN_ALARM, language="en"), "https://x.test/k"))
    says = list(root.iter("Say"))
    assert [s.text for s in says] == [
        EN_ALARM,
        EN_ALARM,
        "Press 1 to acknowledge, 2 to escalate now.",
        "No key was pressed. Goodbye.",
    ]
    assert {(s.get("voice"), s.get("language")) for s in says} == {("Polly.Joanna-Neural", "en-US")}


@pytest.mark.parametrize("kind", [MessageKind.ACKED, MessageKind.CLEARED])
def test_other_calls_only_read_the_text_twice(kind: MessageKind) -> None:
    root = parse_twiml(voice_twiml(message(kind=kind, text="兰台#57 已由王明确认。"), "unused"))
    assert [(c.tag, c.text) for c in root] == [
        ("Say", "兰台#57 已由王明确认。"),
        ("Pause", None),
        ("Say", "兰台#57 已由王明确认。"),
    ]


def test_the_twiml_escapes_the_text() -> None:
    text = 'Smoke <B2-03> & "heat" > 60°C'
    root = parse_twiml(voice_twiml(message(text=text, language="en"), "https://x.test/k?a=1&b=2"))
    assert root[0][0].text == text
    assert root[0].get("action") == "https://x.test/k?a=1&b=2"


def test_every_language_has_a_voice() -> None:
    assert set(VOICES) == {"zh-CN", "en"}
    assert all(v.name.startswith("Polly.") for v in VOICES.values())


def test_a_call_too_long_for_twilio_fails_for_good_without_a_request(
    fake_twilio: FakeTwilio,
) -> None:
    long = message(channel=Channel.VOICE, text="烟" * (MAX_TWIML_CHARS // 2))
    with pytest.raises(DeliveryError, match=r"the TwiML is \d+ characters") as caught:
        VoiceNotifier(settings_for(fake_twilio)).send(long)
    assert caught.value.retryable is False
    assert fake_twilio.requests == []


@pytest.mark.parametrize(
    ("status", "code", "retryable"),
    [(500, 20500, True), (400, 21217, False), (400, 13224, False)],
)
def test_call_errors_say_whether_to_retry(
    fake_twilio: FakeTwilio, status: int, code: int, retryable: bool
) -> None:
    fake_twilio.fail_next(status=status, code=code)
    with pytest.raises(
        DeliveryError, match=f"call to {re.escape(TO)}: Twilio answered HTTP {status}"
    ) as c:
        VoiceNotifier(settings_for(fake_twilio)).send(message(channel=Channel.VOICE))
    assert c.value.retryable is retryable


def test_an_unreachable_twilio_is_worth_calling_again(fake_twilio: FakeTwilio) -> None:
    settings = settings_for(fake_twilio, api_base_url=refused_url())
    with pytest.raises(DeliveryError, match="cannot reach Twilio") as caught:
        VoiceNotifier(settings).send(message(channel=Channel.VOICE))
    assert caught.value.retryable is True


def test_voice_find_sent_returns_the_newest_call_since(fake_twilio: FakeTwilio) -> None:
    since = T0 - timedelta(minutes=2)
    fake_twilio.add_call(to=TO, created=since - timedelta(seconds=1))
    fake_twilio.add_call(to=OTHER, created=T0 + timedelta(seconds=30))
    first = fake_twilio.add_call(to=TO, created=since)
    newest = fake_twilio.add_call(to=TO, created=T0)
    voice = VoiceNotifier(settings_for(fake_twilio))
    call = message(channel=Channel.VOICE)

    assert voice.find_sent(call, since) == newest
    assert first != newest
    assert fake_twilio.requests[-1].query == {
        "To": [TO],
        "From": [FROM_NUMBER],
        "StartTime>": ["2025-03-14"],
        "PageSize": ["200"],
    }
    assert voice.find_sent(call, T0 + timedelta(seconds=1)) is None


def test_voice_find_sent_finds_a_call_it_placed(fake_twilio: FakeTwilio) -> None:
    fake_twilio.now = lambda: T0
    voice = VoiceNotifier(settings_for(fake_twilio))
    sid = voice.send(message(channel=Channel.VOICE))
    assert voice.find_sent(message(channel=Channel.VOICE), T0) == sid


def test_voice_find_sent_raises_when_twilio_cannot_be_asked(fake_twilio: FakeTwilio) -> None:
    fake_twilio.fail_next(status=401, code=20003, message="Authenticate")
    with pytest.raises(DeliveryError, match=r"HTTP 401, error 20003: .*Authenticate") as caught:
        VoiceNotifier(settings_for(fake_twilio)).find_sent(message(), T0)
    assert caught.value.retryable is False


# -- inbound webhooks ---------------------------------------------------------------------

SMS_FORM = {
    "MessageSid": "SM" + "1" * 32,
    "AccountSid": ACCOUNT_SID,
    "From": TO,
    "To": FROM_NUMBER,
    "Body": "确认 57",
    "NumMedia": "0",
}
SMS_URL = "https://lantai.example.org/api/twilio/sms"


def signed(url: str, params: dict[str, str], token: str = AUTH_TOKEN) -> str:
    return str(RequestValidator(token).compute_signature(url, params))


def test_a_twilio_signature_is_valid() -> None:
    assert signature_valid(SecretStr(AUTH_TOKEN), SMS_URL, SMS_FORM, signed(SMS_URL, SMS_FORM))


@pytest.mark.parametrize(
    ("url", "params"),
    [
        (SMS_URL, SMS_FORM | {"Body": "确认 58"}),  # a tampered field
        (SMS_URL, SMS_FORM | {"Extra": "1"}),  # an added field
        ("https://lantai.example.org/api/twilio/voice/41/keypress", SMS_FORM),  # another URL
        ("http://lantai.example.org/api/twilio/sms", SMS_FORM),  # another scheme
    ],
)
def test_a_signature_for_other_contents_is_invalid(url: str, params: dict[str, str]) -> None:
    signature = signed(SMS_URL, SMS_FORM)
    assert not signature_valid(SecretStr(AUTH_TOKEN), url, params, signature)


@pytest.mark.parametrize("signature", [None, ""])
def test_a_missing_signature_is_invalid(signature: str | None) -> None:
    assert not signature_valid(SecretStr(AUTH_TOKEN), SMS_URL, SMS_FORM, signature)


def test_a_signature_made_with_another_token_is_invalid() -> None:
    signature = signed(SMS_URL, SMS_FORM, "another-" + AUTH_TOKEN)
    assert not signature_valid(SecretStr(AUTH_TOKEN), SMS_URL, SMS_FORM, signature)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("1", Reply()),
        ("ACK", Reply()),
        ("ack", Reply()),
        ("Ack", Reply()),
        ("确认", Reply()),
        ("ACK 57", Reply("57")),
        ("ack57", Reply("57")),
        ("ACK#57", Reply("57")),
        ("ACK #57", Reply("57")),
        ("ack # 57", Reply("57")),
        ("确认 57", Reply("57")),
        ("确认57", Reply("57")),
        ("确认#57", Reply("57")),
        ("1 57", Reply("57")),
        ("1 #57", Reply("57")),
        ("1#57", Reply("57")),
        ("ACK 057", Reply("57")),  # leading zeros name the same alarm
        ("  ACK 57  ", Reply("57")),
        ("\n1\n", Reply()),
        ("1.", Reply()),
        ("ACK!", Reply()),
        ("确认。", Reply()),
        ("「确认」", Reply()),
        ("ACK 57.", Reply("57")),
        ("１", Reply()),  # full-width digit from a Chinese keyboard
        ("确认　５７", Reply("57")),  # full-width space and digits
        ("ＡＣＫ＃５７", Reply("57")),
        ("ACK", Reply(None)),
    ],
)
def test_replies_that_acknowledge(body: str, expected: Reply) -> None:
    assert parse_reply(body) == expected


@pytest.mark.parametrize(
    "body",
    [
        "",
        "   ",
        "OK",
        "ok 57",
        "12",  # reply 1 and code 2, or code 12 without the word? Neither: ask again.
        "157",
        "57",
        "2",  # escalating is the call's keypress, not an SMS reply
        "ACKNOWLEDGE?",
        "acknowledged",
        "ACK 57 please",
        "ACK 5 7",
        "ACK ACK",
        "1 2 3",
        "#57",
        "确认收到",  # natural, but longer than the word taught; see the module's docstring
        "收到",
        "不确认",
        "ACK " + "9" * 13,  # longer than any code
        "y",
    ],
)
def test_replies_that_do_not_acknowledge(body: str) -> None:
    assert parse_reply(body) is None


@pytest.mark.parametrize(
    ("digits", "expected"),
    [
        ("1", Keypress.ACK),
        ("2", Keypress.ESCALATE),
        (" 1 ", Keypress.ACK),
        ("3", None),
        ("#", None),
        ("12", None),
        ("", None),
        (None, None),
    ],
)
def test_keypresses(digits: str | None, expected: Keypress | None) -> None:
    assert parse_keypress(digits) is expected


def test_keypress_values_are_the_keys() -> None:
    assert [k.value for k in Keypress] == ["1", "2"]


def test_messaging_reply_is_one_sms() -> None:
    root = parse_twiml(messaging_reply("已确认 #57，共3条报警。谢谢。"))
    assert root.tag == "Response"
    assert [(c.tag, c.text) for c in root] == [("Message", "已确认 #57，共3条报警。谢谢。")]


@pytest.mark.parametrize(
    ("language", "voice", "code"),
    [("zh-CN", "Polly.Zhiyu-Neural", "cmn-CN"), ("en", "Polly.Joanna-Neural", "en-US")],
)
def test_voice_reply_says_then_hangs_up(language: str, voice: str, code: str) -> None:
    twiml = voice_reply("已确认 #57。", "en" if language == "en" else "zh-CN")
    root = parse_twiml(twiml)
    assert [(c.tag, c.text) for c in root] == [("Say", "已确认 #57。"), ("Hangup", None)]
    assert root[0].attrib == {"voice": voice, "language": code}
