"""What a message says (``alerts.messages.render``), per kind, channel and language.

The expected texts are written out by hand. An SMS must fit one segment: 70 UCS-2
characters when it holds Chinese, 160 GSM-7 characters in English, and a character
outside GSM-7's basic set would turn an English SMS into UCS-2 (70) without warning.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from alerts.messages import SMS_SEGMENT, Brief, render
from alerts.models import Alarm, AlarmState, Via
from alerts.notifiers import Channel, Language, MessageKind
from sensors.events import Category, Severity
from sensors.facility import Facility, load_facility

T0 = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
LANGUAGES: tuple[Language, ...] = ("zh-CN", "en")

# GSM 03.38's basic character set (the escape and extension table left out: an
# extension character costs two of the 160).
GSM7 = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)


def temperature(alarm_id: int = 3, *, at: datetime = T0, en: str | None = None) -> Alarm:
    return Alarm(
        id=alarm_id,
        key="temperature_limits:yunxi:b201-th1",
        rule="temperature_limits",
        category=Category.CLIMATE,
        severity=Severity.MEDIUM,
        state=AlarmState.UNACKED,
        site="yunxi",
        room="B2-01",
        sensor="b201-th1",
        message_zh="B2-01 温度 24.1 °C，高于上限 24 °C",
        message_en=en or "Temperature 24.1 °C in B2-01, above the limit of 24 °C",
        raised_at=at,
        last_at=at,
        cleared_at=None,
        count=1,
        last_value="24.1",
        incident_id=57,
    )


def smoke(at: datetime = T0) -> Alarm:
    return Alarm(
        id=4,
        key="fire:yunxi:B2-01",
        rule="fire",
        category=Category.FIRE,
        severity=Severity.CRITICAL,
        state=AlarmState.UNACKED,
        site="yunxi",
        room="B2-01",
        sensor="b201-smoke1",
        message_zh="B2-01 火警：烟感 b201-smoke1 报警",
        message_en="Fire alarm in B2-01: smoke detector b201-smoke1",
        raised_at=at,
        last_at=at,
        cleared_at=None,
        count=1,
        last_value="smoke",
        incident_id=57,
    )


def brief(headline: Alarm, *, alarms: int = 1, rooms: int = 1, flood: bool = False) -> Brief:
    return Brief(
        incident_id=57,
        site=headline.site,
        room=None if flood else headline.room,
        severity=headline.severity,
        headline=headline,
        alarms=alarms,
        rooms=rooms,
        flood=flood,
        at=headline.raised_at,
        acked_by="Morgan Lee",
        acked_via=Via.CONSOLE,
    )


def fits_one_segment(text: str, language: Language) -> bool:
    if language == "en":
        return set(text) <= GSM7 and len(text) <= SMS_SEGMENT["en"]
    return len(text) <= SMS_SEGMENT["zh-CN"]


@pytest.fixture(scope="module")
def london(tmp_path_factory: pytest.TempPathFactory) -> Facility:
    """A site on British time, to see local times follow the site's zone."""
    path = tmp_path_factory.mktemp("facility") / "site.yaml"
    path.write_text(
        "sites:\n"
        "  - id: kew\n"
        "    name: {zh: 邱园档案馆, en: Kew Records}\n"
        "    timezone: Europe/London\n"
        "    buildings:\n"
        "      - id: main\n"
        "        name: {zh: 主楼, en: Main}\n"
        "        floors:\n"
        "          - id: G\n"
        "            name: {zh: 一层, en: Ground}\n"
        "            rooms:\n"
        "              - {id: R1, name: {zh: 一号库, en: Strongroom 1}, class: paper}\n",
        encoding="utf-8",
    )
    return load_facility(path)


# --- every kind, channel and language --------------------------------------------------------

COMBINATIONS = list(itertools.product(MessageKind, Channel, LANGUAGES))


@pytest.mark.parametrize(
    ("kind", "channel", "language"),
    [pytest.param(*c, id=f"{c[0]}-{c[1]}-{c[2]}") for c in COMBINATIONS],
)
def test_every_message_names_the_code_in_the_recipients_language(
    kind: MessageKind, channel: Channel, language: Language, facility: Facility
) -> None:
    text = render(brief(smoke(), alarms=2), kind, channel, language, facility)
    zh = language == "zh-CN"
    assert "#57" in text.subject
    assert "#57" in text.text or (channel is Channel.VOICE and "5 7" in text.text)
    assert text.subject.startswith("[兰台]" if zh else "[Lantai]")
    assert ("兰台" in text.text) is zh
    assert ("Lantai" in text.text) is not zh
    alarm_text = smoke().message_zh if zh else smoke().message_en
    assert alarm_text in text.text
    if channel is Channel.SMS:
        assert fits_one_segment(text.text, language), (len(text.text), text.text)
    assert text.data["incident"] == 57
    assert text.data["severity"] == "critical"


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        (
            "zh-CN",
            "兰台紧急#57 云溪市档案馆：B2-01 火警：烟感 b201-smoke1 报警 10:00。回复1确认",
        ),
        (
            "en",
            (
                "Lantai CRITICAL #57 Yunxi Municipal Archives: "
                "Fire alarm in B2-01: smoke detector b201-smoke1 at 10:00. Reply 1 to ack"
            ),
        ),
    ],
)
def test_an_alarm_sms(language: Language, expected: str, facility: Facility) -> None:
    text = render(brief(smoke()), MessageKind.ALARM, Channel.SMS, language, facility)
    assert text.text == expected


@pytest.mark.parametrize(
    ("language", "subject"),
    [
        ("zh-CN", "[兰台][紧急] #57 云溪市档案馆 B2-01"),
        ("en", "[Lantai][CRITICAL] #57 Yunxi Municipal Archives B2-01"),
    ],
)
def test_an_alarm_subject(language: Language, subject: str, facility: Facility) -> None:
    assert render(brief(smoke()), MessageKind.ALARM, Channel.EMAIL, language, facility).subject == (
        subject
    )


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        (
            "zh-CN",
            "兰台一般#57 云溪市档案馆：B2-01 温度 24.1 °C，高于上限 24 °C等3条 10:00。回复1确认",
        ),
        (
            "en",
            (
                "Lantai MEDIUM #57 Yunxi Municipal Archives: "
                "Temperature 24.1 C in B2-01, above the limit of 24 C (+2 more) at 10:00. "
                "Reply 1 to ack"
            ),
        ),
    ],
)
def test_an_sms_counts_the_other_alarms_of_the_incident(
    language: Language, expected: str, facility: Facility
) -> None:
    text = render(
        brief(temperature(), alarms=3), MessageKind.ALARM, Channel.SMS, language, facility
    )
    assert text.text == expected


def test_an_english_sms_is_pure_gsm7_without_the_degree_sign(facility: Facility) -> None:
    text = render(brief(temperature()), MessageKind.ALARM, Channel.SMS, "en", facility).text
    assert "°" not in text
    assert "Temperature 24.1 C in B2-01, above the limit of 24 C" in text
    assert set(text) <= GSM7
    # Other channels keep the unit as written.
    email = render(brief(temperature()), MessageKind.ALARM, Channel.EMAIL, "en", facility).text
    assert "24.1 °C" in email


def test_other_unicode_of_the_rules_is_replaced_in_an_english_sms(facility: Facility) -> None:
    alarm = temperature(en="PM2.5 80 µg/m³ in B2-01 – above 75 µg/m³ — check the filter…")
    text = render(brief(alarm), MessageKind.ALARM, Channel.SMS, "en", facility).text
    assert "PM2.5 80 ug/m3 in B2-01 - above 75 ug/m3 - check the filter..." in text
    assert set(text) <= GSM7


@pytest.mark.parametrize("kind", list(MessageKind))
@pytest.mark.parametrize("language", LANGUAGES)
def test_an_sms_stays_in_one_segment_whatever_the_alarm_text(
    kind: MessageKind, language: Language, facility: Facility
) -> None:
    long_zh = "B2-01 相对湿度持续升高，" * 20
    long_en = "Relative humidity keeps rising in B2-01 near the north wall, " * 10
    alarm = replace(temperature(), message_zh=long_zh, message_en=long_en)
    for flood in (False, True):
        text = render(
            brief(alarm, alarms=12 if flood else 3, rooms=4 if flood else 1, flood=flood),
            kind,
            Channel.SMS,
            language,
            facility,
        ).text
        assert fits_one_segment(text, language), (len(text), text)
        assert "#57" in text


@pytest.mark.parametrize(
    ("language", "ending", "ellipsis"),
    [("zh-CN", " 10:00。回复1确认", "…"), ("en", " at 10:00. Reply 1 to ack", "...")],
)
def test_truncation_cuts_the_alarm_text_never_the_code_or_the_ack(
    language: Language, ending: str, ellipsis: str, facility: Facility
) -> None:
    alarm = replace(
        temperature(),
        message_zh="B2-01 相对湿度持续升高，" * 20,
        message_en="Relative humidity keeps rising in B2-01 near the north wall, " * 10,
    )
    text = render(brief(alarm), MessageKind.ALARM, Channel.SMS, language, facility).text
    assert len(text) == SMS_SEGMENT[language]  # filled to the last character
    assert text.endswith(ellipsis + ending)
    assert text.startswith("兰台一般#57 " if language == "zh-CN" else "Lantai MEDIUM #57 ")


@pytest.mark.parametrize(
    ("language", "ack"),
    [("zh-CN", "请接听电话或在值班台确认"), ("en", "Ack by phone or console")],
)
def test_an_sms_to_a_number_that_cannot_reply_asks_for_the_call_or_console(
    language: Language, ack: str, facility: Facility
) -> None:
    text = render(
        brief(smoke()), MessageKind.ALARM, Channel.SMS, language, facility, sms_reply=False
    ).text
    assert text.endswith(f"10:00{'。' if language == 'zh-CN' else '. '}{ack}")
    assert "回复1" not in text
    assert "Reply 1" not in text


# --- local time ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raised", "shown"),
    [
        (datetime(2026, 1, 5, 2, 0, tzinfo=UTC), "10:00"),
        (datetime(2026, 1, 5, 16, 30, tzinfo=UTC), "00:30"),  # the next day in Shanghai
    ],
)
def test_the_time_is_the_sites_local_time(raised: datetime, shown: str, facility: Facility) -> None:
    for language in LANGUAGES:
        text = render(brief(smoke(raised)), MessageKind.ALARM, Channel.SMS, language, facility)
        assert f" {shown}" in text.text
        assert raised.strftime("%H:%M") not in text.text


@pytest.mark.parametrize(
    ("raised", "shown"),
    [
        (datetime(2026, 1, 5, 2, 0, tzinfo=UTC), "02:00"),  # GMT
        (datetime(2026, 7, 6, 2, 0, tzinfo=UTC), "03:00"),  # BST
    ],
)
def test_the_time_follows_a_site_in_another_zone(
    raised: datetime, shown: str, london: Facility
) -> None:
    alarm = replace(smoke(raised), site="kew", room="R1")
    text = render(brief(alarm), MessageKind.ALARM, Channel.SMS, "en", london).text
    assert text == (
        "Lantai CRITICAL #57 Kew Records: Fire alarm in B2-01: smoke detector b201-smoke1 "
        f"at {shown}. Reply 1 to ack"
    )


# --- flood summary ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "channel", "expected"),
    [
        (
            "zh-CN",
            Channel.SMS,
            (
                "兰台报警洪泛#57 云溪市档案馆：12条/4库房，最高紧急："
                "B2-01 火警：烟感 b201-smoke1 报警 10:00。回复1确认"
            ),
        ),
        (
            "en",
            Channel.SMS,
            (
                "Lantai FLOOD #57 Yunxi Municipal Archives: 12 alarms in 4 rooms, worst CRITICAL: "
                "Fire alarm in B2-01: smoke detector b201-smoke1 at 10:00. Reply 1 to ack"
            ),
        ),
        (
            "en",
            Channel.EMAIL,
            (
                "Lantai FLOOD #57 Yunxi Municipal Archives: 12 alarms in 4 rooms, worst CRITICAL: "
                "Fire alarm in B2-01: smoke detector b201-smoke1 at 10:00. "
                "Acknowledge in the console or reply to the SMS"
            ),
        ),
    ],
)
def test_a_flood_summary(
    language: Language, channel: Channel, expected: str, facility: Facility
) -> None:
    text = render(
        brief(smoke(), alarms=12, rooms=4, flood=True),
        MessageKind.ALARM,
        channel,
        language,
        facility,
    )
    assert text.text == expected
    assert "more" not in text.text  # the counts are in the head, not "(+11 more)"
    assert text.data["flood"] is True
    assert (text.data["alarms"], text.data["rooms"], text.data["room"]) == (12, 4, None)


@pytest.mark.parametrize(
    ("language", "subject"),
    [
        ("zh-CN", "[兰台] 报警洪泛 #57 云溪市档案馆"),
        ("en", "[Lantai] Alarm flood #57 Yunxi Municipal Archives"),
    ],
)
def test_a_flood_subject(language: Language, subject: str, facility: Facility) -> None:
    flood = brief(smoke(), alarms=12, rooms=4, flood=True)
    assert render(flood, MessageKind.ALARM, Channel.EMAIL, language, facility).subject == subject


# --- voice, email, stand-downs ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        (
            "zh-CN",
            (
                "这里是兰台报警，编号 5 7。兰台紧急 云溪市档案馆："
                "B2-01 火警：烟感 b201-smoke1 报警 10:00。"
            ),
        ),
        (
            "en",
            (
                "This is a Lantai alarm, number 5 7. Lantai CRITICAL Yunxi Municipal Archives: "
                "Fire alarm in B2-01: smoke detector b201-smoke1 at 10:00."
            ),
        ),
    ],
)
def test_the_voice_text_reads_the_code_digit_by_digit_and_leaves_the_keys_to_the_call(
    language: Language, expected: str, facility: Facility
) -> None:
    text = render(brief(smoke()), MessageKind.ALARM, Channel.VOICE, language, facility).text
    assert text == expected
    assert "回复" not in text
    assert "reply" not in text.lower()


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_voice_text_says_the_code_only_digit_by_digit(
    language: Language, facility: Facility
) -> None:
    text = render(brief(smoke()), MessageKind.ALARM, Channel.VOICE, language, facility).text
    assert "5 7" in text
    assert "57" not in text


@pytest.mark.parametrize("kind", list(MessageKind))
@pytest.mark.parametrize("language", LANGUAGES)
def test_the_email_never_says_reply_1(
    kind: MessageKind, language: Language, facility: Facility
) -> None:
    text = render(brief(smoke()), kind, Channel.EMAIL, language, facility).text
    assert "回复1" not in text
    assert "reply 1" not in text.lower()


@pytest.mark.parametrize(
    ("language", "channel", "expected"),
    [
        (
            "zh-CN",
            Channel.SMS,
            "兰台#57 已由Morgan Lee确认（值班台）：B2-01 火警：烟感 b201-smoke1 报警",
        ),
        (
            "en",
            Channel.SMS,
            (
                "Lantai #57 acknowledged by Morgan Lee (console): "
                "Fire alarm in B2-01: smoke detector b201-smoke1"
            ),
        ),
    ],
)
def test_a_stand_down_names_who_took_it_and_how(
    language: Language, channel: Channel, expected: str, facility: Facility
) -> None:
    assert render(brief(smoke()), MessageKind.ACKED, channel, language, facility).text == expected


@pytest.mark.parametrize(
    ("via", "zh", "en"),
    [
        (Via.SMS, "短信", "sms"),
        (Via.VOICE, "电话", "voice"),
        (Via.CONSOLE, "值班台", "console"),
        (Via.API, "接口", "api"),
    ],
)
def test_the_stand_down_names_the_way_it_was_acknowledged(
    via: Via, zh: str, en: str, facility: Facility
) -> None:
    acked = replace(brief(smoke()), acked_via=via)
    assert f"确认（{zh}）" in render(acked, MessageKind.ACKED, Channel.SMS, "zh-CN", facility).text
    assert f"({en}):" in render(acked, MessageKind.ACKED, Channel.SMS, "en", facility).text


def test_an_english_stand_down_naming_a_chinese_acker_fits_one_segment(
    facility: Facility,
) -> None:
    acked = replace(brief(temperature()), acked_by="王建国", acked_via=Via.SMS)
    text = render(acked, MessageKind.ACKED, Channel.SMS, "en", facility).text
    limit = SMS_SEGMENT["en"] if set(text) <= GSM7 else SMS_SEGMENT["zh-CN"]
    assert len(text) <= limit, (len(text), text)


@pytest.mark.parametrize(
    ("language", "expected", "subject"),
    [
        ("zh-CN", "兰台#57 已恢复正常：B2-01 温度 24.1 °C，高于上限 24 °C", "[兰台] #57 已恢复"),
        (
            "en",
            "Lantai #57 back to normal: Temperature 24.1 C in B2-01, above the limit of 24 C",
            "[Lantai] #57 back to normal",
        ),
    ],
)
def test_a_cleared_message(
    language: Language, expected: str, subject: str, facility: Facility
) -> None:
    text = render(brief(temperature()), MessageKind.CLEARED, Channel.SMS, language, facility)
    assert (text.text, text.subject) == (expected, subject)


def test_the_webhook_data_describes_the_headline_alarm(facility: Facility) -> None:
    text = render(brief(smoke(), alarms=2), MessageKind.ALARM, Channel.WEBHOOK, "en", facility)
    assert text.data == {
        "incident": 57,
        "site": "yunxi",
        "room": "B2-01",
        "severity": "critical",
        "flood": False,
        "alarms": 2,
        "rooms": 1,
        "headline": {
            "alarm": 4,
            "rule": "fire",
            "sensor": "b201-smoke1",
            "room": "B2-01",
            "message_zh": "B2-01 火警：烟感 b201-smoke1 报警",
            "message_en": "Fire alarm in B2-01: smoke detector b201-smoke1",
            "raised_at": "2026-01-05T02:00:00+00:00",
        },
        "acked_by": "Morgan Lee",
    }


def test_an_unknown_site_is_named_by_its_id_and_its_time_left_in_utc(
    facility: Facility,
) -> None:
    alarm = replace(smoke(), site="elsewhere")
    text = render(brief(alarm), MessageKind.ALARM, Channel.SMS, "en", facility).text
    assert text.startswith("Lantai CRITICAL #57 elsewhere: ")
    assert " at 02:00. " in text
